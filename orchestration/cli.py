"""The ``devmentor`` command.

    devmentor demo                      generate a sample, run the whole pipeline, say where to look
    devmentor generate --learners N --days D --seed S --out DIR [--format parquet|csv|jsonl]
    devmentor materialize [--select SELECTION] [--date D | --from D --to D] [--full-refresh]
    devmentor ui [--port 3000]          the Dagster UI on this project's instance
    devmentor dashboard [--port 8501]   the instructor dashboard (Streamlit)
    devmentor ingest oulad PATH         the Open University Learning Analytics Dataset into the lake
    devmentor ingest xapi FILE          xAPI statements (JSON / JSON Lines) into the lake
    devmentor chat search "QUERY" [--learner ID] [--limit N]
    devmentor db url | db stop          the serving database's libpq URL; stop the embedded server
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from orchestration.settings import PROJECT_ROOT, ConfigurationError, Settings, apply_telemetry_off, load_settings


class CliError(Exception):
    """An error the user can fix; printed without a traceback."""


def _settings() -> Settings:
    settings = load_settings()
    settings.ensure_dirs()
    # Subprocesses and lazily imported modules see the same configuration.
    os.environ.update({k: v for k, v in settings.child_env().items() if k not in os.environ or k.startswith("DEVMENTOR_")})
    apply_telemetry_off()
    return settings


def _say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from assets.ingest.generator import generate

    out = Path(args.out)
    _say(f"Generating {args.learners:,} learners × {args.days} days (seed {args.seed}, {args.format}) into {out}")
    summary = generate(
        out,
        learners=args.learners,
        days=args.days,
        seed=args.seed,
        fmt=args.format,
        end_date=args.end_date,
        progress=lambda m: _say(f"  {m}"),
    )
    _say(
        f"Done in {summary.seconds:.1f}s: {summary.events:,} events, {summary.chat_messages:,} chat messages, "
        f"{summary.files} files in {out}"
    )
    return 0


# ------------------------------------------------------------------------------------- materialize
def run_pipeline(
    settings: Settings,
    select: str | None = None,
    days: tuple[str, str] | None | str = "inbox",
    full_refresh: bool = False,
):
    """Execute the pipeline job (or a selection of it) on the project's Dagster instance.

    ``days`` is the range of daily event partitions to process: ``"inbox"`` (default) takes the days of
    the dated files in the inbox, a (first, last) tuple names them, None runs no partitioned asset.
    """
    from orchestration.instance import write_instance_yaml

    write_instance_yaml(settings)
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    from assets.ingest.partitions import EVENT_PARTITIONS, inbox_day_range
    from orchestration.definitions import build_defs

    defs = build_defs(settings)
    if settings.database_url:
        # dagster.yaml reads the URL from the environment (it is never written to disk).
        os.environ["DEVMENTOR_DAGSTER_STORAGE_URL"] = settings.dagster_storage_url
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    if select:
        try:
            keys = dg.AssetSelection.from_string(select).resolve(graph)
        except Exception as exc:  # bad selection syntax or unknown key
            raise CliError(f"--select {select!r} is not a valid asset selection: {exc}") from None
        if not keys:
            raise CliError(f"--select {select!r} matches no asset; try `group:ml` or `key:serving/*`.")
    keys = {k for k in keys if graph.get(k).is_materializable}
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    if days == "inbox":
        days = inbox_day_range(settings.inbox)
    tags = {"launched_by": "devmentor-cli"}
    if partitioned:
        if days is None:
            keys -= partitioned  # no dated files: nothing for the event partitions to ingest
        else:
            first, last = _clip_days(days, EVENT_PARTITIONS)
            tags.update({"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})
    run_config: dict = {"loggers": {"progress": {}}}
    if full_refresh:
        run_config["ops"] = {"dbt_feature_models": {"config": {"full_refresh": True}}}
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(settings.dagster_home)))
    job = defs.resolve_job_def("devmentor_pipeline")
    try:
        return job.execute_in_process(
            instance=instance,
            asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
            run_config=run_config,
            raise_on_error=False,
            tags=tags,
        )
    finally:
        instance.dispose()


def _clip_days(days: tuple[str, str], partitions) -> tuple[str, str]:
    keys = partitions.get_partition_keys()
    first, last = days
    if last < keys[0] or first > keys[-1]:
        raise CliError(
            f"days {first}..{last} are outside the event partitions {keys[0]}..{keys[-1]}; "
            "set DEVMENTOR_PARTITIONS_START earlier (YYYY-MM-DD) or check the file dates."
        )
    return max(first, keys[0]), min(last, keys[-1])


def cmd_materialize(args: argparse.Namespace) -> int:
    settings = _settings()
    started = time.perf_counter()
    days = "inbox"
    if args.date:
        days = (args.date.isoformat(), args.date.isoformat())
    elif args.from_date or args.to_date:
        if not (args.from_date and args.to_date) or args.from_date > args.to_date:
            raise CliError("--from and --to go together, with --from on or before --to")
        days = (args.from_date.isoformat(), args.to_date.isoformat())
    result = run_pipeline(settings, args.select, days=days, full_refresh=args.full_refresh)
    if not result.success:
        _say(f"Run {result.run_id} failed after {time.perf_counter() - started:.1f}s; see the messages above, "
             "or open the run in the Dagster UI (`devmentor ui`). Serving tables were left at their last good version.")
        return 1
    _say(f"Run {result.run_id} succeeded in {time.perf_counter() - started:.1f}s.")
    return 0


# -------------------------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    started = time.perf_counter()
    _say(f"DevMentor demo — data directory {settings.home}")
    marker = settings.inbox / "_generated.json"
    if args.fresh and settings.home.exists():
        _say("  --fresh: removing the previous demo data (lake, warehouse, inbox)")
        for p in (settings.inbox, settings.lake, settings.warehouse_path):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        settings.ensure_dirs()
    if marker.exists():
        _say(f"[1/3] Sample data already in {settings.inbox} ({json.loads(marker.read_text()).get('events', '?'):,} events); "
             "use --fresh to regenerate")
    else:
        _say(f"[1/3] Generating sample data: {args.learners:,} learners × {args.days} days into {settings.inbox}")
        from assets.ingest.generator import generate

        summary = generate(settings.inbox, learners=args.learners, days=args.days, seed=args.seed,
                           progress=lambda m: _say(f"      {m}"))
        _say(f"      {summary.events:,} events and {summary.chat_messages:,} chat messages in {summary.seconds:.1f}s")
    _say("[2/3] Running the pipeline: ingest → dbt features → train trees (MLflow) → decide → publish (PostgreSQL)")
    result = run_pipeline(settings)
    if not result.success:
        _say("The pipeline failed; the messages above say where. Fix the cause and rerun `devmentor demo`; "
             "serving tables keep their last good version.")
        return 1
    _say("[3/3] Summary")
    _print_summary(settings)
    _say(f"\nDemo finished in {time.perf_counter() - started:.1f}s.")
    _say(
        "\nWhere to look next:\n"
        "  devmentor ui          Dagster UI (assets, runs, lineage)  → http://127.0.0.1:3000\n"
        "  devmentor dashboard   instructor dashboard (Streamlit)    → http://127.0.0.1:8501\n"
        "  devmentor serve       Learning Engine read API (FastAPI)  → http://127.0.0.1:3005/docs\n"
        "  psql \"$(devmentor db url)\" -c 'SELECT decision_label, count(*) FROM serving.learner_decisions GROUP BY 1'\n"
        f"  mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}   (MLflow runs and the model registry)\n"
        f"  DuckDB warehouse with the feature marts: {settings.warehouse_path}"
    )
    return 0


def _print_summary(settings: Settings) -> None:
    from orchestration import postgres

    url = settings.database_url or postgres.embedded_url(settings.pg_data_dir)
    with postgres.connect(url) as conn:
        trees = conn.execute(
            "SELECT tree_id, count(*), count(DISTINCT user_id), max(decision_version) "
            "FROM serving.learner_decisions GROUP BY 1 ORDER BY 1 DESC"
        ).fetchall()
        labels = conn.execute(
            "SELECT tree_id, decision_label, count(*) FROM serving.learner_decisions GROUP BY 1, 2 ORDER BY 1 DESC, 3 DESC"
        ).fetchall()
        others = {}
        for table in ("mastery", "review_queue", "learning_path", "recommendations", "next_quiz",
                      "learner_xp", "badges", "streaks", "leaderboards", "reward_log"):
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"serving.{table}",)).fetchone()[0]
            if exists:
                others[table] = conn.execute(f"SELECT count(*) FROM serving.{table}").fetchone()[0]
    for tree_id, rows, learners, version in trees:
        _say(f"      serving.learner_decisions / {tree_id} v{version}: {rows:,} decisions for {learners:,} learners")
        for t, label, n in labels:
            if t == tree_id:
                _say(f"        {label:<22} {n:>7,}")
    if others:
        _say("      learning engine and gamification: " + ", ".join(f"serving.{t} {n:,}" for t, n in others.items()))


# ---------------------------------------------------------------------------------------- ui, db
def cmd_ui(args: argparse.Namespace) -> int:
    settings = _settings()
    from orchestration.instance import write_instance_yaml

    write_instance_yaml(settings)
    dagster = Path(sys.executable).parent / "dagster"
    cmd = [str(dagster) if dagster.exists() else "dagster", "dev", "-m", "orchestration.definitions",
           "-h", args.host, "-p", str(args.port)]
    _say(f"Dagster UI on http://{args.host}:{args.port} (instance {settings.dagster_home}); Ctrl-C to stop")
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=settings.child_env())


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = _settings()
    streamlit = Path(sys.executable).parent / "streamlit"
    app = PROJECT_ROOT / "dashboards" / "app.py"
    cmd = [str(streamlit) if streamlit.exists() else "streamlit", "run", str(app), "--server.port", str(args.port),
           "--server.address", args.host, "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    _say(f"Dashboard on http://{args.host}:{args.port}; Ctrl-C to stop")
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=settings.child_env())


def api_database_url(settings: Settings) -> str:
    """Where the read API connects: DEVMENTOR_READER_URL, else the serving database as the read-only role."""
    import os

    from assets.serving.publish import reader_url
    from orchestration import postgres

    explicit = (os.environ.get("DEVMENTOR_READER_URL") or "").strip()
    if explicit:
        return explicit
    base = settings.database_url or postgres.embedded_url(settings.pg_data_dir)
    return reader_url(base, password=os.environ.get("DEVMENTOR_READER_PASSWORD") or None)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()
    from assets.serving.api import serve
    from orchestration.postgres import redact

    url = api_database_url(settings)
    _say(f"Learning Engine read API on http://{args.host}:{args.port} (OpenAPI at /docs), reading {redact(url)}; Ctrl-C to stop")
    serve(url, host=args.host, port=args.port)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    settings = _settings()
    from orchestration.privacy import forget

    report = forget(settings, args.learner_id)
    if not report:
        _say(f"{args.learner_id}: no data found; a tombstone now keeps any future input about them out.")
        return 0
    _say(f"Forgot {args.learner_id}; removed:")
    for place, n in report.items():
        _say(f"  {place:<55} {n:>8,}")
    _say("A tombstone (a keyed hash, not the id) keeps re-ingested files from bringing them back.")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings()
    from orchestration import postgres

    if args.action == "url":
        print(settings.database_url or postgres.embedded_url(settings.pg_data_dir))
        return 0
    if args.action == "stop":
        if settings.database_url:
            raise CliError("DEVMENTOR_DATABASE_URL is set: that server is not ours to stop.")
        stopped = postgres.stop_embedded(settings.pg_data_dir)
        _say("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
        return 0
    raise CliError(f"unknown db action {args.action!r}")


def cmd_warehouse(args: argparse.Namespace) -> int:
    """The scale-out path: the lake into PostgreSQL, then the same dbt project built there."""
    settings = _settings()
    from assets.features.postgres_warehouse import dbt_build, load_lake
    from orchestration import postgres

    url = args.url or settings.database_url or postgres.embedded_url(settings.pg_data_dir)
    _say(f"loading the lake {settings.lake} into schema lake of {postgres.redact(url)}")
    with postgres.connect(url, autocommit=True) as conn:
        rows = load_lake(settings.lake, conn, progress=_say)
    _say(f"{sum(rows.values()):,} rows loaded; dbt build --target postgres")
    if dbt_build(url, settings.home / "dbt-target-postgres").returncode:
        raise CliError("dbt build on PostgreSQL failed; its log above names the model and the error.")
    _say("feature tables built in schemas staging, intermediate, marts and analytics of that database")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings()
    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path} does not exist")
    if args.source == "oulad":
        from assets.ingest.contract import ENTITIES
        from assets.ingest.oulad import OuladError, to_contract
        from assets.ingest.validate import ingest_entity

        staging = settings.inbox / "oulad"
        try:
            counts = to_contract(path, staging)
        except OuladError as exc:
            raise CliError(str(exc)) from None
        _say(f"{path}: mapped to the input contract in {staging}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        for entity in ENTITIES:
            result = ingest_entity(entity, staging, settings.lake)
            if result.files:
                reasons = result.reasons()
                _say(f"  {entity.name}: {result.rows_good:,} rows landed, {result.rows_quarantined:,} quarantined"
                     + (f" ({reasons})" if reasons else ""))
        _say("Run `devmentor materialize --select 'group:features'` to build the feature tables, and "
             "`python benchmarks/bench_oulad.py PATH` for the early-warning study.")
        return 0
    if args.source == "xapi":
        from assets.ingest.xapi import ingest_xapi

        counts = ingest_xapi(path, settings.inbox, settings.lake)
        _say(
            f"{path}: {counts['statements_mapped']:,} statements mapped, {counts['statements_rejected']:,} rejected "
            f"(lake/quarantine/xapi), {counts['events_landed']:,} events landed, "
            f"{counts['events_quarantined_by_contract']:,} quarantined by the contract checks; "
            f"{counts['new_learners']:,} new learners, {counts['new_courses']:,} new courses. "
            "Run `devmentor materialize` to build features and decisions."
        )
        return 0
    raise CliError(f"unknown source {args.source!r}")


def cmd_chat(args: argparse.Namespace) -> int:
    settings = _settings()
    from assets.features.chat_search import search

    if not settings.warehouse_path.exists():
        raise CliError(f"no warehouse at {settings.warehouse_path}; run `devmentor demo` or `devmentor materialize` first.")
    try:
        hits = search(settings.warehouse_path, args.query, learner=args.learner, limit=args.limit)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if hits.empty:
        _say(f"no chat message matches {args.query!r}" + (f" for learner {args.learner}" if args.learner else ""))
        return 0
    for row in hits.itertuples():
        _say(f"{row.score:7.3f}  {row.sent_at:%Y-%m-%d %H:%M}  {row.user_id:<10} {row.message_direction:<6} {row.message_text}")
    return 0


# ------------------------------------------------------------------------------------------ main
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from assets.ingest.generator import DEFAULT_END_DATE, OUTPUT_FORMATS

    parser = argparse.ArgumentParser(prog="devmentor", description="DevMentor Learning Engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="generate a sample and run the whole pipeline on the embedded defaults")
    p.add_argument("--learners", type=_positive_int, default=2000)
    p.add_argument("--days", type=_positive_int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fresh", action="store_true", help="delete previous demo data first")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("generate", help="write deterministic synthetic input files")
    p.add_argument("--learners", type=_positive_int, required=True)
    p.add_argument("--days", type=_positive_int, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="parquet")
    p.add_argument("--end-date", type=_date, default=DEFAULT_END_DATE, help="last day of activity (YYYY-MM-DD)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("materialize", help="run the pipeline, or a selection of assets")
    p.add_argument("--select", help="Dagster asset selection, e.g. 'group:ml' or 'key:serving/*'")
    p.add_argument("--date", type=_date, help="process the event files of this day only (a daily run)")
    p.add_argument("--from", dest="from_date", type=_date, help="first day of a backfill (with --to)")
    p.add_argument("--to", dest="to_date", type=_date, help="last day of a backfill (with --from)")
    p.add_argument("--full-refresh", action="store_true", help="rebuild every dbt model from scratch")
    p.set_defaults(func=cmd_materialize)

    p = sub.add_parser("ui", help="open the Dagster UI on this project's instance")
    p.add_argument("--port", type=_positive_int, default=3000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("dashboard", help="start the instructor dashboard (Streamlit)")
    p.add_argument("--port", type=_positive_int, default=8501)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("serve", help="start the Learning Engine read API (FastAPI) over the serving tables")
    p.add_argument("--port", type=_positive_int, default=3005)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ingest", help="bring in data from another format")
    p.add_argument("source", choices=("oulad", "xapi"),
                   help="oulad: an OULAD release directory (original CSV layout); xapi: statements as JSON or JSON Lines (LRS, Open edX)")
    p.add_argument("path")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("chat", help="search chat messages (full-text, BM25 ranking)")
    chat = p.add_subparsers(dest="chat_command", required=True)
    q = chat.add_parser("search", help="messages ranked by relevance to QUERY")
    q.add_argument("query")
    q.add_argument("--learner", help="only this learner's messages (user_id)")
    q.add_argument("--limit", type=_positive_int, default=10)
    q.set_defaults(func=cmd_chat)

    p = sub.add_parser("forget", help="remove every trace of a learner (lake, warehouse, serving, chat index) and keep them out")
    p.add_argument("learner_id")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("warehouse", help="scale-out: load the lake into PostgreSQL and build the dbt project there")
    p.add_argument("target", choices=("postgres",))
    p.add_argument("--url", help="PostgreSQL URL (default: DEVMENTOR_DATABASE_URL, else the embedded server)")
    p.set_defaults(func=cmd_warehouse)

    p = sub.add_parser("db", help="the serving database")
    p.add_argument("action", choices=("url", "stop"))
    p.set_defaults(func=cmd_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    apply_telemetry_off()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CliError, ConfigurationError) as exc:
        print(f"devmentor: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
