"""Great Expectations on an evidence frame (every breaking row + a sample) reaches the whole frame's verdicts."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from devmentor.ingest.contract import BY_NAME
from devmentor.quality import contract_expectations, evidence_frame, validate_frame

# The raw-event suite as the pipeline derives it from the contract, on the columns this test builds.
RAW_EVENT_EXPECTATIONS = [e for e in contract_expectations(BY_NAME["events"])
                          if e.kwargs["column"] in {"event_id", "user_id", "event_type", "score", "confidence", "duration_s"}]


def events(n: int, rng) -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n)],
        "user_id": [f"u{i % 97}" for i in range(n)],
        "event_type": rng.choice(["quiz_attempt", "content_view", "session_start"], n),
        "score": rng.uniform(0, 1, n),
        "confidence": rng.uniform(0, 1, n),
        "duration_s": rng.uniform(0, 600, n),
    })


def by_expectation(report) -> dict:
    return {(f["expectation"], f["column"]): f["unexpected_count"] for f in report.failures}


def test_evidence_frame_gives_the_whole_frames_verdicts_and_counts():
    rng = np.random.default_rng(5)
    frame = events(20_000, rng)
    frame.loc[[10, 5000], "event_id"] = "e7"            # two duplicates of e7 (three rows share it)
    frame.loc[[11, 12], "user_id"] = None                # missing learner
    frame.loc[13, "event_type"] = "teleport"             # unknown type
    frame.loc[[14, 15, 16], "score"] = [1.5, -0.1, 2.0]  # out of range
    frame.loc[17, "duration_s"] = 90_000.0
    con = duckdb.connect()
    con.register("landed", frame)
    evidence, total = evidence_frame(con, "landed", list(frame.columns), RAW_EVENT_EXPECTATIONS, key="event_id",
                                     sample_rows=500)
    assert total == 20_000 and len(evidence) < 1_000  # the sample is small, yet ...
    whole = validate_frame("raw_events", frame, RAW_EVENT_EXPECTATIONS)
    fast = validate_frame("raw_events", evidence, RAW_EVENT_EXPECTATIONS, total_rows=total)
    assert not whole.success and not fast.success
    assert by_expectation(fast) == by_expectation(whole) == {
        ("expect_column_values_to_be_unique", "event_id"): 3,
        ("expect_column_values_to_not_be_null", "user_id"): 2,
        ("expect_column_values_to_be_in_set", "event_type"): 1,
        ("expect_column_values_to_be_between", "score"): 3,
        ("expect_column_values_to_be_between", "duration_s"): 1,
    }
    assert fast.checked_rows == 20_000


def test_clean_data_passes_on_the_evidence_frame():
    rng = np.random.default_rng(6)
    frame = events(5_000, rng)
    con = duckdb.connect()
    con.register("landed", frame)
    evidence, total = evidence_frame(con, "landed", list(frame.columns), RAW_EVENT_EXPECTATIONS, key="event_id",
                                     sample_rows=1_000)
    assert 500 < len(evidence) < 2_000
    assert validate_frame("raw_events", evidence, RAW_EVENT_EXPECTATIONS, total_rows=total).success
