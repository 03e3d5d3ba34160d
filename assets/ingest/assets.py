"""Raw ingest assets: inbox files → validated Parquet lake, bad rows quarantined."""


import dagster as dg

from assets.ingest.contract import ENTITIES, Entity
from assets.ingest.partitions import EVENT_PARTITIONS, files_for_days
from assets.ingest.validate import discover, ingest_entity
from assets.quality import record_check
from orchestration.settings import load_settings
from orchestration.resources import LakeResource


def _make_raw_asset(entity: Entity) -> dg.AssetsDefinition:
    deps = sorted({dg.AssetKey(["raw", fk.entity]) for fk in entity.foreign_keys if fk.entity != entity.name})
    partitioned = entity.partition_by_date_of is not None

    @dg.asset(
        key=["raw", entity.name],
        group_name="ingest",
        kinds={"parquet", "duckdb"},
        deps=deps,
        description=f"{entity.description} Validated from inbox/{entity.folder}/ into lake/raw/{entity.name}/; bad rows to lake/quarantine/{entity.name}/.",
        owners=["team:data-platform"],
        partitions_def=EVENT_PARTITIONS if partitioned else None,
        check_specs=[
            dg.AssetCheckSpec(
                "quarantine_share_within_limit",
                asset=dg.AssetKey(["raw", entity.name]),
                blocking=True,
                description="At most DEVMENTOR_MAX_QUARANTINE_SHARE (default 5%) of the rows read in this run "
                "were quarantined; more stops publication downstream.",
            )
        ],
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
    )
    def _raw(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
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
                context.log.warning(
                    f"{f.source_file}: {f.rows_quarantined} of {f.rows_in} rows quarantined ({f.reasons})"
                )
        meta = result.metadata()
        read = meta["rows_good"] + meta["rows_quarantined"]
        share = meta["rows_quarantined"] / read if read else 0.0
        limit = load_settings().max_quarantine_share
        context.log.info(
            f"raw/{entity.name}: {meta['files_ingested']} new file(s), {meta['rows_good']:,} rows landed, "
            f"{meta['rows_quarantined']:,} quarantined"
        )
        check = dg.AssetCheckResult(
            check_name="quarantine_share_within_limit",
            passed=share <= limit,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "quarantined_share": round(share, 4),
                "limit": limit,
                "rows_read": read,
                "files_rejected": meta["files_rejected"],
            },
            description=None if share <= limit else (
                f"{share:.1%} of rows quarantined (limit {limit:.0%}); see lake/quarantine/{entity.name}/ "
                "for the file, row, field and reason of each, fix the source and re-run."
            ),
        )
        record_check(lake.lake_path, f"raw/{entity.name}", "quarantine_share_within_limit", check.passed,
                     {"quarantined_share": round(share, 4), "limit": limit, "rows_read": read}, context.run_id)
        return dg.MaterializeResult(
            check_results=[check],
            metadata={
                **{k: v for k, v in meta.items() if k != "quarantine_reasons"},
                "quarantine_reasons": dg.MetadataValue.json(meta["quarantine_reasons"]),
                "lake_path": dg.MetadataValue.path(str(lake.lake_path / "raw" / entity.name)),
            }
        )

    return _raw


raw_assets = [_make_raw_asset(e) for e in ENTITIES]
