"""The OULAD early-warning study on the honest protocol, with the DAG's own features and tree.

    python benchmarks/bench_oulad.py ../shared/data/oulad --train AAA-2013J --test AAA-2014J
    python benchmarks/bench_oulad.py PATH --train all-but:FFF --test FFF-2014J      # a module never seen in training
    python benchmarks/bench_oulad.py PATH --train all-but:AAA-2014J --test AAA-2014J --json

The release goes through the real ingest (contract validation, quarantine) into a lake under --home
(default .devmentor/bench-oulad, reused by later runs), then dbt builds the early-warning mart with
DEVMENTOR_SNAPSHOT_DAYS=30,60,90,120,end. For each day it prints the tree's and the boosted baseline's
AUC, F1, precision and recall for test enrolments still registered that day; with --json, one JSON
object on the last line: {"days": {"60": {"tree_auc": ..., "baseline_auc": ..., "n_test": ...}, ...}}.
``all-but:X`` trains on every presentation except those whose code starts with X.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devmentor.importers.oulad import read_oulad  # noqa: E402
from devmentor.studies.oulad import (  # noqa: E402
    as_json,
    load_study_frame,
    report,
    run_study,
)
from orchestration.study import build_oulad_study  # noqa: E402


def expand(spec: str, courses: list[str]) -> list[str]:
    out = []
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("all-but:"):
            prefix = part.split(":", 1)[1]
            out += [c for c in courses if not c.startswith(prefix)]
        elif part:
            out.append(part)
    return sorted(set(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path")
    p.add_argument("--train", default="AAA-2013J", help="MODULE-PRES[,MODULE-PRES...] or all-but:PREFIX")
    p.add_argument("--test", default="AAA-2014J", help="MODULE-PRES[,MODULE-PRES...]")
    p.add_argument("--home", default=".devmentor/bench-oulad", help="data directory for the study's lake and warehouse")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    started = time.perf_counter()
    root = Path(args.path)
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    warehouse = build_oulad_study(root, Path(args.home), say)
    frame = load_study_frame(warehouse)
    courses = sorted(frame["course_id"].unique())
    train, test = expand(args.train, courses), expand(args.test, courses)
    if set(train) & set(test):
        raise SystemExit(f"train and test overlap: {sorted(set(train) & set(test))}")
    info = read_oulad(root).student_info
    demographics = info.assign(user_id="oulad-" + info["id_student"].astype(str),
                               course_id=info["code_module"] + "-" + info["code_presentation"])
    rows = run_study(frame, train, test, demographics=demographics)
    say(report(rows, train, test))
    end = next(r for r in rows if r["day"] == "end")
    if "fairness" in end:
        from models.fairness import largest_gaps

        say("\nfairness of the tree at the end, test enrolments (groups of 20+; largest gaps first):")
        say(largest_gaps(end["fairness"]).head(6).to_markdown(index=False))
    say(f"\nprotocol: {as_json(rows, train, test)['protocol']}")
    say(f"{len(rows)} snapshot days in {time.perf_counter() - started:.1f}s")
    if args.json:
        print(json.dumps(as_json(rows, train, test)))


if __name__ == "__main__":
    main()
