"""Score what an ASSISTments replay published against what each held-out learner really did next.

``devmentor replay assistments PATH --cut F`` keeps, of each test-split learner, the first F answers (a
multi-skill answer counted once), runs the whole DAG on that, and then this module compares the serving
tables with the answers the pipeline never saw (read here from the release itself):

- mastery: for each held-out learner and skill, the learner's next real answer on that skill. Its
  prediction is the published P(known) (``serving.mastery``) carried to the next attempt and read through
  the question's guess and slip from the published mastery model (``lake/ml/mastery/params.json``, the
  MLflow run's ``bkt_params.json``); beside it the published skill-level ``predicted_success`` (no
  question). An answer is scored once, and only when it is the learner's first held-out answer on every
  skill it carries (its prediction: the mean over those skills). The benchmark figure is
  ``benchmarks/bench_mastery.py``'s default model (fitted on the train split, tracing each test learner's
  whole history) on exactly the same answers.
- next quiz: each quiz question's predicted success against the learner's next real answer on its skill
  (one point per real answer), expected vs observed per tenth of predicted success.
- recommendations: the recommended skills (content → skill, first rank kept) against the set of skills
  the learner practised after the cut; NDCG@10 and hit rate@10, beside popularity over every kept answer,
  and popularity within the learner's own kept skills (then the other popular skills), on the same learners.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from devmentor.importers.assistments import PROBLEM_PREFIX, USER_PREFIX, split_at_cut, with_answers
from devmentor.studies.replay import fetch
from models import mastery
from models.mastery_eval import fit_assistments, predict_next_response
from models.recommender import evaluate as ranking_metrics

K = 10
MIN_BIN = 100
PROTOCOL = ("train/test split by learner (the file's split column); of each test learner only the first F answers "
            "(a multi-skill answer counted once) reach the pipeline; mastery: the learner's next real answer on each "
            "skill, scored once per answer; next quiz: predicted success vs the next real answer on the question's "
            "skill, per tenth; recommendations: the skills practised after the cut (a set), NDCG@10 and hit rate@10")


def load_published(conn) -> dict[str, pd.DataFrame]:
    """The serving tables the replay is scored on."""
    return {
        "mastery": fetch(conn, "SELECT user_id, skill_id, p_known, attempts, predicted_success FROM serving.mastery"),
        "recommendations": fetch(conn, "SELECT user_id, rank, content_id, module_id, skill_id FROM serving.recommendations"),
        "next_quiz": fetch(conn, "SELECT user_id, position, question_id, skill_id, predicted_success FROM serving.next_quiz"),
        "learning_path": fetch(conn, "SELECT user_id, module_id, status FROM serving.learning_path"),
    }


def _contract_ids(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(user_id=USER_PREFIX + rows["user_id"].astype(str))


def benchmark_predictions(params: mastery.BKTParams, rows: pd.DataFrame) -> pd.Series:
    """bench_mastery.py's default model (``params``: fitted on the train split), every test row predicted
    before it is seen, having traced every earlier answer, held-out ones included."""
    test = rows[rows["split"] == "test"]
    predicted, _ = predict_next_response(params, test)
    return pd.Series(predicted, index=test.index)


def benchmark_at_cut(params: mastery.BKTParams, kept: pd.DataFrame, scored: pd.DataFrame) -> pd.Series:
    """The same benchmark model given only what the pipeline saw: each scored answer predicted right after
    the learner's kept answers (no held-out answer traced), by tracing, per scored answer, a copy of the
    learner's kept history followed by that answer. Indexed by ``_row``."""
    targets = scored[["user_id", "answer"]].drop_duplicates().rename(columns={"answer": "target"})
    history = kept[kept["split"] == "test"].merge(targets, on="user_id")
    frame = pd.concat([history.assign(_probe=False), scored.assign(target=scored["answer"], _probe=True)],
                      ignore_index=True)
    frame["user_id"] = frame["user_id"].astype(str) + "#" + frame["target"].astype(str)
    frame = frame.sort_values(["user_id", "seq", "_row"], kind="stable").reset_index(drop=True)
    frame["response_id"] = frame.groupby(["user_id", "answer"], sort=False).ngroup()
    predicted, _ = predict_next_response(params, frame)
    probe = frame["_probe"].to_numpy()
    return pd.Series(predicted[probe], index=frame.loc[probe, "_row"].to_numpy())


def next_answers_on_skill(held: pd.DataFrame) -> pd.DataFrame:
    """Held-out rows that are the learner's first held-out answer on each skill they carry (whole answers only)."""
    h = held.sort_values(["user_id", "answer_no", "skill_id"])
    first = ~h.duplicated(["user_id", "skill_id"])
    whole = first.groupby(h["answer"]).transform("all")
    return h[whole]


def mastery_scores(published: pd.DataFrame, params: mastery.BKTParams, held: pd.DataFrame,
                   benchmark: pd.Series, benchmark_cut: pd.Series) -> dict:
    """AUC of the published mastery for the next real answer on each skill, vs the benchmark on the same answers
    (tracing every earlier answer, and given only the kept answers as the pipeline was)."""
    rows = next_answers_on_skill(_contract_ids(held))
    m = rows.merge(published, on=["user_id", "skill_id"], how="left")
    missing = int(m["p_known"].isna().sum())
    m = m.dropna(subset=["p_known"])
    p = params.with_default()
    si = p.index(m["skill_id"].to_numpy())
    si = np.where(si < 0, len(p.skills) - 1, si)
    ii = p.item_index((PROBLEM_PREFIX + m["problem_id"].astype(str)).to_numpy())
    m["pred_item"] = mastery.predicted_success(p, si, m["p_known"].to_numpy(), m["attempts"].to_numpy(), ii)
    m["pred_benchmark"] = benchmark.reindex(m["_row"]).to_numpy()
    m["pred_benchmark_cut"] = benchmark_cut.reindex(m["_row"]).to_numpy()
    per = m.groupby("answer").agg(y=("correct", "first"), item=("pred_item", "mean"),
                                  skill=("predicted_success", "mean"), bench=("pred_benchmark", "mean"),
                                  bench_cut=("pred_benchmark_cut", "mean"), seen=("attempts", "min"))
    auc = {c: float(roc_auc_score(per["y"], per[c])) for c in ("item", "skill", "bench", "bench_cut")}
    seen = per[per["seen"] > 0]
    return {"mastery_auc": round(auc["item"], 4), "mastery_auc_skill_level": round(auc["skill"], 4),
            "benchmark_auc": round(auc["bench"], 4), "benchmark_auc_same_information": round(auc["bench_cut"], 4),
            "mastery_answers_scored": int(len(per)),
            "mastery_answers_on_skills_seen": int(len(seen)),
            "mastery_auc_seen_skills": round(float(roc_auc_score(seen["y"], seen["item"])), 4) if seen["y"].nunique() > 1 else None,
            "benchmark_auc_seen_skills": round(float(roc_auc_score(seen["y"], seen["bench"])), 4) if seen["y"].nunique() > 1 else None,
            "mastery_rows_unpublished": missing}


def calibration(predicted: pd.DataFrame, held: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Published ``predicted_success`` per learner and skill (the next quiz's questions, or every mastery row)
    vs the learner's next real answer on that skill, per tenth of prediction: one point per answer (a
    multi-skill answer's predictions averaged); the largest gap in a tenth with MIN_BIN+ answers. Each tenth
    also carries ``gap_low`` .. ``gap_high``, the 95% interval of expected − observed over learners resampled
    with replacement (``learner_interval``): a few hundred answers from a few hundred learners leave a tenth's
    observed share a few hundredths uncertain."""
    h = _contract_ids(held).sort_values(["user_id", "answer_no"])
    first = h.drop_duplicates(["user_id", "skill_id"])[["user_id", "skill_id", "answer", "correct"]]
    q = predicted.merge(first, on=["user_id", "skill_id"], how="inner")
    points = q.groupby(["user_id", "answer"]).agg(expected=("predicted_success", "mean"), observed=("correct", "first"))
    points["bin"] = np.minimum((points["expected"] * 10).astype(int), 9)
    table = points.groupby("bin").agg(answers=("observed", "size"), expected=("expected", "mean"),
                                      observed=("observed", "mean")).reset_index()
    table["range"] = table["bin"].map(lambda b: f"{b / 10:.1f}-{(b + 1) / 10:.1f}")
    table["gap"] = (table["expected"] - table["observed"]).abs()
    low, high = learner_interval(points.reset_index(), table["bin"].to_numpy())
    table["gap_low"], table["gap_high"] = low, high
    big = table[table["answers"] >= MIN_BIN]
    cols = ["range", "answers", "expected", "observed", "gap", "gap_low", "gap_high"]
    return table[cols], (round(float(big["gap"].max()), 4) if len(big) else None)


def learner_interval(points: pd.DataFrame, bins: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per tenth in ``bins``: the 2.5% and 97.5% points of expected − observed when the learners are drawn
    again with replacement (a learner's points stay together: their answers are not independent)."""
    learner = pd.factorize(points["user_id"])[0]
    col = pd.Index(bins).get_indexer(points["bin"])
    n_l, n_b = learner.max() + 1 if len(learner) else 0, len(bins)
    count, gap = np.zeros((n_l, n_b)), np.zeros((n_l, n_b))
    np.add.at(count, (learner, col), 1.0)
    np.add.at(gap, (learner, col), points["expected"].to_numpy() - points["observed"].to_numpy())
    draws = np.random.default_rng(seed).multinomial(n_l, np.full(n_l, 1.0 / n_l), size=resamples) if n_l else np.zeros((resamples, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (draws @ gap) / (draws @ count)
    return np.nanpercentile(boot, 2.5, axis=0).round(4), np.nanpercentile(boot, 97.5, axis=0).round(4)


def tenths_off_beyond_noise(table: pd.DataFrame, tolerance: float = 0.05) -> int:
    """Tenths with MIN_BIN+ answers whose whole 95% interval of expected − observed lies outside ± ``tolerance``:
    off by more than it beyond what the sample can tell."""
    big = table[table["answers"] >= MIN_BIN]
    return int(((big["gap_low"] > tolerance) | (big["gap_high"] < -tolerance)).sum())


def popularity_lists(kept: pd.DataFrame, learners, k: int = K) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(popularity overall, popularity within each learner's own kept skills then the rest), ``k`` skills each."""
    counts = kept.groupby("skill_id").size().rename("n").reset_index().sort_values(["n", "skill_id"], ascending=[False, True])
    top = counts["skill_id"].head(k).tolist()
    overall = pd.DataFrame([(u, r + 1, s) for u in learners for r, s in enumerate(top)], columns=["user_id", "rank", "content_id"])
    own = kept[kept["user_id"].isin(set(learners))][["user_id", "skill_id"]].drop_duplicates()
    own = own.merge(counts, on="skill_id").sort_values(["user_id", "n", "skill_id"], ascending=[True, False, True])
    fill = pd.DataFrame([(u, k + r, s) for u in learners for r, s in enumerate(top)], columns=["user_id", "order", "skill_id"])
    own = pd.concat([own.assign(order=own.groupby("user_id").cumcount())[["user_id", "order", "skill_id"]], fill])
    own = own.sort_values(["user_id", "order"]).drop_duplicates(["user_id", "skill_id"])
    own["rank"] = own.groupby("user_id").cumcount() + 1
    return overall, own[own["rank"] <= k].rename(columns={"skill_id": "content_id"})[["user_id", "rank", "content_id"]]


def recommended_skills(recommendations: pd.DataFrame) -> pd.DataFrame:
    """Each learner's recommended skills in rank order (a skill's first rank kept), as user_id, rank, content_id."""
    r = recommendations.dropna(subset=["skill_id"]).sort_values(["user_id", "rank"]).drop_duplicates(["user_id", "skill_id"])
    r = r.assign(rank=r.groupby("user_id").cumcount() + 1)
    return r.rename(columns={"content_id": "item", "skill_id": "content_id"})[["user_id", "rank", "content_id"]]


def recommendation_scores(recommendations: pd.DataFrame, kept: pd.DataFrame, held: pd.DataFrame, k: int = K) -> dict:
    truth = _contract_ids(held)[["user_id", "skill_id"]].drop_duplicates().rename(columns={"skill_id": "content_id"})
    learners = sorted(truth["user_id"].unique())
    overall, own = popularity_lists(_contract_ids(kept), learners, k)
    out = {}
    for name, recs in (("", recommended_skills(recommendations)), ("_popularity", overall), ("_popularity_own", own)):
        m = ranking_metrics(recs, truth, k)
        out[f"ndcg_at_{k}{name}"], out[f"hit_rate_at_{k}{name}"] = m[f"ndcg@{k}"], m[f"hit_rate@{k}"]
    out["recommendation_learners"] = len(learners)
    return out


def locked_recommendations(recommendations: pd.DataFrame, learning_path: pd.DataFrame) -> int:
    """Recommendations pointing into a module the learner's own path says is locked (must be 0)."""
    locked = learning_path[learning_path["status"] == "locked"][["user_id", "module_id"]]
    return int(len(recommendations.merge(locked, on=["user_id", "module_id"])))


def evaluate(published: dict[str, pd.DataFrame], params: mastery.BKTParams, rows: pd.DataFrame, cut: int) -> dict:
    """Every figure of the replay; ``rows`` is the whole release (read_assistments), ``cut`` the replay's F."""
    rows = with_answers(rows)
    rows["_row"] = rows.index
    kept, held = split_at_cut(rows, cut)
    result = {"cut": cut, "test_learners": int(rows.loc[rows["split"] == "test", "user_id"].nunique()),
              "learners_with_held_out_answers": int(held["user_id"].nunique()),
              "held_out_answers": int(held["answer"].nunique())}
    bench = fit_assistments(rows[rows["split"] == "train"])
    result |= mastery_scores(published["mastery"], params, held, benchmark_predictions(bench, rows),
                             benchmark_at_cut(bench, kept, next_answers_on_skill(held)))
    table, gap = calibration(published["next_quiz"], held)
    result |= {"calibration_max_gap": gap, "calibration": table,
               "calibration_tenths_off_beyond_noise": tenths_off_beyond_noise(table)}
    # the same predictor (every quiz question carries its skill's published predicted_success) on every skill's
    # next real answer: the quiz's own skills meet too few next answers (a few hundred) to fill a tenth
    table, gap = calibration(published["mastery"], held)
    result |= {"calibration_all_skills_max_gap": gap, "calibration_all_skills": table}
    result |= recommendation_scores(published["recommendations"], kept, held)
    result["locked_recommendations"] = locked_recommendations(published["recommendations"], published["learning_path"])
    return result


JSON_KEYS = ("mastery_auc", "benchmark_auc", "ndcg_at_10", "ndcg_at_10_popularity", "ndcg_at_10_popularity_own",
             "calibration_max_gap")


def json_ready(result: dict) -> dict:
    """The six headline figures first, then the rest (the calibration tables as rows)."""
    tables = ("calibration", "calibration_all_skills")
    rest = {k: v for k, v in result.items() if k not in JSON_KEYS and k not in tables}
    return {**{k: result[k] for k in JSON_KEYS}, **rest, **{t: result[t].round(4).to_dict("records") for t in tables}}


def report(result: dict) -> str:
    r = result
    lines = [
        f"cut F={r['cut']}: {r['learners_with_held_out_answers']:,} of {r['test_learners']:,} test learners have answers "
        f"after their first {r['cut']}; {r['held_out_answers']:,} held-out answers the pipeline never saw",
        f"mastery, next real answer on each skill ({r['mastery_answers_scored']:,} answers, each scored once): "
        f"AUC {r['mastery_auc']:.4f} (published P(known) with the question's guess/slip), benchmark "
        f"{r['benchmark_auc']:.4f} on the same answers, difference {r['mastery_auc'] - r['benchmark_auc']:+.4f}; "
        f"skill-level published predicted_success {r['mastery_auc_skill_level']:.4f}",
        f"  the benchmark model given only the kept answers (what the pipeline saw; the benchmark above also traced "
        f"the held-out answers before each one): {r['benchmark_auc_same_information']:.4f}, difference "
        f"{r['mastery_auc'] - r['benchmark_auc_same_information']:+.4f}",
        f"  on skills the learner had practised before the cut ({r['mastery_answers_on_skills_seen']:,} answers): "
        f"AUC {r['mastery_auc_seen_skills']}, benchmark {r['benchmark_auc_seen_skills']}",
    ]
    for key, title in (("calibration", "next quiz: predicted success vs the next real answer on the question's skill"),
                       ("calibration_all_skills", "the same published predicted success on every skill (serving.mastery) "
                                                  "vs the next real answer on it")):
        lines += [title, "| predicted | answers | expected | observed | gap | expected − observed, 95% over learners |",
                  "|---|---|---|---|---|---|"]
        for row in r[key].itertuples(index=False):
            lines.append(f"| {row.range} | {row.answers:,} | {row.expected:.3f} | {row.observed:.3f} | {row.gap:.3f} "
                         f"| {row.gap_low:+.3f} .. {row.gap_high:+.3f} |")
        lines.append(f"largest gap in a tenth with {MIN_BIN}+ answers: {r[f'{key}_max_gap']}")
    lines.append(f"next quiz: tenths with {MIN_BIN}+ answers off by more than 0.05 beyond the 95% interval over learners: "
                 f"{r['calibration_tenths_off_beyond_noise']}")
    lines += [f"recommendations vs the skills practised after the cut ({r['recommendation_learners']:,} learners):",
              "| ranking | NDCG@10 | hit rate@10 |", "|---|---|---|",
              f"| engine (serving.recommendations) | {r['ndcg_at_10']:.4f} | {r['hit_rate_at_10']:.4f} |",
              f"| popularity overall | {r['ndcg_at_10_popularity']:.4f} | {r['hit_rate_at_10_popularity']:.4f} |",
              f"| popularity within own skills | {r['ndcg_at_10_popularity_own']:.4f} | {r['hit_rate_at_10_popularity_own']:.4f} |",
              f"recommendations into a locked module: {r['locked_recommendations']}",
              f"protocol: {PROTOCOL}"]
    return "\n".join(lines)
