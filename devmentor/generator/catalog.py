"""The generated course catalog: courses → modules → content items (one per format) and a question bank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from devmentor.ingest.contract import FORMATS


class Catalog:
    """Courses → modules → content items (one per format) and a question bank."""

    def __init__(self, rng: np.random.Generator, n_courses: int, n_modules: int):
        self.n_courses = n_courses
        self.n_modules = n_modules
        subjects = ("Python", "Data Analysis", "Web Development", "Machine Learning", "Databases", "Algorithms")
        self.course_ids = [f"C{c + 1:02d}" for c in range(n_courses)]
        self.course_titles = [subjects[c % len(subjects)] + (f" {c // len(subjects) + 1}" if c >= len(subjects) else "") for c in range(n_courses)]
        n_mod_total = n_courses * n_modules
        self.module_ids = [f"{self.course_ids[m // n_modules]}-M{m % n_modules + 1:02d}" for m in range(n_mod_total)]
        self.module_course = np.arange(n_mod_total) // n_modules
        # Two topics per module, two skills per course-half.
        self.topics_per_module = 2
        self.topic_ids = [f"{mid}-T{t + 1}" for mid in self.module_ids for t in range(self.topics_per_module)]
        self.topic_names = [
            f"{self.course_titles[m // n_modules].lower()} topic {m % n_modules + 1}.{t + 1}"
            for m in range(n_mod_total)
            for t in range(self.topics_per_module)
        ]
        self.skills_per_course = max(2, n_modules // 2)
        self.module_skill = np.array(
            [m // n_modules * self.skills_per_course + min(m % n_modules // 2, self.skills_per_course - 1) for m in range(n_mod_total)]
        )
        self.skill_ids = [f"{self.course_ids[s // self.skills_per_course]}-S{s % self.skills_per_course + 1}" for s in range(n_courses * self.skills_per_course)]
        # Content: 3 lessons × 3 formats per module.
        self.lessons_per_module = 3
        self.content_per_module = self.lessons_per_module * len(FORMATS)
        n_content = n_mod_total * self.content_per_module
        self.content_ids = [f"{self.module_ids[i // self.content_per_module]}-L{(i % self.content_per_module) // 3 + 1}-{FORMATS[i % 3][0].upper()}" for i in range(n_content)]
        self.content_difficulty = np.round(rng.uniform(0.2, 0.8, n_content), 2)
        # Questions: 12 per module.
        self.questions_per_module = 12
        n_q = n_mod_total * self.questions_per_module
        self.question_ids = [f"{self.module_ids[i // self.questions_per_module]}-Q{i % self.questions_per_module + 1:02d}" for i in range(n_q)]
        self.question_module = np.arange(n_q) // self.questions_per_module
        self.question_topic = self.question_module * self.topics_per_module + (np.arange(n_q) % self.topics_per_module)
        self.question_difficulty = np.round(np.clip(rng.beta(2.2, 2.2, n_q), 0.02, 0.98), 2)
        self.objective_ids = [f"{self.module_ids[i // self.questions_per_module]}-O{(i % self.questions_per_module) // 4 + 1}" for i in range(n_q)]

    def tables(self) -> dict[str, pa.Table]:
        n_mod_total = len(self.module_ids)
        courses = pa.table(
            {
                "course_id": self.course_ids,
                "title": self.course_titles,
                "subject": ["computing"] * self.n_courses,
                # Self-paced courses: no calendar, so no day N, no early warning and no outcomes (docs/models.md).
                "starts_at": pa.nulls(self.n_courses, pa.timestamp("us", tz="UTC")),
                "ends_at": pa.nulls(self.n_courses, pa.timestamp("us", tz="UTC")),
            }
        )
        modules = pa.table(
            {
                "module_id": self.module_ids,
                "course_id": [self.course_ids[c] for c in self.module_course],
                "position": [m % self.n_modules + 1 for m in range(n_mod_total)],
                "title": [f"Module {m % self.n_modules + 1}" for m in range(n_mod_total)],
                "prerequisites": [self.module_ids[m - 1] if m % self.n_modules else None for m in range(n_mod_total)],
            }
        )
        n_content = len(self.content_ids)
        cmod = np.arange(n_content) // self.content_per_module
        content = pa.table(
            {
                "content_id": self.content_ids,
                "module_id": [self.module_ids[m] for m in cmod],
                "course_id": [self.course_ids[self.module_course[m]] for m in cmod],
                "kind": ["lesson"] * n_content,
                "format": [FORMATS[i % 3] for i in range(n_content)],
                "topic_id": [self.topic_ids[m * self.topics_per_module + ((i % self.content_per_module) // 3) % self.topics_per_module] for i, m in enumerate(cmod)],
                "skill_tag": [self.skill_ids[self.module_skill[m]] for m in cmod],
                "difficulty": self.content_difficulty,
                "position": [(i % self.content_per_module) + 1 for i in range(n_content)],
            }
        )
        qm = self.question_module
        questions = pa.table(
            {
                "question_id": self.question_ids,
                "module_id": [self.module_ids[m] for m in qm],
                "course_id": [self.course_ids[self.module_course[m]] for m in qm],
                "topic_id": [self.topic_ids[t] for t in self.question_topic],
                "skill_tag": [self.skill_ids[self.module_skill[m]] for m in qm],
                "objective_tag": self.objective_ids,
                "difficulty": self.question_difficulty,
                "due_at": pa.nulls(len(self.question_ids), pa.timestamp("us", tz="UTC")),
                "weight": pa.nulls(len(self.question_ids), pa.float64()),
            }
        )
        return {"courses": courses, "modules": modules, "content_items": content, "questions": questions}


    def arrays(self) -> CatalogArrays:
        return CatalogArrays(
            module_ids=pa.array(self.module_ids), course_ids=pa.array(self.course_ids),
            content_ids=pa.array(self.content_ids), question_ids=pa.array(self.question_ids),
            topic_ids=pa.array(self.topic_ids), skill_ids=pa.array(self.skill_ids),
            objective_ids=pa.array(self.objective_ids), formats=pa.array(list(FORMATS)),
        )


@dataclass(frozen=True)
class CatalogArrays:
    """The catalog's ids as Arrow arrays, so generated rows take ids by index."""

    module_ids: pa.Array
    course_ids: pa.Array
    content_ids: pa.Array
    question_ids: pa.Array
    topic_ids: pa.Array
    skill_ids: pa.Array
    objective_ids: pa.Array
    formats: pa.Array
