"""Time `devmentor generate` at a given size and print wall time, events/s and peak memory.

    python benchmarks/bench_generate.py --learners 100000 --days 14 [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devmentor.generator import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="keep the output here (default: a temporary directory, removed after)")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-gen-"))
    started = time.perf_counter()
    summary = generate(out, learners=args.learners, days=args.days, seed=args.seed,
                       progress=lambda m: print(f"  {m}", flush=True))
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mib = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    result = {
        "learners": args.learners, "days": args.days, "events": summary.events, "chat_messages": summary.chat_messages,
        "seconds": round(seconds, 1), "events_per_second": round(summary.events / seconds),
        "peak_rss_mib": round(peak_mib), "output_mib": round(size_mib),
    }
    print(json.dumps(result, indent=2))
    if not args.out:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
