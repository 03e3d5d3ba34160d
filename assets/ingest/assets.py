"""Raw ingest assets: inbox files → validated Parquet lake, bad rows quarantined."""


import dagster as dg

from assets.ingest.contract import ENTITIES, Entity
from assets.ingest.validate import ingest_entity
from orchestration.resources import LakeResource


def _make_raw_asset(entity: Entity) -> dg.AssetsDefinition:
    deps = sorted({dg.AssetKey(["raw", fk.entity]) for fk in entity.foreign_keys if fk.entity != entity.name})

    @dg.asset(
        key=["raw", entity.name],
        group_name="ingest",
        kinds={"parquet", "duckdb"},
        deps=deps,
        description=f"{entity.description} Validated from inbox/{entity.folder}/ into lake/raw/{entity.name}/; bad rows to lake/quarantine/{entity.name}/.",
        owners=["team:data-platform"],
    )
    def _raw(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        result = ingest_entity(entity, lake.inbox_path, lake.lake_path)
        for f in result.files:
            if f.file_error:
                context.log.warning(f"{f.source_file}: quarantined whole: {f.file_error}")
            elif f.rows_quarantined:
                context.log.warning(
                    f"{f.source_file}: {f.rows_quarantined} of {f.rows_in} rows quarantined ({f.reasons})"
                )
        meta = result.metadata()
        context.log.info(
            f"raw/{entity.name}: {meta['files_ingested']} new file(s), {meta['rows_good']:,} rows landed, "
            f"{meta['rows_quarantined']:,} quarantined"
        )
        return dg.MaterializeResult(
            metadata={
                **{k: v for k, v in meta.items() if k != "quarantine_reasons"},
                "quarantine_reasons": dg.MetadataValue.json(meta["quarantine_reasons"]),
                "lake_path": dg.MetadataValue.path(str(lake.lake_path / "raw" / entity.name)),
            }
        )

    return _raw


raw_assets = [_make_raw_asset(e) for e in ENTITIES]
