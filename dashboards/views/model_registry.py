"""Models: tree versions with their held-out metrics (MLflow), the champions' rules, feature drift, mastery model."""

import json

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.data import (
    AT_RISK_SEGMENTS,
    filters,
    lake_path,
    require,
    serving_query,
    settings,
)
from dashboards.labels import LABEL_SOURCES, RULE_LABEL_SOURCES, label, tree_name
from dashboards.tree_view import label_leaves, leaves, rules_frame, tree_dot
from dashboards.ui import nothing_to_show, show, table
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.features import load_decision_frame
from devmentor.training.trees import read_references
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE
from models.drift import psi
from models.features import feature_matrix
from models.interventions import INTERVENTIONS

st.title("Models")
f = filters()


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


def versions_section(runs: pd.DataFrame) -> None:
    st.subheader("Tree versions and held-out metrics")
    for tree in TREES:
        champion = runs[(runs["tree_id"] == tree) & runs["champion"]]
        source = champion["label_source"].iloc[0] if len(champion) and "label_source" in champion else None
        if source in RULE_LABEL_SOURCES:
            st.warning(f"**{tree_name(tree)}** was trained on labels produced by {LABEL_SOURCES[source][0]} (no "
                       "instructor annotations or outcomes): its held-out accuracy only measures agreement with those "
                       "rules, not whether its decisions are right.", icon=":material/warning:")
        elif source in LABEL_SOURCES:
            st.caption(f"{tree_name(tree)}: trained and evaluated on {LABEL_SOURCES[source][0]} (held-out learners).")
    shown = runs.assign(tree_id=runs["tree_id"].map(tree_name),
                        measures=runs["label_source"].map(lambda s: LABEL_SOURCES.get(s, ("", "unknown"))[1]),
                        label_source=runs["label_source"].map(lambda s: LABEL_SOURCES.get(s, (s,))[0]))
    cols = ["tree_id", "version", "champion", "measures", *[f"metrics.{m}" for m in METRICS], "label_source", "start_time", "run_id"]
    table(shown[[c for c in cols if c in shown.columns]], formats={"version": "%d", "metrics.training_rows": "%d",
                                                                  "metrics.holdout_accuracy": "%.3f", "metrics.holdout_macro_f1": "%.3f"})
    for tree in TREES:
        # Vega-Lite reads a dot in a field name as a nested field: chart a plain column.
        part = runs[runs["tree_id"] == tree].sort_values("version").rename(columns={"metrics.holdout_macro_f1": "macro_f1"})
        if len(part) > 1 and "macro_f1" in part:
            st.caption(f"{tree_name(tree)}: held-out macro F1 by version")
            show(alt.Chart(part).mark_line(point=True).encode(
                x=alt.X("version:O", title=label("version"), axis=alt.Axis(labelAngle=0)),
                y=alt.Y("macro_f1:Q", title=label("metrics.holdout_macro_f1"), scale=alt.Scale(domain=[0, 1]))
            ).properties(height=180))


def champion_trees_section() -> None:
    st.subheader("Champion trees (with instructor overrides)")
    snaps = serving_query(
        "SELECT DISTINCT ON (tree_id) tree_id, decision_version, overrides_version, rules, created_at "
        "FROM serving.threshold_snapshots ORDER BY tree_id, created_at DESC")
    if snaps.empty:
        nothing_to_show("No tree has decided yet: the champion rule tables appear after the first scoring run.")
        return
    st.caption("Each leaf is one decision: a learner gets it when every rule on its path holds. The counts are the "
               f"learners under the sidebar's filters ({f.describe()}) who are in that leaf now.")
    highlight = {SEGMENT_TREE: tuple(AT_RISK_SEGMENTS), INTERVENTION_TREE: INTERVENTIONS[:1]}
    for snap in sorted(snaps.itertuples(), key=lambda s: TREES.index(s.tree_id) if s.tree_id in TREES else 99):
        rules = rules_frame(snap.rules)
        decided = serving_query(
            "SELECT decision_label, flagged_rules_hit -> -1 ->> 'rule_id' AS last_rule, count(*) AS learners "
            "FROM serving.learner_decisions WHERE tree_id = %s AND user_id = ANY(%s) GROUP BY 1, 2",
            (snap.tree_id, list(f.learners)))
        labelled = label_leaves(leaves(rules), rules, decided)
        st.markdown(f"**{tree_name(snap.tree_id)}** v{snap.decision_version} (threshold overrides version "
                    f"{snap.overrides_version}): {len(labelled)} leaves")
        pic, paths = st.tabs(["Picture", "Every path in words"])
        with pic:
            st.graphviz_chart(tree_dot(rules, labelled, highlight.get(snap.tree_id, ())), width="stretch")
        with paths:
            table(labelled[["decision_label", "leaf_path", "learners_now"]].sort_values(
                ["decision_label", "learners_now"], ascending=[True, False]), formats={"learners_now": "%d"})
        changed = rules[rules["overridden"].astype(bool)] if "overridden" in rules else rules.iloc[0:0]
        if len(changed):
            st.caption("Instructor overrides in force: " + "; ".join(
                f"{r.rule} (trained: {r.trained_threshold:.3g})" for r in changed[changed["operator"] == "<="].itertuples()))


def drift_section() -> None:
    threshold = settings().drift_psi
    st.subheader(f"Feature drift since training (PSI; retraining starts above {threshold:g})")
    # The frame and references the retraining sensor compares (orchestration/sensors.py): behaviour features plus
    # the current enrolment's early-warning features, so a tree trained on outcomes is compared on its own inputs.
    s = settings()
    lake = Lake(s.inbox, s.lake)
    frame = load_decision_frame(Warehouse(s.warehouse_path), lake)
    rows = []
    for tree_id, ref in read_references(lake, TREES).items():
        X = feature_matrix(frame, list(ref["features"]))
        for name, profile in ref["features"].items():
            rows.append({"tree_id": tree_name(tree_id), "version": ref["version"], "feature": label(name),
                         "psi": round(psi(profile, X[name]), 4)})
    drift = pd.DataFrame(rows)
    if drift.empty:
        nothing_to_show("No training reference yet: drift is measured against the feature distributions a tree was trained on.")
        return
    top = drift.sort_values("psi", ascending=False).drop_duplicates("feature").head(15)
    bars_ = alt.Chart(top).mark_bar().encode(
        x=alt.X("psi:Q", title=label("psi"), scale=alt.Scale(domainMax=max(threshold * 1.2, float(top["psi"].max())))),
        y=alt.Y("feature:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
        color=alt.condition(alt.datum.psi > threshold, alt.value("firebrick"), alt.value("steelblue")),
        tooltip=[alt.Tooltip(c, title=label(c)) for c in ("tree_id", "feature", "psi")])
    # The threshold goes into the chart as a datum (not a dataset row), so the spec itself names it.
    rule = alt.Chart(top).mark_rule(color="firebrick", strokeDash=[4, 3], size=2).encode(x=alt.datum(threshold))
    text = alt.Chart(top).mark_text(align="left", dx=4, dy=-6, color="firebrick",
                                    text=f"retraining threshold {threshold:g}").encode(x=alt.datum(threshold), y=alt.value(0))
    show(alt.layer(bars_, rule, text))
    st.caption(f"The threshold is DEVMENTOR_DRIFT_PSI ({threshold:g}); the retraining sensor starts a run when any "
               "feature's PSI is above it.")
    table(drift.sort_values("psi", ascending=False), formats={"psi": "%.4f"})


def mastery_section() -> None:
    st.subheader("Mastery model (BKT)")
    params_file = lake_path() / "ml" / "mastery" / "params.json"
    if not params_file.exists():
        nothing_to_show("No mastery model: it is fitted on quiz answers tagged with skills, which this data does not have.")
        return
    params = json.loads(params_file.read_text())
    c1, c2 = st.columns(2)
    c1.metric("Next-response AUC (held-out learners)", f"{params['holdout_auc']:.3f}")
    c2.metric("Skills / items", f"{len(params['params']['skills'])} / {len(params['params']['items'])}")
    st.caption(f"Version {params['version']}.")
    p = params["params"]
    table(pd.DataFrame({("skill_id" if k == "skills" else k): p[k] for k in ("skills", "prior", "learn", "forget", "guess", "slip")}).round(3))


runs = require(mlflow_runs, "The MLflow registry")
st.caption("Models and their checks cover every learner; the course and cohort filters only change the learner "
           "counts in the tree pictures.")
versions_section(runs)
champion_trees_section()
drift_section()
mastery_section()
