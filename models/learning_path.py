"""Adaptive learning paths: mastery-based progression through each course's prerequisite graph.

A module is *mastered* when the learner has mastered every skill it teaches; it is
*open* when every prerequisite module is mastered (or it has none), and *locked*
otherwise. A learner's path through a course lists the modules not yet mastered in
prerequisite order (ties by catalog position): open modules first in line, locked
ones behind the prerequisites they wait for.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import polars as pl

from models.frames import sort_rows

ALGORITHM = "mastery-path-1"


class PrerequisiteCycle(ValueError):
    pass


def parse_prerequisites(value) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [p.strip() for p in str(value).split(";") if p.strip()]


def topological_order(modules: pd.DataFrame) -> pd.DataFrame:
    """Modules with ``topo_rank`` (1..n per course) honouring prerequisites; ties broken by position, then id.

    Raises ``PrerequisiteCycle`` naming the modules in a cycle, and ``ValueError`` for a prerequisite
    that names no module of the same course.
    """
    out = []
    for course_id, mods in modules.groupby("course_id", sort=True):
        ids = set(mods["module_id"])
        prereq = {m: parse_prerequisites(p) for m, p in zip(mods["module_id"], mods["prerequisites"])}
        for m, ps in prereq.items():
            unknown = [p for p in ps if p not in ids]
            if unknown:
                raise ValueError(f"module {m} (course {course_id}): prerequisite(s) {', '.join(unknown)} not in the course's modules")
        key = {m: (pos, m) for m, pos in zip(mods["module_id"], mods["position"])}
        indegree = {m: len(ps) for m, ps in prereq.items()}
        children = defaultdict(list)
        for m, ps in prereq.items():
            for p in ps:
                children[p].append(m)
        ready = sorted((m for m, d in indegree.items() if d == 0), key=key.get)
        order = []
        while ready:
            m = ready.pop(0)
            order.append(m)
            for c in children[m]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    ready.append(c)
            ready.sort(key=key.get)
        if len(order) < len(ids):
            stuck = sorted(ids - set(order))
            raise PrerequisiteCycle(f"course {course_id}: prerequisites form a cycle among modules {', '.join(stuck)}")
        out.append(pd.DataFrame({"course_id": course_id, "module_id": order, "topo_rank": np.arange(1, len(order) + 1)}))
    ranks = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["course_id", "module_id", "topo_rank"])
    return modules.merge(ranks, on=["course_id", "module_id"])


def learning_paths(
    modules: pd.DataFrame,
    module_skills: pd.DataFrame,
    enrolments: pd.DataFrame,
    mastery: pd.DataFrame,
) -> pd.DataFrame:
    """Every enrolled learner's path through each course.

    - ``modules``: module_id, course_id, position, prerequisites
    - ``module_skills``: module_id, skill_id (the skills a module teaches)
    - ``enrolments``: user_id, course_id (active enrolments)
    - ``mastery``: user_id, skill_id, p_known, mastered

    Returns one row per learner × course × module: status (mastered / open / locked), module_mastery
    (the lowest p_known of its skills), missing_prerequisites, and ``step`` (1, 2, ... for modules
    not yet mastered, in prerequisite order; null for mastered ones).
    """
    mods = topological_order(modules)
    skills = module_skills.drop_duplicates()
    grid = enrolments[["user_id", "course_id"]].drop_duplicates().merge(
        mods[["course_id", "module_id", "position", "topo_rank", "prerequisites"]], on="course_id")
    per_skill = grid[["user_id", "module_id"]].merge(skills, on="module_id", how="left").merge(
        mastery[["user_id", "skill_id", "p_known", "mastered"]], on=["user_id", "skill_id"], how="left")
    per_skill["p_known"] = per_skill["p_known"].fillna(0.0)
    per_skill["mastered"] = per_skill["mastered"].fillna(False).astype(bool)
    per_module = per_skill.groupby(["user_id", "module_id"], sort=False).agg(
        module_mastery=("p_known", "min"), module_mastered=("mastered", "all")).reset_index()
    grid = grid.merge(per_module, on=["user_id", "module_id"], how="left")
    # prerequisites: one row per (module, prerequisite), joined to the learner's mastery of the prerequisite
    pre = mods[["module_id", "prerequisites"]].assign(prerequisite=lambda d: d["prerequisites"].map(parse_prerequisites))
    pre = pre.explode("prerequisite").dropna(subset=["prerequisite"])[["module_id", "prerequisite"]]
    status = grid[["user_id", "module_id", "module_mastered"]]
    missing = grid[["user_id", "module_id"]].merge(pre, on="module_id").merge(
        status.rename(columns={"module_id": "prerequisite", "module_mastered": "prereq_mastered"}),
        on=["user_id", "prerequisite"], how="left")
    missing = missing[~missing["prereq_mastered"].fillna(False).astype(bool)]
    # string aggregation per learner × module in polars: pandas would call str.join once per group in Python
    missing = (pl.from_pandas(missing[["user_id", "module_id", "prerequisite"]].astype(str))
               .group_by(["user_id", "module_id"])
               .agg(pl.col("prerequisite").sort().str.join(";").alias("missing_prerequisites"))
               .to_pandas())
    grid = grid.merge(missing, on=["user_id", "module_id"], how="left")
    grid["status"] = np.where(grid["module_mastered"], "mastered",
                              np.where(grid["missing_prerequisites"].isna(), "open", "locked"))
    grid = sort_rows(grid, ["user_id", "course_id", "topo_rank"])
    todo = grid["status"] != "mastered"
    grid["step"] = pd.Series(pd.NA, index=grid.index, dtype="Int64")
    grid.loc[todo, "step"] = grid[todo].groupby(["user_id", "course_id"]).cumcount() + 1
    grid["module_mastery"] = grid["module_mastery"].round(4)
    cols = ["user_id", "course_id", "module_id", "position", "topo_rank", "step", "status", "module_mastery",
            "missing_prerequisites"]
    return grid[cols].reset_index(drop=True)
