"""Ingest stage: inbox files → validated Parquet lake (raw/*), bad rows quarantined; blocking checks on what landed."""


import re
from functools import lru_cache
from pathlib import Path

import dagster as dg

from devmentor.ingest.contract import BY_NAME, ENTITIES, Entity
from devmentor.ingest.days import file_day, files_for_days, inbox_day_range, run_day_range, window_for_days
from devmentor.ingest.validate import READABLE_SUFFIXES, discover, ingest_entity, lit, raw_dir
from devmentor.quality import record_check, validate_landed
from devmentor.settings import Settings
from devmentor.storage.lake import Lake

QUARANTINE_CHECK = "quarantine_share_within_limit"
# The first partition when there is no data at all yet (and DEVMENTOR_PARTITIONS_START is unset).
FALLBACK_PARTITIONS_START = "2025-01-01"
DATED_ENTITIES = [e for e in ENTITIES if e.partition_by_date_of]
_LAKE_DAY = re.compile(r"^event_date=(\d{4}-\d{2}-\d{2})$")


@lru_cache(maxsize=256)
def _file_day_span(path: str, field: str, _fingerprint: tuple[int, int]) -> tuple[str, str] | None:
    """(first, last) UTC day of ``field`` in one undated file; None when unreadable (ingest will say why)."""
    import duckdb

    kind = READABLE_SUFFIXES.get(Path(path).suffix.lower())
    reader = {"parquet": f"read_parquet({lit(path)})", "csv": f"read_csv({lit(path)}, all_varchar = true)",
              "jsonl": f"read_json({lit(path)}, format = 'auto', columns = {{{lit(field)}: 'VARCHAR'}})"}.get(kind)
    if reader is None:
        return None
    day = f'CAST(timezone(\'UTC\', TRY_CAST("{field}" AS TIMESTAMPTZ)) AS DATE)'
    try:
        with duckdb.connect() as con:
            first, last = con.execute(f"SELECT min({day}), max({day}) FROM {reader}").fetchone()
    except duckdb.Error:
        return None
    return (first.isoformat(), last.isoformat()) if first else None


def undated_day_range(inbox: Path, only: set[str] | None = None) -> tuple[str, str] | None:
    """(first, last) day of the events and chat inside the inbox's undated files (an importer's whole-dataset
    files, e.g. OULAD's one file per presentation), read from their timestamps; ``only``: just these files
    (paths relative to the inbox)."""
    spans = []
    for entity in DATED_ENTITIES:
        for path in discover(inbox, entity):
            if file_day(path) is None and (only is None or str(path.relative_to(inbox)) in only):
                st = path.stat()
                spans.append(_file_day_span(str(path), entity.partition_by_date_of, (st.st_size, st.st_mtime_ns)))
    spans = [s for s in spans if s]
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


def lake_day_range(lake: Path) -> tuple[str, str] | None:
    """(first, last) day already in the lake (its event_date=YYYY-MM-DD folders)."""
    days = sorted(m.group(1) for e in DATED_ENTITIES if raw_dir(lake, e).is_dir()
                  for d in raw_dir(lake, e).iterdir() if (m := _LAKE_DAY.match(d.name)))
    return (days[0], days[-1]) if days else None


def data_day_range(settings: Settings) -> tuple[str, str] | None:
    """(first, last) UTC day of the event and chat data the pipeline knows: the inbox's dated files by name,
    its undated files by their timestamps, and what the lake already holds."""
    spans = [s for s in (inbox_day_range(settings.inbox), undated_day_range(settings.inbox), lake_day_range(settings.lake)) if s]
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


def partitions_start(settings: Settings) -> str:
    """DEVMENTOR_PARTITIONS_START when set, else the earliest day of data (resolved when definitions load)."""
    if settings.partitions_start:
        return settings.partitions_start
    span = data_day_range(settings)
    return span[0] if span else FALLBACK_PARTITIONS_START


def event_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Daily partitions of arriving event and chat files (events/YYYY-MM-DD.*), from the first day of data
    (or DEVMENTOR_PARTITIONS_START); end_offset=1 includes today."""
    return dg.DailyPartitionsDefinition(start_date=partitions_start(settings), timezone="UTC", end_offset=1)


def _quarantine_check(entity: Entity, meta: dict, limit: float) -> tuple[dg.AssetCheckResult, dict]:
    read = meta["rows_good"] + meta["rows_quarantined"]
    share = meta["rows_quarantined"] / read if read else 0.0
    figures = {"quarantined_share": round(share, 4), "limit": limit, "rows_read": read}
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=share <= limit,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**figures, "files_rejected": meta["files_rejected"]},
        description=None if share <= limit else (
            f"{share:.1%} of rows quarantined (limit {limit:.0%}); see lake/quarantine/{entity.name}/ "
            "for the file, row, field and reason of each, fix the source and re-run."),
    ), figures


def raw_key(name: str) -> dg.AssetKey:
    """The asset key of a contract entity's landed table (lake/raw/<name>)."""
    return dg.AssetKey(["raw", name])


def _raw_asset(entity: Entity, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = raw_key(entity.name)
    partitioned = entity.partition_by_date_of is not None

    @dg.asset(
        key=key,
        group_name="ingest",
        kinds={"parquet", "duckdb"},
        deps=sorted({raw_key(fk.entity) for fk in entity.foreign_keys if fk.entity != entity.name}),
        description=f"{entity.description} Validated from inbox/{entity.folder}/ into lake/raw/{entity.name}/; "
                    f"bad rows to lake/quarantine/{entity.name}/.",
        owners=["team:data-platform"],
        partitions_def=partitions if partitioned else None,
        check_specs=[dg.AssetCheckSpec(
            QUARANTINE_CHECK, asset=key, blocking=True,
            description="At most DEVMENTOR_MAX_QUARANTINE_SHARE (default 5%) of the rows read in this run "
                        "were quarantined; more stops publication downstream.")],
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
    )
    def _raw(context: dg.AssetExecutionContext, lake: dg.ResourceParam[Lake],
             settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        files = None
        if partitioned:
            window = context.partition_key_range
            files = files_for_days(discover(lake.inbox_path, entity), window.start, window.end)
            context.log.info(f"raw/{entity.name}: days {window.start}..{window.end}: {len(files)} file(s) in the inbox")
        result = ingest_entity(entity, lake.inbox_path, lake.lake_path, files=files)
        for f in result.files:
            if f.file_error:
                context.log.warning(f"{f.source_file}: quarantined whole: {f.file_error}")
            elif f.rows_quarantined:
                context.log.warning(f"{f.source_file}: {f.rows_quarantined} of {f.rows_in} rows quarantined ({f.reasons})")
        meta = result.metadata()
        context.log.info(f"raw/{entity.name}: {meta['files_ingested']} new file(s), {meta['rows_good']:,} rows landed, "
                         f"{meta['rows_quarantined']:,} quarantined")
        check, figures = _quarantine_check(entity, meta, settings.max_quarantine_share)
        record_check(lake.lake_path, f"raw/{entity.name}", QUARANTINE_CHECK, check.passed, figures, context.run_id)
        return dg.MaterializeResult(
            check_results=[check],
            metadata={
                **{k: v for k, v in meta.items() if k != "quarantine_reasons"},
                "quarantine_reasons": dg.MetadataValue.json(meta["quarantine_reasons"]),
                "lake_path": dg.MetadataValue.path(str(lake.lake_path / "raw" / entity.name)),
            },
        )

    return _raw


@dg.asset_check(
    asset=raw_key("events"),
    blocking=True,
    description="Great Expectations on the events landed for this run's days, with the suite derived from the "
                "input contract: required fields present, ids unique, known values, numbers within range.",
)
def raw_events_expectations(context: dg.AssetCheckExecutionContext, lake: dg.ResourceParam[Lake]) -> dg.AssetCheckResult:
    days = run_day_range(context.run.tags)
    report = validate_landed(lake.lake_path, BY_NAME["events"], window_for_days(*days) if days else None)
    record_check(lake.lake_path, "raw/events", "raw_events_expectations", report.success, report.metadata(),
                 context.run.run_id)
    return dg.AssetCheckResult(passed=report.success, severity=dg.AssetCheckSeverity.ERROR, metadata=report.metadata())


# Written by every raw/* asset as it validates (not materialized on its own); dbt reads it as source lake.quarantine.
QUARANTINE = dg.AssetSpec(
    key=["raw", "quarantine"], group_name="ingest", kinds={"parquet"}, owners=["team:data-platform"],
    description="Every input row refused at ingest (lake/quarantine/<entity>/), with its source file, row number, "
                "field and reason; written by the raw/* assets as they validate.")


def definitions(settings: Settings, partitions: dg.PartitionsDefinition | None = None) -> dg.Definitions:
    partitions = partitions or event_partitions(settings)
    return dg.Definitions(assets=[*(_raw_asset(e, partitions) for e in ENTITIES), QUARANTINE],
                          asset_checks=[raw_events_expectations])
