"""ASSISTments through the whole DAG: the contract mapping (a multi-skill answer is ONE attempt), the replay's cut
(held-out answers never reach the pipeline), and ``devmentor replay assistments`` scoring what the DAG published.

A small synthetic file in the release's own shape (split, user_id, seq, problem_id, skill_id, correct; a
multi-skill problem on adjacent rows) goes through the real importer, contract validation, dbt, MLflow,
PostgreSQL and the scorer; nothing is mocked.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from devmentor.importers.assistments import (
    as_of_of,
    read_assistments,
    split_at_cut,
    to_contract,
    with_answers,
)

CUT = 6
SKILLS = ["11", "12", "13", "14", "15", "16"]


def write_responses(path, learners: int = 18, answers: int = 12, seed: int = 5) -> pd.DataFrame:
    """ASSISTments-shaped rows: each learner works through skills in order (a skill builder each), learning as
    they go; problems 900-909 are tagged with two skills (two adjacent rows, one outcome)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(learners):
        split = "test" if u % 3 == 0 else "train"
        ability = rng.normal()
        seq, skill_pos, known = 0, int(rng.integers(0, 2)), 0.0
        for _ in range(answers):
            skill = SKILLS[skill_pos % len(SKILLS)]
            multi = rng.random() < 0.15
            p = 1 / (1 + np.exp(-(ability + known - 0.3)))
            correct = int(rng.random() < p)
            if multi:
                problem = 900 + int(rng.integers(0, 10))
                other = SKILLS[(skill_pos + 1) % len(SKILLS)]
                rows += [(split, 1000 + u, seq, problem, int(skill), correct), (split, 1000 + u, seq + 1, problem, int(other), correct)]
                seq += 2
            else:
                rows.append((split, 1000 + u, seq, 100 * int(skill) + int(rng.integers(0, 12)), int(skill), correct))
                seq += 1
            known += 0.25
            if rng.random() < 0.2:
                skill_pos, known = skill_pos + 1, 0.0
    frame = pd.DataFrame(rows, columns=["split", "user_id", "seq", "problem_id", "skill_id", "correct"])
    frame.to_csv(path, index=False, compression="gzip")
    return frame


@pytest.fixture(scope="module")
def responses(tmp_path_factory):
    path = tmp_path_factory.mktemp("assist") / "responses.csv.gz"
    write_responses(path)
    return path


def _inbox(path):
    return {p.relative_to(path).as_posix(): pd.read_parquet(p) for p in sorted(path.rglob("*.parquet"))}


def test_a_multi_skill_answer_is_one_attempt_in_the_learners_order(responses, tmp_path):
    rows = with_answers(read_assistments(responses))
    counts = to_contract(responses, tmp_path)
    events = pd.read_parquet(tmp_path / "events" / "assistments_events.parquet")
    assert counts["events"] == len(events) == rows["answer"].nunique() < len(rows)
    multi = events[events["skill_tag"].str.contains(";")]
    assert len(multi) and multi["question_id"].str.startswith("assist-p90").all()
    assert multi["skill_tag"].map(lambda t: len(t.split(";"))).eq(2).all()
    assert events["event_id"].is_unique and (events["event_type"] == "quiz_attempt").all()
    # timestamps synthesised in each learner's seq order, one minute apart
    ts = pd.to_datetime(events["timestamp"], utc=True)
    assert events.assign(ts=ts).groupby("user_id")["ts"].apply(lambda s: s.is_monotonic_increasing and s.is_unique).all()
    questions = pd.read_parquet(tmp_path / "catalog" / "questions" / "assistments_questions.parquet")
    assert set(questions.loc[questions["question_id"] == multi["question_id"].iloc[0], "skill_tag"].iloc[0].split(";")) <= set(SKILLS)
    modules = pd.read_parquet(tmp_path / "catalog" / "modules" / "assistments_modules.parquet")
    assert len(modules) == len(SKILLS) and modules["prerequisites"].isna().all()


def test_held_out_answers_never_reach_the_inbox(responses, tmp_path):
    rows = with_answers(read_assistments(responses))
    kept, held = split_at_cut(rows, CUT)
    assert len(held) and set(held["split"]) == {"test"} and (held["answer_no"] >= CUT).all()
    assert (kept[kept["split"] == "test"].groupby("user_id")["answer"].nunique() <= CUT).all()
    to_contract(responses, tmp_path / "a", cut=CUT, rows=rows)
    # every held-out answer flipped: not one byte of what the pipeline reads, nor the as-of instant, changes
    flipped = rows.copy()
    flipped.loc[held.index, "correct"] = 1 - flipped.loc[held.index, "correct"]
    to_contract(responses, tmp_path / "b", cut=CUT, rows=flipped.drop(columns=["answer", "answer_no"]))
    a, b = _inbox(tmp_path / "a"), _inbox(tmp_path / "b")
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert as_of_of(split_at_cut(with_answers(flipped.drop(columns=["answer", "answer_no"])), CUT)[0]) == as_of_of(kept)
    test_users = "assist-" + held["user_id"].drop_duplicates()
    events = a["events/assistments_events.parquet"]
    assert (events[events["user_id"].isin(test_users)].groupby("user_id").size() == CUT).all()


def test_the_same_information_benchmark_sees_no_held_out_answer_but_the_one_it_predicts(responses):
    """benchmark_at_cut predicts each scored answer from the learner's kept answers only: flipping every other
    held-out answer changes nothing, while the traced benchmark (bench_mastery.py's figure) does change."""
    from devmentor.studies.assistments import benchmark_at_cut, benchmark_predictions, next_answers_on_skill
    from models.mastery_eval import fit_assistments, predict_next_response

    rows = with_answers(read_assistments(responses))
    rows["_row"] = rows.index
    params = fit_assistments(rows[rows["split"] == "train"])
    kept, held = split_at_cut(rows, CUT)
    scored = next_answers_on_skill(held)
    at_cut = benchmark_at_cut(params, kept, scored)
    assert set(at_cut.index) == set(scored["_row"])
    # one answer by hand: the learner's kept rows, then that answer, traced on their own
    one = scored.iloc[-1]
    probe = rows[(rows["user_id"] == one["user_id"]) & ((rows["answer_no"] < CUT) | (rows["answer"] == one["answer"]))]
    by_hand, _ = predict_next_response(params, probe)
    assert at_cut[one["_row"]] == pytest.approx(by_hand[probe.index.get_indexer([one.name])[0]], abs=1e-12)
    flipped = rows.copy()
    others = held.index.difference(scored.index)
    assert len(others)
    flipped.loc[others, "correct"] = 1 - flipped.loc[others, "correct"]
    kept_f, held_f = split_at_cut(flipped, CUT)
    assert np.array_equal(benchmark_at_cut(params, kept_f, next_answers_on_skill(held_f)).sort_index().to_numpy(),
                          at_cut.sort_index().to_numpy())
    traced, traced_f = benchmark_predictions(params, rows), benchmark_predictions(params, flipped)
    assert not np.allclose(traced.reindex(scored.index).to_numpy(), traced_f.reindex(scored.index).to_numpy())


def test_calibration_scores_each_next_answer_once_per_tenth_and_ignores_thin_tenths(monkeypatch):
    from devmentor.studies import assistments as study

    # learner 1: next answers on skill a (wrong), then one two-skill answer on b and c (right), then a again;
    # learner 2: next answer on a (right)
    held = pd.DataFrame({"user_id": ["1", "1", "1", "1", "2"], "skill_id": ["a", "b", "c", "a", "a"],
                         "answer": [10, 11, 11, 12, 20], "answer_no": [20, 21, 21, 22, 20],
                         "correct": [0, 1, 1, 1, 1]})
    predicted = pd.DataFrame({"user_id": ["assist-1", "assist-1", "assist-1", "assist-2", "assist-9"],
                              "skill_id": ["a", "b", "c", "a", "a"],
                              "predicted_success": [0.35, 0.62, 0.78, 0.31, 0.5]})
    monkeypatch.setattr(study, "MIN_BIN", 2)
    table, gap = study.calibration(predicted, held)
    # three points: (1, a) 0.35 wrong; the b+c answer once, at their mean 0.70, right; (2, a) 0.31 right;
    # the later answer on a and the learner with no held-out answer are not points
    assert table["answers"].sum() == 3
    low = table.set_index("range").loc["0.3-0.4"]
    assert (low["answers"], round(low["expected"], 3), low["observed"]) == (2, 0.33, 0.5)
    assert gap == round(abs(0.33 - 0.5), 4)  # the 0.7-0.8 tenth has one answer: below MIN_BIN, no gap counted
    monkeypatch.setattr(study, "MIN_BIN", 3)
    assert study.calibration(predicted, held)[1] is None  # no tenth with enough answers: no headline gap


def test_calibration_interval_resamples_learners_and_flags_only_gaps_beyond_noise():
    from devmentor.studies import assistments as study

    def scored(learners: int, skills: int, predicted_success: float):
        # learner i answers each of its skills next once; a learner is right on all of them or on none (3 in 10 are)
        held = pd.DataFrame([(str(i), f"s{k}", i * skills + k, k, int(i % 10 < 3)) for i in range(learners) for k in range(skills)],
                            columns=["user_id", "skill_id", "answer", "answer_no", "correct"])
        predicted = held[["user_id", "skill_id"]].assign(user_id="assist-" + held["user_id"], predicted_success=predicted_success)
        return study.calibration(predicted, held)[0].set_index("range")

    near = scored(1000, 1, 0.35).loc["0.3-0.4"]
    assert near["answers"] == 1000 and near["gap_low"] < near["gap"] < near["gap_high"]
    # the same 1,000 answers from 200 learners of 5 answers each, alike within a learner: a wider interval
    clustered = scored(200, 5, 0.35).loc["0.3-0.4"]
    assert clustered["answers"] == 1000 and round(clustered["gap"], 6) == round(near["gap"], 6)
    assert clustered["gap_high"] - clustered["gap_low"] > 1.8 * (near["gap_high"] - near["gap_low"])
    assert study.tenths_off_beyond_noise(scored(200, 5, 0.35).reset_index()) == 0  # 0.05 off: within what it can tell
    far = scored(200, 5, 0.65)
    assert far.loc["0.6-0.7", "gap_low"] > 0.05 and study.tenths_off_beyond_noise(far.reset_index()) == 1


def test_replay_runs_the_whole_dag_and_scores_what_it_published(responses, tmp_path, pg_url, monkeypatch, capsys):
    from devmentor.storage import postgres
    from orchestration.cli import main

    monkeypatch.setenv("DEVMENTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEVMENTOR_DATABASE_URL", pg_url)
    monkeypatch.setenv("DEVMENTOR_ENV", "test")
    monkeypatch.delenv("DEVMENTOR_AS_OF", raising=False)
    assert main(["replay", "assistments", str(responses), "--cut", str(CUT), "--json"]) == 0
    # the replay's as-of was the run's only: a later run in this process (a test's, a notebook's) reads none
    assert "DEVMENTOR_AS_OF" not in os.environ
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert list(result)[:6] == ["mastery_auc", "benchmark_auc", "ndcg_at_10", "ndcg_at_10_popularity",
                                "ndcg_at_10_popularity_own", "calibration_max_gap"]
    for key in ("mastery_auc", "benchmark_auc", "ndcg_at_10", "ndcg_at_10_popularity", "ndcg_at_10_popularity_own"):
        assert 0 <= result[key] <= 1, key
    assert result["mastery_answers_scored"] > 0 and result["locked_recommendations"] == 0
    # the quiz's predictor on every skill's next answer: each scored mastery answer is one point there
    assert sum(r["answers"] for r in result["calibration_all_skills"]) >= sum(r["answers"] for r in result["calibration"])
    assert sum(r["answers"] for r in result["calibration_all_skills"]) >= result["mastery_answers_scored"] > 0
    rows = with_answers(read_assistments(responses))
    # every test learner has more than CUT answers, so each has held-out answers
    assert result["learners_with_held_out_answers"] == rows.loc[rows["split"] == "test", "user_id"].nunique() > 0
    with postgres.connect(pg_url) as conn:
        skills = {r[0] for r in conn.execute("SELECT DISTINCT skill_id FROM serving.mastery").fetchall()}
        dup = conn.execute("SELECT count(*) FROM (SELECT user_id, question_id FROM serving.next_quiz "
                           "GROUP BY 1, 2 HAVING count(*) > 1) d").fetchone()[0]
        attempts = conn.execute("SELECT sum(attempts) FROM serving.mastery WHERE user_id = 'assist-1000'").fetchone()[0]
    assert skills == set(SKILLS)  # the real skills, a multi-skill tag split into its skills
    assert dup == 0  # a multi-skill question is one quiz question
    # learner 1000 (test split) was traced on its first CUT answers only; a two-skill answer counts on both skills
    first = rows[(rows["user_id"] == "1000") & (rows["answer_no"] < CUT)]
    assert attempts == len(first)
    _api_and_dashboard_show_the_real_skills(pg_url, tmp_path / "home")


def _api_and_dashboard_show_the_real_skills(pg_url, home):
    """The replayed run is served like any other: the read API's progress and the dashboard's skill matrix
    list ASSISTments' own skills."""
    from fastapi.testclient import TestClient
    from streamlit.testing.v1 import AppTest

    from devmentor.api.app import create_app
    from devmentor.serving.publish import reader_url
    from tests.conftest import PROJECT_ROOT

    with TestClient(create_app(reader_url(pg_url), min_size=1, max_size=2)) as client:
        progress = client.get("/api/learning/progress/assist-1000", params={"limit": 100}).json()
    assert {s["skill_id"] for s in progress["items"]} <= set(SKILLS) and progress["skills_total"] > 0
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()  # an earlier dashboard test in this process may hold another database's pool
    at = AppTest.from_file(str(PROJECT_ROOT / "dashboards" / "app.py"), default_timeout=60).run()
    at.switch_page("views/skills.py").run()
    assert not at.exception, [e.value for e in at.exception]
    matrix = at.dataframe[0].value
    assert set(matrix.iloc[:, 0]) == set(SKILLS), matrix.head()
