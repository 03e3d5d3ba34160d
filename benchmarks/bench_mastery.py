"""Mastery on real data: fit BKT on the ASSISTments 2009 train split, predict every next response of the test split.

    python benchmarks/bench_mastery.py [../shared/data/assist2009/responses.csv.gz] [--json] [--cut F]

Protocol: train and test are disjoint sets of learners, taken from the file's ``split`` column.
Parameters (and the individualised prior's ability weight) are fitted on the train learners; then
every response of each test learner is predicted before it is seen, from that learner's earlier
responses only (next-response prediction). A problem tagged with several skills appears once per
skill; those copies are one answer: predicted from the state before the answer and scored ONCE,
as the mean of the copies' predictions against the one outcome.

Prints one line per model variant (standard BKT, + forgetting, + item guess/slip, + individualised
prior): fit time, the corrected AUC, and beside it the old "leaky" AUC, from the earlier trace that
took the copies as consecutive answers, so one copy's outcome already sat in the next copy's
individualised prior (only the variant with that prior can differ). "AUC rows" counts every copy
(inflated; for comparison with papers that do). Published: standard BKT 0.73-0.76, BKT with
forgetting 0.83 (counting copies).

``--cut F`` also prints the default model's AUC on the answers ``devmentor replay assistments --cut F``
scores (each test learner's next real answer on each skill after its first F answers): the replay's
``benchmark_auc``, from the same functions (``devmentor/studies/assistments.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devmentor.importers.assistments import read_assistments  # noqa: E402
from models.mastery_eval import (  # noqa: E402
    evaluate_next_response,
    fit_assistments,
    response_ids,
)

VARIANTS = [
    ("standard BKT", dict(items=False, forgets=False, individual=False)),
    ("+ forgetting", dict(items=False, forgets=True, individual=False)),
    ("+ item guess/slip (KT-IDEM)", dict(items=True, forgets=True, individual=False)),
    ("+ individualised prior (default)", dict(items=True, forgets=True, individual=True)),
]

PROTOCOL = ("protocol: train/test split by learner (file's split column); fit on train; predict every test "
            "response before it is seen (next-response); a multi-skill answer is traced as one answer and scored once "
            "(mean of its copies' predictions vs its one outcome)")


def replay_benchmark_auc(df, cut: int) -> tuple[float, float]:
    """The default model's AUC on the answers a replay with --cut F scores: (tracing every earlier answer, held-out
    ones included; given only each learner's first F answers, as the pipeline is)."""
    from sklearn.metrics import roc_auc_score

    from devmentor.importers.assistments import split_at_cut, with_answers
    from devmentor.studies.assistments import benchmark_at_cut, benchmark_predictions, next_answers_on_skill

    rows = with_answers(df)
    rows["_row"] = rows.index
    params = fit_assistments(rows[rows["split"] == "train"])
    kept, held = split_at_cut(rows, cut)
    scored = next_answers_on_skill(held)
    aucs = []
    for predicted in (benchmark_predictions(params, rows), benchmark_at_cut(params, kept, scored)):
        per = scored.assign(p=predicted.reindex(scored["_row"]).to_numpy()).groupby("answer").agg(
            y=("correct", "first"), p=("p", "mean"))
        aucs.append(float(roc_auc_score(per["y"], per["p"])))
    return aucs[0], aucs[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/data/assist2009/responses.csv.gz"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--cut", type=int, help="also the AUC on the answers a replay with --cut F scores")
    args = p.parse_args()
    t0 = time.perf_counter()
    df = read_assistments(Path(args.path))
    train, test = df[df["split"] == "train"], df[df["split"] == "test"]
    print(f"read {len(df):,} rows ({df['response_id'].nunique():,} responses) in {time.perf_counter() - t0:.1f}s; "
          f"train {len(train):,} rows / {train['user_id'].nunique():,} learners, test {len(test):,} rows / "
          f"{test['response_id'].nunique():,} responses ({len(np.unique(response_ids(test))):,} answers once a response "
          f"listing a skill twice is split) / {test['user_id'].nunique():,} learners")
    print(PROTOCOL)
    results = []
    print(f"{'variant':34} {'fit s':>6} {'AUC':>7} {'leaky':>7} {'diff':>8} {'AUC rows':>9} {'ability w':>9} {'(leaky)':>7}")
    for name, kw in VARIANTS:
        t = time.perf_counter()
        params = fit_assistments(train, **kw)
        fit_s = time.perf_counter() - t
        # without the individualised prior the fit does not depend on the grouping: the same parameters
        leaky_params = fit_assistments(train, **kw, leaky=True) if kw["individual"] else params
        ev = evaluate_next_response(params, test)
        old = evaluate_next_response(leaky_params, test, leaky=True)
        results.append(dict(variant=name, fit_seconds=round(fit_s, 2), auc=round(ev.auc, 4), auc_leaky=round(old.auc, 4),
                            auc_rows=round(ev.auc_rows, 4), auc_rows_leaky=round(old.auc_rows, 4),
                            responses=ev.responses, rows=ev.rows, ability_weight=params.ability_weight,
                            ability_weight_leaky=leaky_params.ability_weight, em_iterations=params.iterations))
        print(f"{name:34} {fit_s:6.1f} {ev.auc:7.4f} {old.auc:7.4f} {ev.auc - old.auc:+8.4f} {ev.auc_rows:9.4f} "
              f"{params.ability_weight:9.1f} {leaky_params.ability_weight:7.1f}")
    if args.cut:
        traced, at_cut = replay_benchmark_auc(df, args.cut)
        print(f"default model on the replay's answers (--cut {args.cut}): AUC {traced:.4f} tracing every earlier answer, "
              f"{at_cut:.4f} given only each learner's first {args.cut} answers (what the pipeline sees)")
    print(f"wall time {time.perf_counter() - t0:.1f}s")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
