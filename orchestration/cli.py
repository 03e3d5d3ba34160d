"""The ``devmentor`` entry point: the platform's commands (devmentor/cli.py) plus those that run the pipeline.

    devmentor demo                      generate a sample, run the whole pipeline, say where to look
    devmentor materialize [--select SELECTION] [--date D | --from D --to D] [--full-refresh]
    devmentor ingest oulad PATH         the Open University Learning Analytics Dataset, through the ingest assets
    devmentor ingest xapi FILE          xAPI statements (JSON / JSON Lines), through the ingest assets
    devmentor ingest caliper FILE       IMS Caliper 1.2 events (envelope / JSON array / JSON Lines), likewise
    devmentor ingest assistments PATH   ASSISTments 2009 skill-builder responses, through the ingest assets
    devmentor replay oulad PATH --day N [--term 2014J] [--fresh] [--json]
                                        real history as known on day N, through the whole pipeline, scored
                                        against the real outcomes (orchestration/replay.py)
    devmentor replay assistments PATH --cut F [--fresh] [--json]
                                        each test learner's first F answers through the whole pipeline, scored
                                        against what they did next
    devmentor warehouse postgres        scale-out: the lake into PostgreSQL, the same dbt project built there
    devmentor warehouse spark [--master M]  distributed: the same dbt project on Spark, the lake's Parquet as sources
    devmentor ui [--port 3000]          the Dagster UI on this project's instance
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from devmentor.cli import CliError, iso_date, positive_int, resolve_settings, run, say
from devmentor.cli import build_parser as platform_parser
from devmentor.settings import PROJECT_ROOT, Settings
from orchestration.replay import cmd_replay
from orchestration.runner import RunError, run_pipeline


def raw_rows(result, entity: str) -> dict[str, int]:
    """rows_good / rows_quarantined of raw/<entity> in a finished run (zeros when it did not run). A step over
    a range of day partitions reports one materialization per day, each with the whole step's counts: a step
    counts once (summing them multiplied the OULAD import's 524,037 events by its 965 days)."""
    out = {"rows_good": 0, "rows_quarantined": 0}
    steps = set()
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == f"raw/{entity}" and event.step_key not in steps:
            steps.add(event.step_key)
            meta = event.materialization.metadata
            for k in out:
                if k in meta:
                    out[k] += int(meta[k].value)
    return out


def cmd_materialize(args: argparse.Namespace) -> int:
    settings = resolve_settings()
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
        say(f"Run {result.run_id} failed after {time.perf_counter() - started:.1f}s; see the messages above, "
            "or open the run in the Dagster UI (`devmentor ui`). Serving tables were left at their last good version.")
        return 1
    say(f"Run {result.run_id} succeeded in {time.perf_counter() - started:.1f}s.")
    return 0


def _generate_demo_data(settings: Settings, args: argparse.Namespace) -> None:
    marker = settings.inbox / "_generated.json"
    if args.fresh and settings.home.exists():
        say("  --fresh: removing the previous demo data (lake, warehouse, inbox)")
        settings.clear_data()
    if marker.exists():
        say(f"[1/3] Sample data already in {settings.inbox} ({json.loads(marker.read_text()).get('events', '?'):,} events); "
            "use --fresh to regenerate")
        return
    say(f"[1/3] Generating sample data: {args.learners:,} learners × {args.days} days into {settings.inbox}")
    from devmentor.generator import generate

    summary = generate(settings.inbox, learners=args.learners, days=args.days, seed=args.seed,
                       progress=lambda m: say(f"      {m}"))
    say(f"      {summary.events:,} events and {summary.chat_messages:,} chat messages in {summary.seconds:.1f}s")


def cmd_demo(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    started = time.perf_counter()
    say(f"DevMentor demo — data directory {settings.home}")
    _generate_demo_data(settings, args)
    say("[2/3] Running the pipeline: ingest → dbt features → train trees (MLflow) → decide → publish (PostgreSQL)")
    result = run_pipeline(settings)
    if not result.success:
        say("The pipeline failed; the messages above say where. Fix the cause and rerun `devmentor demo`; "
            "serving tables keep their last good version.")
        return 1
    say("[3/3] Summary")
    _print_summary(settings)
    say(f"\nDemo finished in {time.perf_counter() - started:.1f}s.")
    say(
        "\nWhere to look next:\n"
        "  devmentor ui          Dagster UI (assets, runs, lineage)  → http://127.0.0.1:3000\n"
        "  devmentor dashboard   instructor dashboard (Streamlit)    → http://127.0.0.1:8501\n"
        "  devmentor serve       Learning Engine read API (FastAPI)  → http://127.0.0.1:3005/docs\n"
        "  psql \"$(devmentor db url)\" -c 'SELECT decision_label, count(*) FROM serving.learner_decisions GROUP BY 1'\n"
        f"  mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}   (MLflow runs and the model registry)\n"
        f"  DuckDB warehouse with the feature marts: {settings.warehouse_path}"
    )
    return 0


SUMMARY_TABLES = ("mastery", "review_queue", "learning_path", "recommendations", "next_quiz",
                  "learner_xp", "badges", "streaks", "leaderboards", "reward_log")


def _print_summary(settings: Settings) -> None:
    with settings.serving_db().connect() as conn:
        trees = conn.execute(
            "SELECT tree_id, count(*), count(DISTINCT user_id), max(decision_version) "
            "FROM serving.learner_decisions GROUP BY 1 ORDER BY 1 DESC").fetchall()
        labels = conn.execute(
            "SELECT tree_id, decision_label, count(*) FROM serving.learner_decisions GROUP BY 1, 2 ORDER BY 1 DESC, 3 DESC"
        ).fetchall()
        others = {}
        for table in SUMMARY_TABLES:
            if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"serving.{table}",)).fetchone()[0]:
                others[table] = conn.execute(f"SELECT count(*) FROM serving.{table}").fetchone()[0]
    for tree_id, rows, learners, version in trees:
        say(f"      serving.learner_decisions / {tree_id} v{version}: {rows:,} decisions for {learners:,} learners")
        for t, label, n in labels:
            if t == tree_id:
                say(f"        {label:<22} {n:>7,}")
    if others:
        say("      learning engine and gamification: " + ", ".join(f"serving.{t} {n:,}" for t, n in others.items()))


def cmd_ui(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    from orchestration.instance import dagster_dev_env, write_instance_yaml

    write_instance_yaml(settings)
    dagster = Path(sys.executable).parent / "dagster"
    cmd = [str(dagster) if dagster.exists() else "dagster", "dev", "-m", "orchestration.definitions",
           "-h", args.host, "-p", str(args.port)]
    say(f"Dagster UI on http://{args.host}:{args.port} (instance {settings.dagster_home}); Ctrl-C to stop")
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=dagster_dev_env(settings.child_env()))


def cmd_warehouse(args: argparse.Namespace) -> int:
    """The scale-out path: the lake into PostgreSQL, then the same dbt project built there (or on Spark)."""
    settings = resolve_settings()
    if args.target == "spark":
        return warehouse_spark(settings, args.master)
    from assets.features import run_dbt
    from devmentor.features.postgres_warehouse import dbt_env, load_lake
    from devmentor.storage import postgres

    url = args.url or settings.serving_db().url()
    say(f"loading the lake {settings.lake} into schema lake of {postgres.redact(url)}")
    with postgres.connect(url, autocommit=True) as conn:
        rows = load_lake(settings.lake, conn, progress=say)
    say(f"{sum(rows.values()):,} rows loaded; dbt build --target postgres")
    invocation = run_dbt(["build"], {**settings.dbt_env(), **dbt_env(url), "PGTZ": "UTC"},
                         settings.home / "dbt-target-postgres", target="postgres")
    if not invocation.is_successful():
        raise CliError(f"dbt build on PostgreSQL failed: {invocation.get_error()}")
    say("feature tables built in schemas staging, intermediate, marts and analytics of that database")
    return 0


def warehouse_spark(settings: Settings, master: str | None) -> int:
    """The distributed path: dbt-spark builds the same project, the lake's Parquet folders registered as its sources."""
    import importlib.util

    from devmentor.features import spark_warehouse

    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise CliError("the Spark target needs dbt-spark and PySpark: pip install -c constraints.txt -e '.[spark]'")
    java = spark_warehouse.java_runtime()
    if not java:
        raise CliError("Spark needs a Java runtime (17 or later), e.g. apt-get install default-jre-headless")
    from assets.features import run_dbt

    spark_dir = settings.home / "spark"
    env = {**settings.dbt_env(), **spark_warehouse.dbt_env(settings.lake, spark_dir, master)}
    say(f"dbt build --target spark on {master or 'local[2]'} ({java}); metastore and tables under {spark_dir}")
    invocation = run_dbt(["build"], env, settings.home / "dbt-target-spark", target="spark")
    if not invocation.is_successful():
        raise CliError(f"dbt build on Spark failed: {invocation.get_error()}")
    say("feature tables built in databases staging, intermediate, marts and analytics of that Spark metastore "
        "(read them with pyspark, or devmentor.features.spark_warehouse.session)")
    return 0


def ingest_through_pipeline(settings: Settings, days: tuple[str, str] | None = None):
    """Run the ingest assets (validation, quarantine, blocking checks, lineage) on what the inbox holds."""
    result = run_pipeline(settings, select="group:ingest", days=days or "inbox")
    if not result.success:
        raise CliError("the ingest run failed; the messages above say which check or file, and "
                       "lake/quarantine/ holds every rejected row with its reason.")
    return result


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = resolve_settings()
    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path} does not exist")
    if args.source == "assistments":
        from devmentor.importers.assistments import to_contract as assistments_contract

        counts = assistments_contract(path, settings.inbox)
        say(f"{path}: mapped to the input contract in {settings.inbox}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        events = raw_rows(ingest_through_pipeline(settings), "events")
        say(f"  events: {events['rows_good']:,} answers landed, {events['rows_quarantined']:,} quarantined. "
            "Run `devmentor materialize` for mastery, paths, recommendations and quizzes.")
        return 0
    if args.source == "oulad":
        from devmentor.importers.oulad import OuladError, to_contract

        try:
            counts = to_contract(path, settings.inbox)
        except OuladError as exc:
            raise CliError(str(exc)) from None
        say(f"{path}: mapped to the input contract in {settings.inbox}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        events = raw_rows(ingest_through_pipeline(settings), "events")
        say(f"  events: {events['rows_good']:,} rows landed, {events['rows_quarantined']:,} quarantined")
        say("Run `devmentor materialize` to build features and decisions, and "
            "`python benchmarks/bench_oulad.py PATH` for the early-warning study.")
        return 0
    from devmentor.importers.caliper import import_caliper
    from devmentor.importers.xapi import import_xapi
    from devmentor.privacy import privacy_key

    importer, noun = (import_caliper, "events") if args.source == "caliper" else (import_xapi, "statements")
    counts = importer(path, settings.inbox, settings.lake, privacy_key(settings.home))
    days = (counts["days"][0], counts["days"][-1]) if counts["days"] else None
    events = raw_rows(ingest_through_pipeline(settings, days), "events")
    seen = counts["statements_mapped"] + counts["statements_rejected"]
    say(f"{path}: {counts['statements_mapped']:,} {noun} mapped, {counts['statements_rejected']:,} rejected "
        f"(lake/quarantine/{args.source}; mapped share {counts['statements_mapped'] / max(seen, 1):.0%}), "
        f"{events['rows_good']:,} events landed, {events['rows_quarantined']:,} quarantined by the contract checks; "
        f"{counts['chat_messages']:,} chat messages, {counts['enrolments']:,} enrolments, {counts['outcomes']:,} outcomes; "
        f"{counts['new_learners']:,} new learners, {counts['new_courses']:,} new courses. "
        "Run `devmentor materialize` to build features and decisions.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser, sub = platform_parser()

    p = sub.add_parser("demo", help="generate a sample and run the whole pipeline on the embedded defaults")
    p.add_argument("--learners", type=positive_int, default=2000)
    p.add_argument("--days", type=positive_int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fresh", action="store_true", help="delete previous demo data first")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("materialize", help="run the pipeline, or a selection of assets")
    p.add_argument("--select", help="Dagster asset selection, e.g. 'group:ml' or 'key:serving/*'")
    p.add_argument("--date", type=iso_date, help="process the event files of this day only (a daily run)")
    p.add_argument("--from", dest="from_date", type=iso_date, help="first day of a backfill (with --to)")
    p.add_argument("--to", dest="to_date", type=iso_date, help="last day of a backfill (with --from)")
    p.add_argument("--full-refresh", action="store_true", help="rebuild every dbt model from scratch")
    p.set_defaults(func=cmd_materialize)

    p = sub.add_parser("ui", help="open the Dagster UI on this project's instance")
    p.add_argument("--port", type=positive_int, default=3000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("ingest", help="bring in data from another format, through the same ingest and checks")
    p.add_argument("source", choices=("oulad", "xapi", "assistments", "caliper"),
                   help="oulad: an OULAD release directory (original CSV layout); xapi: statements as JSON or JSON Lines (LRS, Open edX); "
                        "caliper: Caliper 1.2 events (an envelope with data, a JSON array or JSON Lines)")
    p.add_argument("path")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("replay", help="replay real history as known on day N through the whole pipeline, "
                                      "then score the published decisions against the real outcomes")
    p.add_argument("source", choices=("oulad", "assistments"))
    p.add_argument("path", help="an OULAD release directory (original CSV layout)")
    p.add_argument("--day", type=int, help="oulad: course day N of the term's presentations (0 = start)")
    p.add_argument("--cut", type=int, help="assistments: answers of each test learner the pipeline sees (the rest are scored)")
    p.add_argument("--term", help="presentation code, e.g. 2014J (default: the latest); earlier ones are complete")
    p.add_argument("--fresh", action="store_true", help="delete this data directory's inbox, lake and warehouse first")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON object on the last line")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("warehouse", help="scale-out: build the dbt project on PostgreSQL (the lake loaded first) or on Spark")
    p.add_argument("target", choices=("postgres", "spark"))
    p.add_argument("--url", help="PostgreSQL URL (default: DEVMENTOR_DATABASE_URL, else the embedded server)")
    p.add_argument("--master", help="Spark master (default: DEVMENTOR_SPARK_MASTER, else local[2]; spark://..., yarn, k8s://...)")
    p.set_defaults(func=cmd_warehouse)
    return parser


def main(argv: list[str] | None = None) -> int:
    from orchestration.instance import quiet_known_notices

    quiet_known_notices()  # platformdirs' "XDG_RUNTIME_DIR is not set", printed by every command otherwise
    return run(build_parser(), argv, errors=(RunError,))


if __name__ == "__main__":
    sys.exit(main())
