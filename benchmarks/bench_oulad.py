"""The OULAD early-warning study on a given OULAD directory: tree vs boosted baseline per snapshot.

    python benchmarks/bench_oulad.py ../shared/data/oulad                      # AAA 2013J → 2014J
    python benchmarks/bench_oulad.py PATH --all-modules                        # every module: earlier → latest
    python benchmarks/bench_oulad.py PATH --module AAA --train 2013J --test 2014J [--no-mlflow]

Every snapshot is logged to the project's MLflow (experiment oulad_early_warning): tree and baseline AUC,
F1, precision and recall of the at-risk class, the chosen depth and leaf size, and the tree's rules.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devmentor.importers.oulad import presentations_with_clicks, read_oulad  # noqa: E402
from devmentor.studies.oulad import default_splits, report, run_study  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--module", default="AAA")
    p.add_argument("--train", default="2013J", help="training presentations, comma-separated")
    p.add_argument("--test", default="2014J")
    p.add_argument("--all-modules", action="store_true")
    p.add_argument("--no-mlflow", action="store_true", help="do not log the snapshots to the project's MLflow")
    args = p.parse_args()
    started = time.perf_counter()
    t = read_oulad(Path(args.path))
    splits = default_splits(t) if args.all_modules else [(args.module, args.train.split(","), args.test)]
    ml = None
    if not args.no_mlflow:
        from devmentor.settings import load_settings

        ml = load_settings().mlflow_store("oulad_early_warning").setup()
    rows = run_study(t, splits, mlflow=ml)
    with_clicks = presentations_with_clicks(t)
    print(report(rows))
    from models.fairness import largest_gaps

    for r in rows:
        if r.result.day == "end" and r.fairness is not None:
            gaps = largest_gaps(r.fairness)
            print(f"\nfairness, {r.module} {r.test} end of course (groups of 20+; largest gaps first):")
            print(gaps.head(6).to_markdown(index=False))
    print(f"\npresentations with a click stream: {sorted(with_clicks)}; others use assessments and registrations only")
    print(f"{len(rows)} snapshots in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
