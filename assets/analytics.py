"""Analytics stage: cohort views computed from the learning engine's and the trees' outputs."""


import dagster as dg

from devmentor import analytics
from devmentor.settings import Settings
from devmentor.storage.lake import Lake


@dg.asset(key=["analytics", "skill_matrix"], group_name="analytics", kinds={"duckdb", "parquet"},
          deps=[dg.AssetKey(["ml", "learning_engine"])], owners=["team:data-science"])
def skill_matrix(context: dg.AssetExecutionContext, lake: dg.ResourceParam[Lake]) -> dg.MaterializeResult:
    """Cohort mastery per course × skill (mean P(known), share mastered, weakest first); learner × skill is serving.mastery."""
    path, frame = analytics.skill_matrix(lake)
    return dg.MaterializeResult(metadata={
        "rows": len(frame), "path": dg.MetadataValue.path(str(path)),
        "weakest_skills": dg.MetadataValue.md(frame[frame["weakness_rank"] <= 3].to_markdown(index=False))})


@dg.asset(key=["analytics", "predicted_outcomes"], group_name="analytics", kinds={"duckdb", "parquet"},
          deps=[dg.AssetKey(["ml", "learner_decisions_scored"])], owners=["team:data-science"])
def predicted_outcomes(context: dg.AssetExecutionContext, lake: dg.ResourceParam[Lake]) -> dg.MaterializeResult:
    """Distribution of the trees' decisions (segments, interventions) with mean confidence."""
    path, frame = analytics.predicted_outcomes(lake)
    return dg.MaterializeResult(metadata={"rows": len(frame), "path": dg.MetadataValue.path(str(path)),
                                          "distribution": dg.MetadataValue.md(frame.to_markdown(index=False))})


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[skill_matrix, predicted_outcomes])
