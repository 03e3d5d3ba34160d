"""Models: tree versions with their held-out metrics (MLflow), the champions' rules, feature drift, mastery model."""

import json

import pandas as pd
import streamlit as st

from dashboards.data import lake_path, require, serving_query, settings, warehouse_query
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE

st.title("Models")


TREES = (SEGMENT_TREE, INTERVENTION_TREE)
METRICS = ("holdout_accuracy", "holdout_macro_f1", "training_rows")


@st.cache_data(ttl=60, show_spinner=False)
def mlflow_runs() -> pd.DataFrame:
    """Registered tree versions with their held-out metrics, read from the MLflow registry.

    With the default SQLite store the registry tables are read directly (importing the MLflow client
    alone takes seconds); any other tracking store goes through the MLflow client.
    """
    uri = settings().mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        import sqlite3

        con = sqlite3.connect(f"file:{uri[len('sqlite:///'):]}?mode=ro", uri=True)
        try:
            versions = pd.read_sql_query(
                "SELECT v.name AS tree_id, CAST(v.version AS INTEGER) AS version, v.run_id, r.start_time, "
                "EXISTS (SELECT 1 FROM registered_model_aliases a WHERE a.name = v.name AND a.version = v.version "
                "        AND a.alias = 'champion') AS champion "
                "FROM model_versions v JOIN runs r ON r.run_uuid = v.run_id WHERE v.name IN (?, ?)", con, params=TREES)
            metrics = pd.read_sql_query(
                f"SELECT run_uuid AS run_id, key, value FROM latest_metrics WHERE key IN ({','.join('?' * len(METRICS))})",
                con, params=METRICS)
            sources = pd.read_sql_query(
                "SELECT run_uuid AS run_id, value AS label_source FROM tags WHERE key = 'label_source'", con)
        finally:
            con.close()
        wide = metrics.pivot_table(index="run_id", columns="key", values="value").add_prefix("metrics.").reset_index()
        out = versions.merge(wide, on="run_id", how="left").merge(sources, on="run_id", how="left")
        out["champion"] = out["champion"].astype(bool)
        out["start_time"] = pd.to_datetime(out["start_time"], unit="ms", utc=True)
    else:
        import mlflow

        mlflow.set_tracking_uri(uri)
        client = mlflow.MlflowClient()
        rows = []
        for tree in TREES:
            for v in client.search_model_versions(f"name='{tree}'"):
                run = client.get_run(v.run_id)
                rows.append({"tree_id": tree, "version": int(v.version), "run_id": v.run_id, "champion": "champion" in (v.aliases or []),
                             "start_time": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
                             "label_source": run.data.tags.get("label_source"),
                             **{f"metrics.{m}": run.data.metrics.get(m) for m in METRICS}})
        out = pd.DataFrame(rows)
    return out.sort_values(["tree_id", "version"], ascending=[True, False]).reset_index(drop=True)


runs = require(mlflow_runs, "The MLflow registry")
st.subheader("Tree versions and held-out metrics")
RULE_LABELS = {"rule_based": "our own segment rules", "policy_rules": "our own intervention policy"}
for tree in TREES:
    champion = runs[(runs["tree_id"] == tree) & runs["champion"]]
    source = champion["label_source"].iloc[0] if len(champion) and "label_source" in champion else None
    if source in RULE_LABELS:
        st.warning(f"**{tree}** was trained on labels produced by {RULE_LABELS[source]} (no instructor annotations or "
                   "outcomes): its held-out accuracy only says how well the tree reproduces those rules, not whether "
                   "its decisions are right.")
    elif source == "enrolment_outcomes":
        st.caption(f"{tree}: trained and evaluated on real enrolment outcomes (held-out past enrolments).")
st.dataframe(runs, hide_index=True, width="stretch")
for tree in TREES:
    part = runs[runs["tree_id"] == tree].sort_values("version")
    if len(part) > 1:
        st.line_chart(part, x="version", y="metrics.holdout_macro_f1")

st.subheader("Champion rules (with instructor overrides)")
snaps = serving_query(
    "SELECT DISTINCT ON (tree_id) tree_id, decision_version, overrides_version, rules, created_at "
    "FROM serving.threshold_snapshots ORDER BY tree_id, created_at DESC")
for snap in snaps.itertuples():
    rules = pd.DataFrame(snap.rules if isinstance(snap.rules, list) else json.loads(snap.rules))
    st.markdown(f"**{snap.tree_id}** v{snap.decision_version} (overrides {snap.overrides_version})")
    cols = [c for c in ("rule_id", "feature", "operator", "threshold", "trained_threshold", "overridden") if c in rules.columns]
    st.dataframe(rules[cols], hide_index=True, width="stretch")

st.subheader("Feature drift since training (PSI; retraining starts above 0.2)")
from devmentor.training.features import LEARNER_FEATURES_SQL  # noqa: E402
from models.drift import psi  # noqa: E402
from models.features import feature_matrix  # noqa: E402

frame = warehouse_query(LEARNER_FEATURES_SQL)
rows = []
for path in sorted((lake_path() / "ml" / "reference").glob("*.json")):
    ref = json.loads(path.read_text())
    X = feature_matrix(frame, list(ref["features"]))
    for name, profile in ref["features"].items():
        rows.append({"tree_id": ref["tree_id"], "version": ref["version"], "feature": name, "psi": round(psi(profile, X[name]), 4)})
drift = pd.DataFrame(rows)
if len(drift):
    st.bar_chart(drift.sort_values("psi", ascending=False).head(15), x="feature", y="psi", horizontal=True)
    st.dataframe(drift.sort_values("psi", ascending=False), hide_index=True, width="stretch")

st.subheader("Mastery model (BKT)")
params_file = lake_path() / "ml" / "mastery" / "params.json"
if params_file.exists():
    params = json.loads(params_file.read_text())
    c1, c2, c3 = st.columns(3)
    c1.metric("Version", params["version"])
    c2.metric("Next-response AUC (held-out learners)", f"{params['holdout_auc']:.3f}")
    c3.metric("Skills / items", f"{len(params['params']['skills'])} / {len(params['params']['items'])}")
    p = params["params"]
    st.dataframe(pd.DataFrame({k: p[k] for k in ("skills", "prior", "learn", "forget", "guess", "slip")}).round(3),
                 hide_index=True, width="stretch")
