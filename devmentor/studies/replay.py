"""Score what a replay published against what really happened.

A replay runs the whole pipeline on a dataset as it was known on day N (``devmentor replay``); the
decisions it published (``serving.early_warning``, ``serving.learner_decisions``) are then compared with
the final outcomes, which the pipeline did not see for the scored enrolments. Protocol: only enrolments
still active on day N are scored (the pipeline publishes nothing else); at risk = fail or withdrawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE
from models.early_warning import metrics
from models.segments import AT_RISK_SEGMENTS

OUTCOME_ORDER = ["distinction", "pass", "completed", "fail", "withdrawn"]


def fetch(conn, sql: str, params=()) -> pd.DataFrame:
    """A query's rows as a frame named by its columns (the replay scorers read the serving schema with it)."""
    cur = conn.execute(sql, params)
    return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def load_published(conn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(early-warning rows, per-learner segment and intervention) from the serving schema."""
    ew = fetch(conn, "SELECT user_id, course_id, as_of, course_day, p_at_risk, at_risk, model_version FROM serving.early_warning")
    rows = conn.execute(
        "SELECT user_id, tree_id, decision_label FROM serving.learner_decisions WHERE tree_id IN (%s, %s)",
        (SEGMENT_TREE, INTERVENTION_TREE)).fetchall()
    decisions = pd.DataFrame(rows, columns=["user_id", "tree_id", "decision_label"])
    decisions = decisions.pivot(index="user_id", columns="tree_id", values="decision_label").reset_index()
    decisions.columns.name = None
    return ew, decisions.rename(columns={SEGMENT_TREE: "segment", INTERVENTION_TREE: "intervention"})


def evaluate(early_warning: pd.DataFrame, decisions: pd.DataFrame, outcomes: pd.DataFrame) -> dict:
    """``outcomes``: user_id, course_id, final_result (the truth). Returns per-course and overall figures."""
    truth = outcomes[["user_id", "course_id", "final_result"]]
    scored = early_warning.merge(truth, on=["user_id", "course_id"], how="inner").merge(decisions, on="user_id", how="left")
    scored["y"] = scored["final_result"].isin(["fail", "withdrawn"]).astype(int)
    scored["at_risk_segment"] = scored["segment"].isin(AT_RISK_SEGMENTS)
    per_course = []
    for course, g in scored.groupby("course_id"):
        m = metrics(g["y"].to_numpy(), g["p_at_risk"].to_numpy())
        seg = metrics(g["y"].to_numpy(), g["at_risk_segment"].astype(float).to_numpy())
        per_course.append({"course_id": course, "enrolments": len(g), "at_risk_share": round(g["y"].mean(), 3),
                           "auc": round(m["auc"], 3), "precision": round(m["precision"], 3), "recall": round(m["recall"], 3),
                           "segment_precision": round(seg["precision"], 3), "segment_recall": round(seg["recall"], 3)})
    overall = metrics(scored["y"].to_numpy(), scored["p_at_risk"].to_numpy()) if len(scored) else {}
    flagged = scored[scored["at_risk_segment"]]
    others = scored[~scored["at_risk_segment"]]
    rate_flagged = float(flagged["y"].mean()) if len(flagged) else float("nan")
    rate_others = float(others["y"].mean()) if len(others) else float("nan")
    table = pd.crosstab(scored["segment"].fillna("(none)"), scored["final_result"]).reindex(
        columns=[c for c in OUTCOME_ORDER if c in set(scored["final_result"])], fill_value=0)
    interventions = scored["intervention"].fillna("(none)").value_counts()
    segments = scored["segment"].fillna("(none)").value_counts()
    return {
        "enrolments_scored": int(len(scored)),
        "as_of": str(early_warning["as_of"].max()) if len(early_warning) else None,
        "auc": round(overall.get("auc", float("nan")), 4),
        "precision": round(overall.get("precision", float("nan")), 4),
        "recall": round(overall.get("recall", float("nan")), 4),
        "per_course": per_course,
        "at_risk_segment_fail_or_withdraw_rate": round(rate_flagged, 4),
        "other_segments_fail_or_withdraw_rate": round(rate_others, 4),
        "at_risk_segment_rate_ratio": round(rate_flagged / rate_others, 3) if rate_others and rate_others > 0 else None,
        "largest_segment_share": round(float(segments.iloc[0] / segments.sum()), 4) if len(segments) else None,
        "largest_intervention_share": round(float(interventions.iloc[0] / interventions.sum()), 4) if len(interventions) else None,
        "segment_by_outcome": table,
        "interventions": interventions.to_dict(),
    }


def report(result: dict) -> str:
    lines = [f"{result['enrolments_scored']:,} enrolments active on the replay day (as of {result['as_of']}) scored "
             "against their final outcomes (the pipeline never saw them)",
             f"P(at risk): AUC {result['auc']:.3f}, precision {result['precision']:.3f}, recall {result['recall']:.3f}", "",
             "| course | enrolments | at-risk share | AUC | precision | recall | at-risk segments precision | recall |",
             "|---|---|---|---|---|---|---|---|"]
    for c in result["per_course"]:
        lines.append(f"| {c['course_id']} | {c['enrolments']} | {c['at_risk_share']:.3f} | {c['auc']:.3f} | {c['precision']:.3f} | "
                     f"{c['recall']:.3f} | {c['segment_precision']:.3f} | {c['segment_recall']:.3f} |")
    lines += ["", "segment × final outcome:", result["segment_by_outcome"].to_markdown(), "",
              f"fail-or-withdraw rate: at-risk segments ({', '.join(AT_RISK_SEGMENTS)}) "
              f"{result['at_risk_segment_fail_or_withdraw_rate']:.3f}, others {result['other_segments_fail_or_withdraw_rate']:.3f} "
              f"(ratio {result['at_risk_segment_rate_ratio']})",
              f"largest segment {result['largest_segment_share']:.1%}, largest intervention {result['largest_intervention_share']:.1%} "
              f"of scored learners; interventions: {result['interventions']}"]
    return "\n".join(lines)


def json_ready(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k != "segment_by_outcome"}
    out["segment_by_outcome"] = {seg: {k: int(v) for k, v in row.items()}
                                 for seg, row in result["segment_by_outcome"].to_dict("index").items()}
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in out.items()}
