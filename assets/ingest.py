"""Ingest stage: inbox files → validated Parquet lake (raw/*), bad rows quarantined; blocking checks on what landed."""


import dagster as dg

from devmentor.ingest.contract import BY_NAME, ENTITIES, Entity
from devmentor.ingest.days import files_for_days, run_day_range, window_for_days
from devmentor.ingest.validate import discover, ingest_entity
from devmentor.quality import record_check, validate_landed
from devmentor.settings import Settings
from devmentor.storage.lake import Lake

QUARANTINE_CHECK = "quarantine_share_within_limit"


def event_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Daily partitions of arriving event and chat files (events/YYYY-MM-DD.*); end_offset=1 includes today."""
    return dg.DailyPartitionsDefinition(start_date=settings.partitions_start, timezone="UTC", end_offset=1)


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


def _raw_asset(entity: Entity, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", entity.name])
    partitioned = entity.partition_by_date_of is not None

    @dg.asset(
        key=key,
        group_name="ingest",
        kinds={"parquet", "duckdb"},
        deps=sorted({dg.AssetKey(["raw", fk.entity]) for fk in entity.foreign_keys if fk.entity != entity.name}),
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
    asset=dg.AssetKey(["raw", "events"]),
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


def definitions(settings: Settings) -> dg.Definitions:
    partitions = event_partitions(settings)
    return dg.Definitions(assets=[_raw_asset(e, partitions) for e in ENTITIES], asset_checks=[raw_events_expectations])
