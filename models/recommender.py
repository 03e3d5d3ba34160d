"""Recommendations: a ranked list of next content per learner, each with the reason in words.

Candidates are the content items of the modules a learner can work on now (open on the
learning path, or a module they were active in) and of the skills due for review; never an
item of a module the learner's own learning path says is locked (its prerequisites are not
mastered), nor of a course the learner has no path in. Each candidate is scored on:

- mastery gap: 1 - P(known) of the item's skill;
- desirable difficulty: predicted success close to 70% (Bjork); success is the BKT
  prediction for the skill shifted by the item's topic difficulty, estimated from attempts;
- format fit: the format the learner actually does well in (quiz accuracy after studying in
  it), which may differ from the format they say they prefer;
- path position: the first module on the path and the module in progress rank higher;
- resume: modules the learner worked in, the most recent first (1, 1/2, 1/3, ...);
- next step: how often learners who worked in the learner's current module went next to this one
  (module-to-module transitions in every learner's history, as a share of the most common one);
- review due: skills in today's review queue.

A learner with no attempts and no views (cold start) gets the most viewed items of the
first modules of their courses. Every row carries its reason code and a sentence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.frames import IdCodes, sort_rows

ALGORITHM = "reco-3"
TARGET_SUCCESS = 0.7
MAX_REVIEWS = 3
# reco-1 had path 0.50 and no resume / next; chosen on the ASSISTments replay (devmentor replay assistments --cut 20):
# NDCG@10 0.43 → 0.61 (popularity within own skills 0.60); on generated data 0.33 → 0.22, most of it (→ 0.24) from
# never recommending into a locked module, where 31% of the generated held-out views were (docs/learning_engine.md).
# reco-3: topic difficulty joined on topic AND skill (a multi-skill topic repeated its items, one per skill: 5.8
# distinct skills in 10 slots on ASSISTments), NDCG@10 at F = 5/10/20 0.629/0.613/0.616 → 0.678/0.671/0.677; then
# popular 0.10 (recent learners per module, a tie-breaker) → 0.685/0.677/0.682; generated data 0.215 → 0.209.
WEIGHTS = {"gap": 0.15, "difficulty": 0.10, "format": 0.25, "path": 0.20, "review": 0.20, "resume": 1.00,
           "next": 0.60, "popular": 0.10}


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def topic_difficulty(attempts: pd.DataFrame, prior_weight: float = 10.0) -> pd.DataFrame:
    """Difficulty per topic (0 easy .. 1 hard): 1 - success rate of its attempts, shrunk toward the skill's rate."""
    counts = attempts.assign(correct=attempts["is_correct"].astype(int)).groupby(["topic_id", "skill_id"]).agg(
        answers=("correct", "size"), correct=("correct", "sum")).reset_index()
    return difficulty_from_counts(counts, prior_weight)


def difficulty_from_counts(counts: pd.DataFrame, prior_weight: float = 10.0) -> pd.DataFrame:
    """``topic_difficulty`` from answers and correct answers per topic and skill (``counts``: topic_id,
    skill_id, answers, correct): what a warehouse aggregate gives without loading every attempt."""
    if counts.empty:
        return pd.DataFrame(columns=["topic_id", "skill_id", "topic_difficulty"])
    t = counts.astype({"answers": float, "correct": float})
    per_skill = t.groupby("skill_id")[["correct", "answers"]].sum()
    t = t.merge((per_skill["correct"] / per_skill["answers"]).rename("skill_rate"), on="skill_id")
    rate = (t["correct"] + prior_weight * t["skill_rate"]) / (t["answers"] + prior_weight)
    out = t.assign(topic_difficulty=(1 - rate).round(4))[["topic_id", "skill_id", "topic_difficulty"]]
    return out.sort_values(["topic_id", "skill_id"]).reset_index(drop=True)


def format_fit(profiles: pd.DataFrame, format_performance: pd.DataFrame, min_attempts: int = 5) -> pd.DataFrame:
    """Per learner: the preferred format and the best-performing one (with at least ``min_attempts`` attempts)."""
    fp = format_performance[format_performance["attempts"] >= min_attempts]
    best = sort_rows(fp, ["user_id", "accuracy", "format"], ascending=[True, False, True]).drop_duplicates("user_id")
    out = profiles[["user_id", "format_preference"]].merge(
        best[["user_id", "format", "accuracy"]].rename(columns={"format": "best_format", "accuracy": "best_accuracy"}),
        on="user_id", how="left")
    pref_acc = fp.rename(columns={"format": "format_preference", "accuracy": "preferred_accuracy"})
    out = out.merge(pref_acc[["user_id", "format_preference", "preferred_accuracy"]], on=["user_id", "format_preference"], how="left")
    out["best_format"] = out["best_format"].fillna(out["format_preference"])
    return out


def recommend(
    paths: pd.DataFrame,
    content: pd.DataFrame,
    mastery: pd.DataFrame,
    review_queue: pd.DataFrame,
    formats: pd.DataFrame,
    difficulty: pd.DataFrame,
    popularity: pd.DataFrame,
    current_modules: pd.DataFrame,
    k: int = 10,
    history: pd.DataFrame | None = None,
    transitions: pd.DataFrame | None = None,
    module_popularity: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Top-``k`` content per learner.

    - ``paths``: learning_paths() output
    - ``content``: content_id, module_id, course_id, topic_id, skill_id, format, position
    - ``mastery``: user_id, skill_id, p_known, predicted_success (BKT, on the skill)
    - ``review_queue``: user_id, skill_id (due today)
    - ``formats``: format_fit() output
    - ``difficulty``: topic_difficulty() output
    - ``popularity``: content_id, views
    - ``current_modules``: user_id, module_id (where each learner was last active per course), recency
      (1 for the course worked on most recently, less for the others)
    - ``history``: user_id, module_id, resume (1 for the module worked in most recently, 1/2 the one before, ...)
    - ``transitions``: from_module, module_id, next_share (module_history_transitions() output)
    - ``module_popularity``: module_id, learners (distinct learners active in it recently); its share of the
      most popular module's is the ``popular`` term
    """
    inputs = {"paths": paths, "content": content, "mastery": mastery, "review_queue": review_queue,
              "formats": formats, "difficulty": difficulty, "popularity": popularity,
              "current_modules": current_modules, "history": history, "transitions": transitions,
              "module_popularity": module_popularity}
    return IdCodes.run(_recommend, inputs, ID_KINDS, OWN_MISSING, k=k)


# The id columns the recommender joins, groups and sorts on, by kind: it works on their integer codes
# (models/frames.IdCodes). Format columns are compared with each other, so each has its own missing code.
ID_KINDS = {"user_id": "user", "module_id": "module", "from_module": "module", "content_id": "content",
            "course_id": "course", "topic_id": "topic", "skill_id": "skill", "format": "format",
            "format_preference": "format", "best_format": "format"}
OWN_MISSING = ("format", "format_preference", "best_format")


def _recommend(codes: IdCodes, paths, content, mastery, review_queue, formats, difficulty, popularity,
               current_modules, k, history, transitions, module_popularity) -> pd.DataFrame:
    """recommend() on frames whose id columns are integer codes."""
    cand = _candidates(paths, content, review_queue, current_modules, history)
    cand = _next_step(cand, history, transitions)
    cand = cand.merge(mastery[["user_id", "skill_id", "p_known", "predicted_success"]].rename(columns={"predicted_success": "p_success"}), on=["user_id", "skill_id"], how="left")
    # per topic AND skill: a multi-skill question's topic carries each of its skills' rows (one per skill)
    cand = cand.merge(difficulty[["topic_id", "skill_id", "topic_difficulty"]], on=["topic_id", "skill_id"], how="left")
    mean_diff = difficulty.groupby("skill_id")["topic_difficulty"].mean().rename("skill_difficulty")
    cand = cand.merge(mean_diff, on="skill_id", how="left")
    cand = cand.merge(formats[["user_id", "format_preference", "best_format"]], on="user_id", how="left")
    cand["popular"] = _popular_share(cand["module_id"], module_popularity)
    cand["p_known"] = cand["p_known"].fillna(0.0)
    shift = 3.0 * (cand["skill_difficulty"].fillna(0.5) - cand["topic_difficulty"].fillna(0.5))
    cand["predicted_success"] = _sigmoid(_logit(cand["p_success"].fillna(0.5)) + shift).round(4)
    gap = 1 - cand["p_known"]
    diff_fit = 1 - (cand["predicted_success"] - TARGET_SUCCESS).abs() / TARGET_SUCCESS
    fmt_fit = np.where(cand["format"] == cand["best_format"], 1.0, np.where(cand["format"] == cand["format_preference"], 0.8, 0.0))
    step = cand["step"].astype("Float64").fillna(3.0).astype(float)
    recency = cand["recency"].fillna(0.0) if "recency" in cand else 0.0
    path_fit = np.maximum(np.where(cand["current"], 0.8 + 0.2 * recency, 0.0), 0.5 / step)
    resume = cand["resume"].fillna(0.0)
    w = WEIGHTS
    cand["score"] = (w["gap"] * gap + w["difficulty"] * diff_fit + w["format"] * fmt_fit + w["path"] * path_fit
                     + w["review"] * cand["review_due"] + w["resume"] * resume + w["next"] * cand["next_share"]
                     + w["popular"] * cand["popular"]).round(4)
    mismatch = (cand["best_format"] != cand["format_preference"]) & (cand["format"] == cand["best_format"])
    cand["reason"] = np.select(
        [cand["from_review"], mismatch, gap >= 0.5, cand["review_due"], diff_fit >= 0.85],
        ["review_due", "format_match", "mastery_gap", "review_due", "desirable_difficulty"],
        default="continue_path",
    )
    cand = sort_rows(cand, ["user_id", "score", "content_id"], ascending=[True, False, True])
    # Review items off the path: the best one per due skill, at most MAX_REVIEWS, so the list stays varied.
    extra = cand["from_review"]
    cand = cand[~extra | ~cand.duplicated(["user_id", "skill_id", "from_review"])]
    n_review = cand["from_review"].astype(int).groupby(cand["user_id"]).cumsum()
    cand = cand[~cand["from_review"] | (n_review <= MAX_REVIEWS)]
    cand["rank"] = cand.groupby("user_id").cumcount() + 1
    top = cand[cand["rank"] <= k].copy()
    top["reason_detail"] = _explain(codes.decode(top, ["skill_id", "format", "format_preference"]))
    cold = _cold_start(paths, content, popularity, set(top["user_id"]), k)
    out = pd.concat([top, cold], ignore_index=True)
    cols = ["user_id", "rank", "content_id", "module_id", "course_id", "skill_id", "format", "score", "reason",
            "reason_detail", "predicted_success"]
    return out[cols].reset_index(drop=True)


def _popular_share(modules: pd.Series, popularity: pd.DataFrame | None) -> np.ndarray:
    """Each module's recent learners as a share of the most popular module's (0 without the input)."""
    if popularity is None or not len(popularity):
        return np.zeros(len(modules))
    share = popularity.set_index("module_id")["learners"] / max(float(popularity["learners"].max()), 1.0)
    return modules.map(share).fillna(0.0).to_numpy(dtype=float)


def _candidates(paths, content, review_queue, current_modules, history) -> pd.DataFrame:
    """Content of open modules, of modules worked in (the current one per course, and ``history``) and of skills
    due for review, restricted to modules on the learner's path that are not locked."""
    open_mods = paths.loc[paths["status"] == "open", ["user_id", "module_id", "step"]]
    cur = current_modules[["user_id", "module_id", "recency"]].assign(current=True)
    mods = open_mods.merge(cur, on=["user_id", "module_id"], how="outer")
    if history is not None and len(history):
        mods = mods.merge(history[["user_id", "module_id", "resume"]], on=["user_id", "module_id"], how="outer")
    mods["current"] = mods["current"].fillna(False).astype(bool)
    # never into a locked module (its prerequisites are not mastered), nor outside the learner's own paths; each
    # part is restricted before they are joined (an item's module is the same in both, so dropping it first
    # drops the same rows, and the later sort on a unique key makes the row order here irrelevant)
    allowed = paths.loc[paths["status"] != "locked", ["user_id", "module_id", "status"]]
    cand = mods.merge(content, on="module_id").assign(from_review=False).merge(allowed, on=["user_id", "module_id"])
    review = review_queue[["user_id", "skill_id"]].drop_duplicates().assign(review_due=True)
    review_items = (review.drop(columns="review_due").merge(content, on="skill_id").assign(from_review=True)
                    .merge(allowed, on=["user_id", "module_id"]))
    # an item that is both on the path and due for review stays a path item (with the review bonus)
    cand = pd.concat([cand, review_items], ignore_index=True).drop_duplicates(["user_id", "content_id"], keep="first")
    cand["current"] = cand["current"].fillna(False).astype(bool)
    if "resume" not in cand:
        cand["resume"] = 0.0
    cand = cand.merge(review, on=["user_id", "skill_id"], how="left")
    cand["review_due"] = cand["review_due"].fillna(False).astype(bool)
    return cand


def module_history(events: pd.DataFrame) -> pd.DataFrame:
    """Per learner, every module worked in with ``resume`` = 1 / (rank of its last activity, most recent first).

    ``events``: user_id, module_id, last_at (the learner's last event in the module)."""
    h = sort_rows(events, ["user_id", "last_at", "module_id"], ascending=[True, False, True])
    return h.assign(resume=1.0 / (h.groupby("user_id").cumcount() + 1))[["user_id", "module_id", "resume"]]


def module_history_transitions(moves: pd.DataFrame) -> pd.DataFrame:
    """``moves``: from_module, module_id, moves (learners' consecutive module changes) → next_share per pair,
    as a share of the most common move out of ``from_module`` (1 for it)."""
    m = moves[moves["from_module"] != moves["module_id"]]
    top = m.groupby("from_module")["moves"].transform("max")
    return m.assign(next_share=(m["moves"] / top).round(4))[["from_module", "module_id", "next_share"]]


def _next_step(cand: pd.DataFrame, history, transitions) -> pd.DataFrame:
    """``next_share`` of each candidate: the move from the learner's current (most recent) module to its module."""
    if history is None or transitions is None or not len(history) or not len(transitions):
        return cand.assign(next_share=0.0)
    current = history[history["resume"] >= 1.0][["user_id", "module_id"]].rename(columns={"module_id": "from_module"})
    cand = cand.merge(current, on="user_id", how="left").merge(transitions, on=["from_module", "module_id"], how="left")
    return cand.drop(columns="from_module").assign(next_share=lambda d: d["next_share"].fillna(0.0))


def _explain(top: pd.DataFrame) -> np.ndarray:
    """The reason in words, built column-wise (a Python loop over a million rows took 11 s)."""
    skill = top["skill_id"].astype(str)
    known = (top["p_known"].fillna(0) * 100).round().astype(int).astype(str)
    success = (top["predicted_success"].fillna(0) * 100).round().astype(int).astype(str)
    reason = top["reason"].to_numpy()
    return np.select(
        [reason == "review_due", reason == "format_match", reason == "mastery_gap", reason == "desirable_difficulty"],
        [(skill + " is due for review today").to_numpy(),
         ("you do better with " + top["format"].astype(str) + " than with " + top["format_preference"].astype(str)).to_numpy(),
         (skill + " mastery is " + known + "%: not mastered yet").to_numpy(),
         ("about " + success + "% expected success: challenging but within reach").to_numpy()],
        default="next on your learning path",
    )


def _cold_start(paths, content, popularity, served: set, k: int) -> pd.DataFrame:
    first = paths[(paths["step"] == 1) & ~paths["user_id"].isin(served)][["user_id", "module_id"]]
    if first.empty:
        return pd.DataFrame()
    c = first.merge(content, on="module_id").merge(popularity, on="content_id", how="left")
    c["views"] = c["views"].fillna(0)
    c = sort_rows(c, ["user_id", "views", "content_id"], ascending=[True, False, True])
    c["rank"] = c.groupby("user_id").cumcount() + 1
    c = c[c["rank"] <= k]
    total = max(float(popularity["views"].max()), 1.0) if len(popularity) else 1.0
    return c.assign(score=(c["views"] / total).round(4), reason="popular",
                    reason_detail="popular with other learners starting this course", predicted_success=np.nan)


def evaluate(recommended: pd.DataFrame, held_out: pd.DataFrame, k: int = 10) -> dict:
    """Hit rate@k and NDCG@k of ``recommended`` (user_id, rank, content_id) against held-out interactions."""
    truth = held_out[["user_id", "content_id"]].drop_duplicates()
    n_truth = truth.groupby("user_id").size().rename("n_truth")
    rec = recommended[recommended["rank"] <= k][["user_id", "rank", "content_id"]]
    hits = rec.merge(truth.assign(hit=1), on=["user_id", "content_id"], how="left").fillna({"hit": 0})
    hits = hits[hits["user_id"].isin(n_truth.index)]
    hits["gain"] = hits["hit"] / np.log2(hits["rank"] + 1)
    per_user = hits.groupby("user_id").agg(hit=("hit", "max"), dcg=("gain", "sum")).reindex(n_truth.index, fill_value=0)
    ideal = n_truth.clip(upper=k).map(lambda n: float((1 / np.log2(np.arange(2, n + 2))).sum()))
    return {
        "users": int(len(n_truth)),
        f"hit_rate@{k}": round(float(per_user["hit"].mean()), 4),
        f"ndcg@{k}": round(float((per_user["dcg"] / ideal).mean()), 4),
    }
