"""Scoring: every learner decided by both champion trees, with the instructors' threshold overrides applied.

A decision, its path (flagged_rules_hit) and the thresholds it used (thresholds_at_time) always agree,
because all three come from the same rule table. Plain functions (no Dagster).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa

from devmentor.shards import in_shard
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.features import load_decision_frame, load_weak_topics
from devmentor.training.mlflow_store import MlflowStore
from devmentor.training.registry import load_champion
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE, TREE_SPECS
from models.features import feature_matrix
from models.prompts import LEARNER_FIELDS, render_prompt
from models.thresholds import apply_overrides, load_overrides
from models.trees import (
    decide_leaves,
    describe_rule,
    input_attributes,
    leaf_confidence,
    leaf_labels,
    rule_table,
)


@dataclass
class ScoredDecisions:
    table: pa.Table  # one row per learner × tree
    snapshots: list[dict]  # the rule table each tree decided with
    learners: int
    not_decided: int
    versions: dict[str, str]
    label_counts: dict[str, dict]
    overrides_version: str
    overrides_applied: dict[str, list]


def snapshot_id(tree_id: str, version: str, rules: pd.DataFrame, overrides_version: str) -> str:
    digest = hashlib.sha256(rules[["rule_id", "threshold"]].to_json().encode()).hexdigest()[:10]
    return f"{tree_id}:v{version}:overrides-{overrides_version}:{digest}"


def _leaf_steps(rules: pd.DataFrame, leaf_paths: dict[int, list[str]]) -> dict[int, list[dict]]:
    """Everything about a decision except the learner's inputs is the same for all learners in a leaf."""
    by_rule = rules.set_index("rule_id").to_dict("index")
    return {
        leaf: [{"rule_id": r,
                "rule": describe_rule(by_rule[r]["feature"], by_rule[r]["operator"], by_rule[r]["threshold"]),
                "feature": by_rule[r]["feature"], "operator": by_rule[r]["operator"],
                "threshold": by_rule[r]["threshold"], "trained_threshold": by_rule[r]["trained_threshold"],
                "overridden": bool(by_rule[r]["overridden"])}
               for r in path]
        for leaf, path in leaf_paths.items()
    }


def _decide_tree(ml, tree_id: str, frame: pd.DataFrame, overrides, decided_at) -> tuple[dict, dict, list]:
    model, version = load_champion(ml, tree_id)
    X = feature_matrix(frame, list(model.feature_names_in_))
    rules, applied = apply_overrides(rule_table(model, list(model.feature_names_in_)), overrides.for_tree(tree_id))
    sid = snapshot_id(tree_id, str(version.version), rules, overrides.version)
    snapshot = {"snapshot_id": sid, "tree_id": tree_id, "decision_version": str(version.version),
                "overrides_version": overrides.version, "rules": rules.to_json(orient="records"),
                "overrides": json.dumps(applied), "created_at": decided_at}
    leaf_of, leaf_paths = decide_leaves(rules, X)
    labels, confidence = leaf_labels(model), leaf_confidence(model)
    steps = _leaf_steps(rules, leaf_paths)
    path_json = {leaf: json.dumps(p) for leaf, p in steps.items()}
    thresholds_json = {
        leaf: json.dumps({"snapshot_id": sid, "overrides_version": overrides.version,
                          "rules_on_path": {st["rule_id"]: st["threshold"] for st in p}})
        for leaf, p in steps.items()
    }
    leaves = leaf_of.tolist()
    decided = {
        "version": str(version.version), "run_id": version.run_id, "snapshot_id": sid,
        "labels": [labels[leaf] for leaf in leaves], "confidence": [confidence[leaf] for leaf in leaves],
        "reasons": [[st["rule"] for st in steps[leaf]] for leaf in leaves],
        "paths_json": [path_json[leaf] for leaf in leaves], "thresholds_json": [thresholds_json[leaf] for leaf in leaves],
        "inputs": input_attributes(X),
    }
    return decided, snapshot, applied


# The course a learner's tutor prompt is about: the current enrolment the early warning chose, else the
# learner's latest enrolment not withdrawn (else the latest one); its title and subject from the catalog.
PROMPT_COURSES_SQL = """
SELECT e.user_id, e.course_id
FROM marts.fct_learner_enrolments AS e
QUALIFY row_number() OVER (PARTITION BY e.user_id ORDER BY e.is_withdrawn, e.enrolled_at DESC NULLS LAST, e.course_id) = 1
"""


def prompt_courses(warehouse: Warehouse, frame: pd.DataFrame) -> list[dict | None]:
    """Per row of ``frame``: {course_id, title, subject} of the course its prompt is about, or None."""
    with warehouse.connect() as con:
        latest = dict(con.execute(PROMPT_COURSES_SQL).fetchall())
        catalog = {r[0]: {"course_id": r[0], "title": r[1], "subject": r[2]} for r in con.execute(
            "SELECT course_id, course_title, subject FROM marts.dim_courses").fetchall()}
    current = frame["current_course_id"] if "current_course_id" in frame else pd.Series([None] * len(frame))
    return [catalog.get(c if isinstance(c, str) else latest.get(u)) for u, c in zip(frame["user_id"], current)]


def _prompts(frame: pd.DataFrame, seg: dict, itv: dict, courses: list[dict | None]) -> list[str]:
    return [
        render_prompt(learner, segment=seg["labels"][i], segment_version=seg["version"],
                      segment_reasons=seg["reasons"][i], intervention=itv["labels"][i],
                      intervention_version=itv["version"], intervention_reasons=itv["reasons"][i], course=courses[i])
        for i, learner in enumerate(frame[[c for c in LEARNER_FIELDS if c in frame.columns]].to_dict("records"))
    ]


def _decision_rows(frame: pd.DataFrame, per_tree: dict[str, dict], prompts: list[str], decided_at) -> pa.Table:
    n = len(frame)
    users = pa.array(frame["user_id"].astype(str).tolist(), pa.string())
    as_of = pa.array(pd.to_datetime(frame["as_of_at"], utc=True)).cast(pa.timestamp("us", tz="UTC"))
    rows = []
    for tree_id, t in per_tree.items():
        trace = os.urandom(16 * n).hex()  # as random as uuid4().hex, drawn at once
        rows.append(pa.table({
            "user_id": users,
            "tree_id": [tree_id] * n,
            "decision_label": t["labels"],
            "confidence": t["confidence"],
            "decision_version": [t["version"]] * n,
            "model_uri": [f"models:/{tree_id}/{t['version']}"] * n,
            "mlflow_run_id": [t["run_id"]] * n,
            "flagged_rules_hit": t["paths_json"],
            "thresholds_at_time": t["thresholds_json"],
            "input_attributes": t["inputs"],
            "llm_prompt_output": prompts,
            "decided_at": pa.array([decided_at] * n, pa.timestamp("us", tz="UTC")),
            "as_of": as_of,
            "trace_id": [trace[32 * i:32 * (i + 1)] for i in range(n)],
            "event_source": ["batch_scoring"] * n,
        }))
    return pa.concat_tables(rows)


def score_learners(warehouse: Warehouse, mlflow: MlflowStore, overrides_path: Path, lake: Lake, shard: int = 0,
                   shards: int = 1, decided_at: datetime | None = None) -> ScoredDecisions:
    """Decide every learner who has a current enrolment (or is in courses without a calendar); learners whose
    enrolments have all ended get no decision, so no nudge. With ``shards`` > 1 only the learners of ``shard``
    (devmentor/shards.py); ``combine`` joins the shards' results into the unsharded one."""
    ml = mlflow.setup()
    overrides = load_overrides(Path(overrides_path))
    frame = load_decision_frame(warehouse, lake).merge(load_weak_topics(warehouse), on="user_id", how="left")
    frame = frame[in_shard(frame["user_id"], shard, shards)]
    not_decided = int((~frame["decide"]).sum())
    frame = frame[frame["decide"]].reset_index(drop=True)
    decided_at = decided_at or datetime.now(timezone.utc)  # when the decision was made (as_of: the data's instant)
    per_tree, snapshots, applied = {}, [], {}
    for tree_id in TREE_SPECS:
        per_tree[tree_id], snapshot, applied[tree_id] = _decide_tree(ml, tree_id, frame, overrides, decided_at)
        snapshots.append(snapshot)
    prompts = _prompts(frame, per_tree[SEGMENT_TREE], per_tree[INTERVENTION_TREE], prompt_courses(warehouse, frame))
    return ScoredDecisions(
        table=_decision_rows(frame, per_tree, prompts, decided_at),
        snapshots=snapshots,
        learners=len(frame),
        not_decided=not_decided,
        versions={k: v["version"] for k, v in per_tree.items()},
        label_counts={k: pd.Series(v["labels"]).value_counts().to_dict() for k, v in per_tree.items()},
        overrides_version=overrides.version,
        overrides_applied=applied,
    )


def combine(parts: list[ScoredDecisions]) -> ScoredDecisions:
    """The shards' decisions as one result: rows in tree order then learner id (the order of every part),
    counts summed; the snapshots (the same champion rule tables in every shard) from the first part."""
    table = pa.concat_tables([p.table for p in parts])
    order = {t: i for i, t in enumerate(TREE_SPECS)}
    keys = pd.DataFrame({"t": [order[t] for t in table.column("tree_id").to_pylist()],
                         "u": table.column("user_id").to_pylist()})
    table = table.take(pa.array(keys.sort_values(["t", "u"], kind="stable").index.to_numpy()))
    counts: dict[str, dict] = {}
    for p in parts:
        for tree, c in p.label_counts.items():
            for label, n in c.items():
                counts.setdefault(tree, {})[label] = counts.get(tree, {}).get(label, 0) + n
    return ScoredDecisions(table=table, snapshots=parts[0].snapshots, learners=sum(p.learners for p in parts),
                           not_decided=sum(p.not_decided for p in parts), versions=parts[0].versions,
                           label_counts=counts, overrides_version=parts[0].overrides_version,
                           overrides_applied=parts[0].overrides_applied)
