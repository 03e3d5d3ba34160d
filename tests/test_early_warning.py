"""Early warning: outcomes as input, the day-N cut-off, as-of replay equal to a live run, the champion gate.

A small synthetic release in OULAD's own CSV layout (two modules × two presentations) goes through the real
importer, the real contract validation and the real dbt project; nothing is mocked.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from devmentor.importers.oulad import replay_instant, to_contract
from devmentor.training.early_warning import (
    gate,
    load_snapshots,
    score_early_warning,
    train_early_warning,
)
from models import early_warning as ew
from tests.test_features import ingest_all, run_dbt

DAY = 60
TERM = "2014J"


def write_release(root: Path, students: int = 60, seed: int = 3) -> pd.DataFrame:
    """OULAD-shaped CSVs; returns studentInfo. Engagement and scores depend on a latent 'will pass' trait."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    courses, assessments, vle, info, reg, sa, clicks = [], [], [], [], [], [], []
    aid, site = 1000, 5000
    for module in ("AAA", "BBB"):
        for pres in ("2013J", TERM):
            courses.append((module, pres, 240))
            due = {}
            for d in (20, 50, 90, 150):
                aid += 1
                assessments.append((module, pres, aid, "TMA", d, 25))
                due[aid] = d
            aid += 1
            assessments.append((module, pres, aid, "Exam", 235, 100))
            sites = []
            for kind in ("oucontent", "forumng", "quiz"):
                site += 1
                sites.append(site)
                vle.append((site, module, pres, kind, "", ""))
            for s in range(students):
                sid = hash((module, pres, s)) % 900_000 + 10_000
                good = rng.random() < 0.55
                withdraw_day = None if good or rng.random() < 0.5 else int(rng.integers(-5, 200))
                result = ("Distinction" if rng.random() < 0.3 else "Pass") if good else ("Withdrawn" if withdraw_day is not None else "Fail")
                info.append((module, pres, sid, "M", "East", "HE Qualification", "20-30%", "0-35", 0, 60, "N", result))
                reg.append((module, pres, sid, int(rng.integers(-30, 5)), "" if withdraw_day is None else withdraw_day))
                last = 240 if withdraw_day is None else withdraw_day
                for a, d in due.items():
                    if d < last and rng.random() < (0.95 if good else 0.6):
                        sa.append((a, sid, d + int(rng.integers(-3, 4)), 0, int(np.clip(rng.normal(75 if good else 50, 12), 0, 100))))
                if module == "AAA":
                    for day in range(-10, min(last, 240), 3):
                        if rng.random() < (0.6 if good else 0.3):
                            clicks.append((module, pres, sid, int(rng.choice(sites)), day, int(rng.integers(1, 12))))

    def csv(name, rows, cols):
        pd.DataFrame(rows, columns=cols).to_csv(root / name, index=False)

    csv("courses.csv", courses, ["code_module", "code_presentation", "module_presentation_length"])
    csv("assessments.csv", assessments, ["code_module", "code_presentation", "id_assessment", "assessment_type", "date", "weight"])
    csv("vle.csv", vle, ["id_site", "code_module", "code_presentation", "activity_type", "week_from", "week_to"])
    csv("studentInfo.csv", info, ["code_module", "code_presentation", "id_student", "gender", "region", "highest_education",
                                  "imd_band", "age_band", "num_of_prev_attempts", "studied_credits", "disability", "final_result"])
    csv("studentRegistration.csv", reg, ["code_module", "code_presentation", "id_student", "date_registration", "date_unregistration"])
    csv("studentAssessment.csv", sa, ["id_assessment", "id_student", "date_submitted", "is_banked", "score"])
    csv("studentVle.csv", clicks, ["code_module", "code_presentation", "id_student", "id_site", "date", "sum_click"])
    return pd.DataFrame(info, columns=["code_module", "code_presentation", "id_student", "gender", "region", "highest_education",
                                       "imd_band", "age_band", "num_of_prev_attempts", "studied_credits", "disability", "final_result"])


def build(tmp: Path, root: Path, as_of, data_as_of=None, mutate=None) -> Path:
    """Import (as known at ``data_as_of``, default everything), ingest, dbt-build the early-warning marts at ``as_of``."""
    inbox, lake, warehouse = tmp / "inbox", tmp / "lake", tmp / "warehouse.duckdb"
    to_contract(root, inbox, as_of=data_as_of)
    if mutate:
        mutate(inbox)
    ingest_all(inbox, lake)
    import os

    os.environ["DEVMENTOR_AS_OF"] = as_of.isoformat()
    try:
        run_dbt(lake, warehouse, "--select", "+fct_enrolment_snapshots +fct_enrolment_outcomes", "--exclude", "test_type:data")
    finally:
        os.environ.pop("DEVMENTOR_AS_OF")
    return warehouse


def snapshots(warehouse: Path, role: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        frame = con.execute(f"SELECT * FROM marts.fct_enrolment_snapshots WHERE snapshot_role = '{role}'").df()
    finally:
        con.close()
    return frame.sort_values(["user_id", "course_id", "snapshot_day"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("oulad-like") / "release"
    info = write_release(root)
    return root, info


@pytest.fixture(scope="module")
def live_and_replay(release, tmp_path_factory):
    """The same instant two ways: the whole history with the as-of set (a live run that has later data on disk)
    and the release as known at that instant (a replay)."""
    root, _ = release
    as_of = replay_instant(TERM, DAY)
    live = build(tmp_path_factory.mktemp("live"), root, as_of)
    replay = build(tmp_path_factory.mktemp("replay"), root, as_of, data_as_of=as_of)
    return live, replay, as_of


def test_outcomes_are_an_input_and_the_replay_import_knows_nothing_after_the_instant(release, tmp_path):
    root, info = release
    as_of = replay_instant(TERM, DAY)
    to_contract(root, tmp_path / "inbox", as_of=as_of)
    outcomes = pd.read_parquet(tmp_path / "inbox" / "outcomes" / "oulad_outcomes.parquet")
    assert set(outcomes["final_result"]) <= {"pass", "distinction", "fail", "withdrawn"}
    assert (pd.to_datetime(outcomes["result_at"], utc=True) <= as_of).all()
    # Of the term's enrolments only withdrawals by day 60 are known then; passes and fails come at the end.
    term = outcomes[outcomes["course_id"].str.endswith(TERM)]
    assert len(term) and set(term["final_result"]) == {"withdrawn"}
    events = pd.concat(pd.read_parquet(p) for p in (tmp_path / "inbox" / "events").glob("*.parquet"))
    assert pd.to_datetime(events["timestamp"], utc=True).max() <= as_of
    enrolments = pd.read_parquet(tmp_path / "inbox" / "enrolments" / "oulad_enrolments.parquet")
    assert (pd.to_datetime(enrolments["withdrawn_at"].dropna(), utc=True) <= as_of).all()
    # The full import does know them all.
    to_contract(root, tmp_path / "all")
    assert len(pd.read_parquet(tmp_path / "all" / "outcomes" / "oulad_outcomes.parquet")) == len(info)


def test_replay_equals_a_live_run_so_no_row_after_day_n_reaches_a_feature(live_and_replay):
    live, replay, _ = live_and_replay
    for role in ("score", "train"):
        a, b = snapshots(live, role), snapshots(replay, role)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a.drop(columns=["as_of_at"]), b.drop(columns=["as_of_at"]), check_dtype=False)
    score = snapshots(live, "score")
    assert set(score["course_id"].str[-5:]) == {TERM} and set(score["snapshot_day"]) == {DAY}


def test_only_enrolments_still_registered_on_day_n_are_scored_or_trained_on(release, live_and_replay):
    root, info = release
    live, _, _ = live_and_replay
    reg = pd.read_csv(root / "studentRegistration.csv")
    reg["user_id"] = "oulad-" + reg["id_student"].astype(str)
    reg["course_id"] = reg["code_module"] + "-" + reg["code_presentation"]
    gone = pd.to_numeric(reg["date_unregistration"], errors="coerce") <= DAY
    late = reg["date_registration"] > DAY
    frame = pd.concat([snapshots(live, "score"), snapshots(live, "train")])
    keys = set(zip(frame["user_id"], frame["course_id"]))
    left = set(zip(reg.loc[gone, "user_id"], reg.loc[gone, "course_id"]))
    assert left and not (keys & left)
    stayed = set(zip(reg.loc[~gone & ~late, "user_id"], reg.loc[~gone & ~late, "course_id"]))
    assert stayed == keys  # everyone else is there, exactly once per course day
    # withdrawn after day N counts as at risk, and is trained on
    assert (frame["snapshot_day"] == DAY).all()


def test_no_feature_encodes_the_outcome(release, live_and_replay, tmp_path):
    root, _ = release
    live, _, as_of = live_and_replay
    assert not [f for f in ew.FEATURES if any(w in f for w in ("withdraw", "result", "outcome", "unregist"))]

    def scramble(inbox: Path) -> None:
        path = inbox / "outcomes" / "oulad_outcomes.parquet"
        frame = pd.read_parquet(path)
        flipped = {"pass": "fail", "distinction": "fail", "fail": "pass", "withdrawn": "pass"}
        frame["final_result"] = frame["final_result"].map(flipped)
        frame.to_parquet(path)

    scrambled = build(tmp_path, root, as_of, mutate=scramble)
    for role in ("score", "train"):
        a, b = snapshots(live, role), snapshots(scrambled, role)
        # Outcomes decide who is a past enrolment to learn from, never a feature value.
        merged = a.merge(b, on=["user_id", "course_id", "snapshot_day"], suffixes=("", "_s"))
        assert len(merged) > 0
        for f in ew.FEATURES:
            pd.testing.assert_series_equal(merged[f].astype(float), merged[f + "_s"].astype(float), check_names=False)


def test_training_gate_and_scoring_on_fixed_held_out_enrolments(live_and_replay, settings_factory):
    live, _, as_of = live_and_replay
    from devmentor.storage.warehouse import Warehouse

    settings = settings_factory()
    warehouse, mlflow, lake = Warehouse(path=live), settings.mlflow_store(), settings.lake_store()
    frame = load_snapshots(warehouse, ("train",))
    first = train_early_warning(warehouse, mlflow, lake, {})
    assert first.trained and first.promoted and first.gate["reason"] == "no champion yet"
    assert first.metrics["holdout_rows"] == int(ew.is_holdout(frame).sum()) > 0
    assert first.metrics["depth"] <= ew.MAX_DEPTH
    second = train_early_warning(warehouse, mlflow, lake, {})
    # Same data, same fixed held-out rows: the champion scores exactly what the new version scores.
    assert second.gate["champion_before"]["auc"] == pytest.approx(second.metrics["holdout_auc"])
    assert second.promoted and second.version == "2"
    table, info = score_early_warning(warehouse, mlflow)
    scores = table.to_pandas()
    assert info["scored"] == len(scores) == len(snapshots(live, "score"))
    assert (scores["course_day"] == DAY).all() and (scores["as_of"] == pd.Timestamp(as_of)).all()
    assert scores["p_at_risk"].between(0, 1).all() and scores["reasons"].str.len().gt(0).all()
    assert (scores["model_version"] == "2").all()


def test_holdout_is_a_stable_function_of_the_enrolment_key():
    keys = pd.DataFrame({"user_id": [f"u{i}" for i in range(2000)], "course_id": ["C"] * 2000})
    mask = ew.is_holdout(keys)
    shuffled = keys.sample(frac=1, random_state=1)
    assert (ew.is_holdout(shuffled) == mask[shuffled.index.to_numpy()]).all()
    assert (ew.is_holdout(keys.iloc[:500]) == mask[:500]).all()  # more data never moves a row in or out
    assert 0.15 < mask.mean() < 0.25


def test_gate_refuses_a_worse_model_and_fails_closed():
    assert gate(0.80, None) == (True, "no champion yet")
    assert gate(0.70, {"version": "3", "auc": 0.80})[0] is False
    assert gate(0.798, {"version": "3", "auc": 0.80})[0] is True  # within the tolerance
    assert gate(0.90, {"error": "registry unreachable"})[0] is False
    assert gate(float("nan"), {"version": "3", "auc": 0.80})[0] is False


@pytest.fixture
def oulad_dir():
    from tests.conftest import requires_shared

    return requires_shared("oulad")


def test_replay_instant_is_the_end_of_day_n():
    t = replay_instant("2014J", 60)
    assert t.isoformat() == "2014-11-30T23:59:59+00:00"
    assert replay_instant("2014B", 0) + timedelta(seconds=1) == replay_instant("2014B", 1) - timedelta(days=1) + timedelta(seconds=1)


def test_codes_with_quotes_and_dot_dot_are_data_not_sql_or_paths(tmp_path):
    """Issue 19 #9: a module code with a quote and '../' neither breaks the SQL nor writes outside the inbox."""
    root = tmp_path / "release"
    write_release(root, students=8)
    for name in ("courses.csv", "assessments.csv", "vle.csv", "studentInfo.csv", "studentRegistration.csv", "studentVle.csv"):
        frame = pd.read_csv(root / name)
        if "code_module" in frame:
            frame["code_module"] = frame["code_module"].replace("BBB", "B'B/../x")
            frame.to_csv(root / name, index=False)
    to_contract(root, tmp_path / "inbox")
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet"))
    assert all(p.parts[0] == "inbox" for p in written)
    events = sorted(p.name for p in (tmp_path / "inbox" / "events").glob("*.parquet"))
    assert "oulad-B_B____x-2013J.parquet" in events
    courses = pd.read_parquet(tmp_path / "inbox" / "catalog" / "courses" / "oulad_courses.parquet")
    assert "B'B/../x-2014J" in set(courses["course_id"])
