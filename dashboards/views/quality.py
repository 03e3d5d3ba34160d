"""Data quality: the latest check results and what was quarantined, with example rows."""

import pandas as pd
import streamlit as st

from dashboards.data import check_results, lake_path, lake_query, settings
from dashboards.labels import relative_path
from dashboards.ui import bars, show, table

st.title("Data quality")
st.caption("Checks and quarantine cover every input file; the course and cohort filters do not apply here.")
checks = check_results()
st.subheader("Latest check results")
if checks.empty:
    st.info("No check has run yet. Run `devmentor demo` first.")
else:
    latest = checks.sort_values("at").groupby(["asset", "check"]).tail(1).sort_values(["passed", "asset"])
    failed = int((~latest["passed"].astype(bool)).sum())
    c1, c2 = st.columns(2)
    c1.metric("Checks", len(latest))
    c2.metric("Failing", failed)
    latest = latest.assign(result=latest["passed"].map({True: "passed", False: "FAILED"}),
                           at=pd.to_datetime(latest["at"], utc=True, format="mixed"))
    table(latest.rename(columns={"run_id": "pipeline_run"})[["asset", "check", "result", "at", "pipeline_run"]])

st.subheader("Quarantine")
folders = sorted(p.name for p in (lake_path() / "quarantine").glob("*") if any(p.glob("*.parquet")))
counts = []
for entity in folders:
    frame = lake_query(
        f"SELECT reason, count(*) AS rows, count(DISTINCT source_file) AS files FROM read_parquet('{{lake}}/quarantine/{entity}/*.parquet', "
        "union_by_name=true) WHERE reason IS NOT NULL GROUP BY 1")
    counts.append(frame.assign(entity=entity))
summary = pd.concat(counts, ignore_index=True) if counts else pd.DataFrame(columns=["entity", "reason", "rows", "files"])
st.metric("Quarantined rows", f"{int(summary['rows'].sum()) if len(summary) else 0:,}")
if len(summary):
    summary["reason_kind"] = summary["reason"].str.split(":").str[0]
    by_kind = summary.groupby(["entity", "reason_kind"], as_index=False)["rows"].sum().sort_values("rows", ascending=False)
    show(bars(by_kind, "reason_kind", "rows", color="entity"))
    entity = st.selectbox("Example rows of", sorted(summary["entity"].unique()))
    examples = lake_query(
        f"SELECT source_file, row_number, field, reason, record FROM read_parquet('{{lake}}/quarantine/{entity}/*.parquet', "
        "union_by_name=true) WHERE reason IS NOT NULL LIMIT 20")
    # Paths relative to the data directory (or the inbox, when it lives elsewhere): no machine's absolute paths.
    s = settings()
    examples["source_file"] = examples["source_file"].map(lambda p: relative_path(p, [s.home, s.inbox]))
    table(examples, formats={"row_number": "%d"})
else:
    st.caption("Nothing was quarantined: every row of every input file passed the input contract.")
