"""The ``devmentor`` command: the platform's own commands (no Dagster).

    devmentor generate --learners N --days D --seed S --out DIR [--format parquet|csv|jsonl]
    devmentor dashboard [--port 8501]   the instructor dashboard (Streamlit)
    devmentor serve [--port 3005]       the Learning Engine read API (FastAPI)
    devmentor chat search "QUERY" [--learner ID] [--limit N]
    devmentor forget LEARNER_ID         remove every trace of a learner
    devmentor db url | db stop          the serving database's libpq URL; stop the embedded server

The commands that run the pipeline (demo, materialize, ingest, warehouse, ui) are added by
orchestration/cli.py, the entry point, which builds on this parser.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import date
from pathlib import Path

from devmentor.settings import (
    PROJECT_ROOT,
    ConfigurationError,
    Settings,
    apply_telemetry_off,
    load_settings,
)


class CliError(Exception):
    """An error the user can fix; printed without a traceback."""


def resolve_settings() -> Settings:
    """The command's settings, resolved once and passed down; subprocesses (dbt, the Dagster UI, Streamlit)
    are given the same through ``settings.child_env()`` or ``settings.dbt_env()``, never via this process's
    environment."""
    settings = load_settings()
    settings.ensure_dirs()
    apply_telemetry_off()
    return settings


def say(message: str) -> None:
    print(message, flush=True)


def cmd_generate(args: argparse.Namespace) -> int:
    from devmentor.generator import generate

    out = Path(args.out)
    say(f"Generating {args.learners:,} learners × {args.days} days (seed {args.seed}, {args.format}) into {out}")
    summary = generate(out, learners=args.learners, days=args.days, seed=args.seed, fmt=args.format,
                       end_date=args.end_date, progress=lambda m: say(f"  {m}"))
    say(f"Done in {summary.seconds:.1f}s: {summary.events:,} events, {summary.chat_messages:,} chat messages, "
        f"{summary.files} files in {out}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    streamlit = Path(sys.executable).parent / "streamlit"
    app = PROJECT_ROOT / "dashboards" / "app.py"
    cmd = [str(streamlit) if streamlit.exists() else "streamlit", "run", str(app), "--server.port", str(args.port),
           "--server.address", args.host, "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    say(f"Dashboard on http://{args.host}:{args.port}; Ctrl-C to stop")
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=settings.child_env())


def cmd_serve(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    from devmentor.api.app import serve
    from devmentor.storage.postgres import redact

    url = settings.serving_db().reader_url()
    say(f"Learning Engine read API on http://{args.host}:{args.port} (OpenAPI at /docs), reading {redact(url)}; Ctrl-C to stop")
    serve(url, host=args.host, port=args.port)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    from devmentor.privacy import forget

    report = forget(settings, args.learner_id)
    if not report:
        say(f"{args.learner_id}: no data found; a tombstone now keeps any future input about them out.")
        return 0
    say(f"Forgot {args.learner_id}; removed:")
    for place, n in report.items():
        say(f"  {place:<55} {n:>8,}")
    say("A tombstone (a keyed hash, not the id) keeps re-ingested files from bringing them back.")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    from devmentor.storage import postgres

    if args.action == "url":
        print(settings.serving_db().url())
        return 0
    if settings.database_url:
        raise CliError("DEVMENTOR_DATABASE_URL is set: that server is not ours to stop.")
    stopped = postgres.stop_embedded(settings.pg_data_dir)
    say("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    from devmentor.features.chat_search import search

    if not settings.warehouse_path.exists():
        raise CliError(f"no warehouse at {settings.warehouse_path}; run `devmentor demo` or `devmentor materialize` first.")
    try:
        hits = search(settings.warehouse_path, args.query, learner=args.learner, limit=args.limit)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if hits.empty:
        say(f"no chat message matches {args.query!r}" + (f" for learner {args.learner}" if args.learner else ""))
        return 0
    for row in hits.itertuples():
        say(f"{row.score:7.3f}  {row.sent_at:%Y-%m-%d %H:%M}  {row.user_id:<10} {row.message_direction:<6} {row.message_text}")
    return 0


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _add_server(sub, name: str, help_text: str, port: int, func) -> None:
    p = sub.add_parser(name, help=help_text)
    p.add_argument("--port", type=positive_int, default=port)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=func)


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    from devmentor.generator import DEFAULT_END_DATE, OUTPUT_FORMATS

    parser = argparse.ArgumentParser(prog="devmentor", description="DevMentor Learning Engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write deterministic synthetic input files")
    p.add_argument("--learners", type=positive_int, required=True)
    p.add_argument("--days", type=positive_int, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="parquet")
    p.add_argument("--end-date", type=iso_date, default=DEFAULT_END_DATE, help="last day of activity (YYYY-MM-DD)")
    p.set_defaults(func=cmd_generate)

    _add_server(sub, "dashboard", "start the instructor dashboard (Streamlit)", 8501, cmd_dashboard)
    _add_server(sub, "serve", "start the Learning Engine read API (FastAPI) over the serving tables", 3005, cmd_serve)

    p = sub.add_parser("chat", help="search chat messages (full-text, BM25 ranking)")
    chat = p.add_subparsers(dest="chat_command", required=True)
    q = chat.add_parser("search", help="messages ranked by relevance to QUERY")
    q.add_argument("query")
    q.add_argument("--learner", help="only this learner's messages (user_id)")
    q.add_argument("--limit", type=positive_int, default=10)
    q.set_defaults(func=cmd_chat)

    p = sub.add_parser("forget", help="remove every trace of a learner (lake, warehouse, serving, chat index) and keep them out")
    p.add_argument("learner_id")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("db", help="the serving database")
    p.add_argument("action", choices=("url", "stop"))
    p.set_defaults(func=cmd_db)
    return parser, sub


def run(parser: argparse.ArgumentParser, argv: list[str] | None, errors: tuple[type[Exception], ...] = ()) -> int:
    """Parse ``argv`` and run the chosen command; errors a user can fix are printed without a traceback."""
    from devmentor.privacy import PrivacyKeyMismatch

    apply_telemetry_off()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CliError, ConfigurationError, PrivacyKeyMismatch, *errors) as exc:
        print(f"devmentor: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
