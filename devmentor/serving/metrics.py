"""Prometheus text-format metrics of each publish, for a node exporter textfile collector or a push gateway.

Written atomically to ``$DEVMENTOR_HOME/metrics/devmentor_serving.prom`` (point the node exporter's
``--collector.textfile.directory`` there, or ``curl --data-binary @file`` it to a push gateway).
Counters are carried over from the previous file so they only ever grow.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

FILE_NAME = "devmentor_serving.prom"

HELP = {
    "devmentor_decisions_published_total": ("counter", "Decisions published to serving.learner_decisions."),
    "devmentor_publish_failures_total": ("counter", "Publishes of decisions that failed (serving tables kept)."),
    "devmentor_publish_rows": ("gauge", "Rows in the last published decision table, per tree."),
    "devmentor_publish_duration_seconds": ("gauge", "Wall time of the last publish."),
    "devmentor_publish_copy_rows_per_second": ("gauge", "COPY throughput of the last publish."),
    "devmentor_last_publish_timestamp_seconds": ("gauge", "Unix time of the last successful publish."),
    "devmentor_outbox_pending": ("gauge", "Outbox rows not yet relayed to NATS."),
    "devmentor_outbox_relayed_total": ("counter", "Outbox rows relayed to NATS."),
}

_LINE = re.compile(r"^(?P<name>[a-z_]+)(?P<labels>\{[^}]*\})? (?P<value>[-+0-9.eE]+|NaN)$")


def _read(path: Path) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            m = _LINE.match(line.strip())
            if m:
                out[(m["name"], m["labels"] or "")] = float(m["value"])
    return out


def write_metrics(directory: Path, gauges: dict[tuple[str, str], float], increments: dict[tuple[str, str], float]) -> Path:
    """Update the metrics file: set gauges, add increments to counters; returns the file path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    values = _read(path)
    for key, inc in increments.items():
        values[key] = values.get(key, 0.0) + inc
    values.update(gauges)
    lines = []
    for name in sorted({k[0] for k in values}):
        kind, text = HELP.get(name, ("gauge", name))
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for (n, labels), v in sorted(values.items()):
            if n == name:
                lines.append(f"{name}{labels} {v:g}" if abs(v) < 1e15 else f"{name}{labels} {v:.0f}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path

