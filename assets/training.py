"""ML stage: train the decision trees (MLflow, champion gate), then decide every learner with the champions."""

from datetime import datetime, timezone

import dagster as dg

from assets.shards import sharded_asset
from devmentor.settings import Settings
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.early_warning import (
    SCORES_TABLE,
    score_early_warning,
    train_early_warning,
)
from devmentor.training.mlflow_store import MlflowStore
from devmentor.training.scoring import ScoredDecisions, combine, score_learners
from devmentor.training.trees import train_and_register
from models import early_warning as ew
from models.decision_trees import TREE_SPECS, TreeSpec

FEATURE_MARTS = [dg.AssetKey(["marts", name]) for name in ("fct_learner_features", "fct_learner_weak_topics")]
EARLY_WARNING_MARTS = [dg.AssetKey(["marts", name]) for name in ("fct_enrolment_snapshots", "fct_enrolment_outcomes")]
EARLY_WARNING_KEY = dg.AssetKey(["ml", ew.TREE_ID])
TRAINING_KEYS = [dg.AssetKey(["ml", t]) for t in TREE_SPECS]

# Asset checks on the models (non-blocking: the champion gate already keeps a worse model out of serving).
LABEL_BALANCE, HOLDOUT_SANITY, CIRCULAR_LABELS = "label_balance", "holdout_metric_sanity", "labels_not_from_our_rules"
MAX_MAJORITY_SHARE = 0.9  # one label on more than this share of the training rows: the tree mostly predicts it
SUSPICIOUS_SCORE = 0.99  # held-out accuracy or AUC at least this on labels we did not produce: look for leakage
RULE_LABEL_SOURCES = {"rule_based", "policy_rules"}  # labels produced by our own rules (models/segments, interventions)


def _check_specs(key: dg.AssetKey, circular: bool) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(LABEL_BALANCE, asset=key, description=f"Every label class present and no class above "
                          f"{MAX_MAJORITY_SHARE:.0%} of the training labels (else the tree mostly predicts that class)."),
        dg.AssetCheckSpec(HOLDOUT_SANITY, asset=key, description="The held-out metric beats chance and, on labels we did "
                          f"not produce, stays below {SUSPICIOUS_SCORE} (a perfect score on real labels means leakage)."),
    ]
    if circular:
        specs.append(dg.AssetCheckSpec(CIRCULAR_LABELS, asset=key, description="Warns when the tree learned labels our "
                                       "own rules produced: its held-out accuracy is then agreement with the rules, not a "
                                       "quality figure."))
    return specs


def _balance_check(shares: dict[str, float] | None) -> dg.AssetCheckResult:
    if not shares:
        return dg.AssetCheckResult(check_name=LABEL_BALANCE, passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description="the training run recorded no label counts")
    top, share = max(shares.items(), key=lambda kv: kv[1])
    passed = len(shares) >= 2 and share <= MAX_MAJORITY_SHARE
    return dg.AssetCheckResult(
        check_name=LABEL_BALANCE, passed=passed, severity=dg.AssetCheckSeverity.WARN,
        metadata={"classes": len(shares), "largest_class": top, "largest_share": round(share, 4),
                  "shares": dg.MetadataValue.json({k: round(v, 4) for k, v in shares.items()})},
        description=None if passed else f"'{top}' is {share:.0%} of the training labels ({len(shares)} classes)")


def _tree_checks(trained, counts: dict | None) -> list[dg.AssetCheckResult]:
    total = sum(counts.values()) if counts else 0
    shares = {str(k): v / total for k, v in counts.items()} if total else None
    m, k = trained.metrics, max(len(trained.classes), 2)
    circular = trained.label_source in RULE_LABEL_SOURCES
    sane = m["holdout_macro_f1"] > 1 / k and (circular or m["holdout_accuracy"] < SUSPICIOUS_SCORE)
    figures = {"holdout_accuracy": round(m["holdout_accuracy"], 4), "holdout_macro_f1": round(m["holdout_macro_f1"], 4),
               "chance_macro_f1": round(1 / k, 4), "holdout_rows": trained.holdout_rows, "label_source": trained.label_source}
    return [
        _balance_check(shares),
        dg.AssetCheckResult(check_name=HOLDOUT_SANITY, passed=sane, severity=dg.AssetCheckSeverity.ERROR, metadata=figures,
                            description=None if sane else (
                                f"held-out macro F1 {m['holdout_macro_f1']:.3f} is not above chance ({1 / k:.3f})"
                                if m["holdout_macro_f1"] <= 1 / k else
                                f"held-out accuracy {m['holdout_accuracy']:.3f} on {trained.label_source} labels: check the "
                                "features for one that encodes the label")),
        dg.AssetCheckResult(
            check_name=CIRCULAR_LABELS, passed=not circular, severity=dg.AssetCheckSeverity.WARN,
            metadata={"label_source": trained.label_source, "holdout_accuracy": figures["holdout_accuracy"]},
            description=(f"labels from our own rules ({trained.label_source}): the held-out accuracy "
                         f"{m['holdout_accuracy']:.3f} is agreement with the rules, not a quality figure; annotate "
                         "learners (raw/learner_labels) or provide outcomes to learn from real labels")
            if circular else f"labels from {trained.label_source}"),
    ]


def _early_warning_checks(training) -> list[dg.AssetCheckResult]:
    if not training.trained:
        note = f"not evaluated: no model trained in this run ({training.reason})"
        return [dg.AssetCheckResult(check_name=name, passed=True, description=note, metadata={"trained": False})
                for name in (LABEL_BALANCE, HOLDOUT_SANITY)]
    m = training.metrics
    at_risk = m.get("holdout_at_risk_share")
    shares = {"at_risk": at_risk, "not_at_risk": 1 - at_risk} if at_risk is not None and at_risk == at_risk else None
    auc = m.get("holdout_auc", float("nan"))
    sane = 0.5 < auc < SUSPICIOUS_SCORE  # NaN (one outcome only) fails
    return [
        _balance_check({k: v for k, v in shares.items() if v > 0} if shares else None),
        dg.AssetCheckResult(
            check_name=HOLDOUT_SANITY, passed=sane, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"holdout_auc": round(auc, 4), "holdout_baseline_auc": round(m.get("holdout_baseline_auc", float("nan")), 4),
                      "cv_auc": round(m.get("cv_auc", float("nan")), 4), "holdout_rows": m.get("holdout_rows", 0)},
            description=None if sane else f"held-out AUC {auc:.3f} on real outcomes is outside (0.5, {SUSPICIOUS_SCORE})"),
    ]


def _label_counts(mlflow: MlflowStore, run_id: str) -> dict | None:
    """The label counts the training run logged to MLflow (label_counts.json), or None."""
    try:
        return mlflow.setup().artifacts.load_dict(f"runs:/{run_id}/label_counts.json")
    except Exception:  # not logged (an older run) or the store is unreadable: the check reports it
        return None


@dg.asset(
    key=EARLY_WARNING_KEY,
    group_name="ml",
    kinds={"scikitlearn", "mlflow"},
    deps=EARLY_WARNING_MARTS,
    owners=["team:data-science"],
    check_specs=_check_specs(EARLY_WARNING_KEY, circular=False),
)
def early_warning(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                  mlflow: dg.ResourceParam[MlflowStore], lake: dg.ResourceParam[Lake]) -> dg.MaterializeResult:
    """Early warning: an interpretable tree (depth ≤ 6) giving P(fail or withdraw) for every enrolment still
    active on its course's day N, trained on past enrolments' real outcomes on the same course day, logged
    and registered in MLflow behind the champion gate (AUC on fixed held-out enrolments); then every active
    enrolment is scored by the champion, with its path in words."""
    training = train_early_warning(warehouse, mlflow, lake, {"dagster_run_id": context.run_id})
    context.log.info(training.summary())
    table, scored = score_early_warning(warehouse, mlflow)
    path = lake.write_ml_table(SCORES_TABLE, table)
    context.log.info(f"scored {scored['scored']:,} active enrolments ({scored.get('flagged', 0):,} at risk)"
                     + (f": {scored['reason']}" if scored.get("reason") else ""))
    metadata = {"trained": training.trained, "reason": training.reason, "scored_enrolments": scored["scored"],
                "flagged_at_risk": scored.get("flagged", 0), "champion_version": str(scored["version"]),
                "path": dg.MetadataValue.path(str(path)), "seconds": round(training.seconds, 2)}
    if training.trained:
        metadata.update({
            "model_version": training.version, "promoted_to_champion": training.promoted,
            "gate_reason": training.gate["reason"], "mlflow_run_id": training.run_id,
            "label_source": "enrolment_outcomes (fail or withdrawn = at risk)",
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in training.metrics.items()},
            "rules": dg.MetadataValue.md(f"```\n{training.rules_text}\n```"),
        })
    return dg.MaterializeResult(metadata=metadata, check_results=_early_warning_checks(training))


def _training_asset(spec: TreeSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=["ml", spec.tree_id],
        group_name="ml",
        kinds={"scikitlearn", "mlflow"},
        # the decision frame joins each learner's current enrolment from the early-warning marts
        deps=FEATURE_MARTS + EARLY_WARNING_MARTS + [dg.AssetKey(["marts", "fct_learner_annotations"]), EARLY_WARNING_KEY],
        owners=["team:data-science"],
        description=f"Decision tree {spec.tree_id}: {spec.description} Trained, logged and registered in MLflow "
                    "behind the champion gate.",
        check_specs=_check_specs(dg.AssetKey(["ml", spec.tree_id]), circular=True),
    )
    def _train(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
               mlflow: dg.ResourceParam[MlflowStore], lake: dg.ResourceParam[Lake]) -> dg.MaterializeResult:
        outcome = train_and_register(spec, warehouse, mlflow, lake, {"dagster_run_id": context.run_id})
        context.log.info(outcome.summary())
        trained, registered = outcome.trained, outcome.registered
        return dg.MaterializeResult(metadata={
            "model_version": registered.version,
            "promoted_to_champion": registered.promoted,
            "gate_reason": registered.gate["reason"],
            "mlflow_run_id": registered.run_id,
            "model_uri": registered.model_uri,
            "label_source": trained.label_source,
            "training_rows": trained.training_rows,
            "holdout_rows": trained.holdout_rows,
            "holdout_accuracy": trained.metrics["holdout_accuracy"],
            "holdout_macro_f1": trained.metrics["holdout_macro_f1"],
            "data_fingerprint": trained.data_fingerprint,
            "retraining_log": dg.MetadataValue.json(registered.retraining_log),
            "rules": dg.MetadataValue.md(f"```\n{trained.rules_text}\n```"),
            "seconds": round(outcome.seconds, 2),
        }, check_results=_tree_checks(trained, _label_counts(mlflow, registered.run_id)))

    return _train


SCORED_KEY = dg.AssetKey(["ml", "learner_decisions_scored"])
# The tutor prompt also names the course it is about (the learner's latest enrolment, the course catalog).
PROMPT_MARTS = [dg.AssetKey(["marts", name]) for name in ("fct_learner_enrolments", "dim_courses")]
SCORING_DEPS = TRAINING_KEYS + FEATURE_MARTS + EARLY_WARNING_MARTS + PROMPT_MARTS + [EARLY_WARNING_KEY]
SCORED_DESCRIPTION = ("Every learner decided by both champion trees with instructor overrides applied: label, path, "
                      "thresholds, tutor prompt.")


def _publish_scored(log, lake: Lake, scored: ScoredDecisions) -> dict:
    """Write the decisions and the rule snapshots to the lake; the asset's metadata."""
    import pyarrow as pa

    path = lake.write_ml_table("learner_decisions.parquet", scored.table)
    lake.write_ml_table("threshold_snapshots.parquet", pa.Table.from_pylist(scored.snapshots))
    log.info(f"decided {scored.learners:,} learners × {len(scored.versions)} trees: {scored.label_counts}; "
             f"{scored.not_decided:,} learners whose enrolments have all ended were not decided")
    return {
        "rows": scored.table.num_rows,
        "learners": scored.learners,
        "learners_not_decided_enrolment_ended": scored.not_decided,
        "model_versions": dg.MetadataValue.json(scored.versions),
        "label_counts": dg.MetadataValue.json(scored.label_counts),
        "overrides_version": scored.overrides_version,
        "overrides": dg.MetadataValue.json(scored.overrides_applied),
        "path": dg.MetadataValue.path(str(path)),
    }


@dg.asset(key=SCORED_KEY, group_name="ml", kinds={"scikitlearn", "parquet"}, deps=SCORING_DEPS,
          owners=["team:data-science"], description=SCORED_DESCRIPTION)
def learner_decisions_scored(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                             mlflow: dg.ResourceParam[MlflowStore], lake: dg.ResourceParam[Lake],
                             settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    scored = score_learners(warehouse, mlflow, settings.threshold_overrides, lake)
    return dg.MaterializeResult(metadata=_publish_scored(context.log, lake, scored))


def _score_shard(context, resources, shard: int, shards: int, decided_at) -> ScoredDecisions:
    scored = score_learners(resources.warehouse, resources.mlflow, resources.settings.threshold_overrides,
                            resources.lake, shard=shard, shards=shards, decided_at=decided_at)
    context.log.info(f"shard {shard} of {shards}: {scored.learners:,} learners")
    return scored


def sharded_learner_decisions_scored(shards: int) -> dg.AssetsDefinition:
    """The same asset as one step per learner shard (assets/shards.py); every shard decides at one instant."""
    return sharded_asset(
        SCORED_KEY, SCORING_DEPS, shards, "score", run_shard=_score_shard,
        combine=lambda context, resources, parts: _publish_scored(context.log, resources.lake, combine(parts)),
        resources={"warehouse", "mlflow", "lake", "settings"}, start=lambda: datetime.now(timezone.utc),
        group_name="ml", description=SCORED_DESCRIPTION, owners=["team:data-science"], kinds={"scikitlearn", "parquet"})


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[early_warning, *(_training_asset(s) for s in TREE_SPECS.values()),
                                  learner_decisions_scored if settings.shards == 1
                                  else sharded_learner_decisions_scored(settings.shards)])
