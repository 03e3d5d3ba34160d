"""Learning paths, quiz assembly and recommendations on hand-built catalogs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import learning_path, quiz, recommender

MODULES = pd.DataFrame({
    "module_id": ["M1", "M2", "M3", "M4"],
    "course_id": "C",
    # M4 is listed first by position but needs M2 and M3: prerequisites win over position
    "position": [1, 2, 3, 0],
    "prerequisites": [None, "M1", "M1", "M2;M3"],
})
MODULE_SKILLS = pd.DataFrame({"module_id": ["M1", "M2", "M3", "M4"], "skill_id": ["s1", "s2", "s3", "s4"]})
ENROL = pd.DataFrame({"user_id": ["a", "b"], "course_id": "C"})


def mastery_rows(known: dict[str, dict[str, float]]) -> pd.DataFrame:
    rows = [dict(user_id=u, skill_id=s, p_known=p, mastered=p >= 0.95, predicted_success=0.2 + 0.7 * p)
            for u, skills in known.items() for s, p in skills.items()]
    return pd.DataFrame(rows)


def test_topological_order_honours_prerequisites_over_position():
    order = learning_path.topological_order(MODULES).sort_values("topo_rank")["module_id"].tolist()
    assert order == ["M1", "M2", "M3", "M4"]


def test_prerequisite_cycle_and_unknown_prerequisite_are_named():
    cyc = MODULES.assign(prerequisites=["M4", "M1", "M1", "M2;M3"])
    with pytest.raises(learning_path.PrerequisiteCycle, match="M1, M2, M3, M4"):
        learning_path.topological_order(cyc)
    with pytest.raises(ValueError, match="M9 not in the course"):
        learning_path.topological_order(MODULES.assign(prerequisites=[None, "M9", "M1", None]))


def test_modules_open_only_when_prerequisites_are_mastered():
    m = mastery_rows({"a": {"s1": 0.99, "s2": 0.97, "s3": 0.40}, "b": {"s1": 0.50}})
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL, m)
    a = paths[paths.user_id == "a"].set_index("module_id")
    assert a.loc["M1", "status"] == "mastered" and a.loc["M2", "status"] == "mastered"
    assert a.loc["M3", "status"] == "open"
    assert a.loc["M4", "status"] == "locked" and a.loc["M4", "missing_prerequisites"] == "M3"
    assert a.loc["M3", "step"] == 1 and a.loc["M4", "step"] == 2
    b = paths[paths.user_id == "b"].set_index("module_id")
    assert b.loc["M1", "status"] == "open"
    assert set(b.loc[["M2", "M3", "M4"], "status"]) == {"locked"}
    # every open module has all prerequisites mastered, on every learner's path
    status = paths.set_index(["user_id", "module_id"])["status"]
    for row in paths[paths.status == "open"].itertuples():
        pre = learning_path.parse_prerequisites(MODULES.set_index("module_id").loc[row.module_id, "prerequisites"])
        assert all(status[(row.user_id, p)] == "mastered" for p in pre)
    # steps follow prerequisite order: a prerequisite never comes after the module needing it
    step = paths.set_index(["user_id", "module_id"])["topo_rank"]
    for u in ("a", "b"):
        assert step[(u, "M1")] < step[(u, "M2")] < step[(u, "M4")]


QUESTIONS = pd.DataFrame({
    "question_id": [f"q{m}{i}" for m in range(1, 5) for i in range(6)],
    "module_id": [f"M{m}" for m in range(1, 5) for _ in range(6)],
    "skill_id": [f"s{m}" for m in range(1, 5) for _ in range(6)],
    "difficulty": [0.1 * i + 0.2 for _ in range(4) for i in range(6)],
})
ITEMS = pd.DataFrame({"question_id": QUESTIONS["question_id"], "guess": QUESTIONS["difficulty"].rsub(0.5).clip(0.05),
                      "slip": QUESTIONS["difficulty"] * 0.3})


@pytest.mark.parametrize("n", [1, 3, 5, 8])
def test_quiz_never_exceeds_n_avoids_recent_questions_and_locked_modules(n):
    m = mastery_rows({"a": {"s1": 0.99, "s2": 0.97, "s3": 0.30}, "b": {"s1": 0.2}})
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL, m)
    recent = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "question_id": ["q30", "q31", "q10", "q11"]})
    qz = quiz.assemble(QUESTIONS, paths, m, ITEMS, recent, n=n)
    assert qz.groupby("user_id").size().max() <= n
    assert qz.groupby("user_id")["position"].apply(lambda s: s.tolist() == list(range(1, len(s) + 1))).all()
    seen = set(zip(recent.user_id, recent.question_id))
    assert not any((u, q) in seen for u, q in zip(qz.user_id, qz.question_id))
    locked = set(zip(paths[paths.status == "locked"].user_id, paths[paths.status == "locked"].module_id))
    assert not any((u, mod) in locked for u, mod in zip(qz.user_id, qz.module_id))
    # a's weakest skill (s3) comes first
    assert qz[qz.user_id == "a"].iloc[0]["skill_id"] == "s3"
    assert len(qz[qz.user_id == "b"]) == min(n, 4)  # b can only use M1, with 2 of its 6 questions seen recently


def test_quiz_prefers_questions_near_seventy_percent_success():
    m = mastery_rows({"b": {"s1": 0.5}})
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL[ENROL.user_id == "b"], m)
    qz = quiz.assemble(QUESTIONS, paths, m, ITEMS, pd.DataFrame(columns=["user_id", "question_id"]), n=2)
    p = m.set_index("skill_id").loc["s1", "p_known"]
    all_ps = p * (1 - ITEMS.slip) + (1 - p) * ITEMS.guess
    best = (all_ps[QUESTIONS.module_id == "M1"] - 0.7).abs().nsmallest(2)
    assert sorted(qz.question_id) == sorted(QUESTIONS.loc[best.index, "question_id"])
    with pytest.raises(ValueError, match="quiz size"):
        quiz.assemble(QUESTIONS, paths, m, ITEMS, pd.DataFrame(columns=["user_id", "question_id"]), n=0)


CONTENT = pd.DataFrame({
    "content_id": [f"{m}-{f}" for m in ("M1", "M2", "M3", "M4") for f in ("text", "video")],
    "module_id": [m for m in ("M1", "M2", "M3", "M4") for _ in range(2)],
    "course_id": "C",
    "topic_id": [f"t{m}" for m in ("M1", "M2", "M3", "M4") for _ in range(2)],
    "skill_id": [s for s in ("s1", "s2", "s3", "s4") for _ in range(2)],
    "format": ["text", "video"] * 4,
})


def _recommend(m, review=None, formats=None):
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL, m)
    formats = formats if formats is not None else pd.DataFrame(
        {"user_id": ["a", "b"], "format_preference": ["video", "video"], "best_format": ["video", "video"]})
    return recommender.recommend(
        paths, CONTENT, m, review if review is not None else pd.DataFrame(columns=["user_id", "skill_id"]), formats,
        pd.DataFrame({"topic_id": CONTENT.topic_id.unique(), "skill_id": ["s1", "s2", "s3", "s4"], "topic_difficulty": 0.5}),
        pd.DataFrame({"content_id": CONTENT.content_id, "views": np.arange(8)}),
        pd.DataFrame(columns=["user_id", "module_id", "recency"]), k=3)


def test_recommendations_change_as_mastery_changes():
    before = _recommend(mastery_rows({"a": {"s1": 0.3}, "b": {"s1": 0.3}}))
    after = _recommend(mastery_rows({"a": {"s1": 0.99, "s2": 0.2, "s3": 0.2}, "b": {"s1": 0.3}}))
    a0, a1 = before[before.user_id == "a"], after[after.user_id == "a"]
    assert set(a0.module_id) == {"M1"}
    assert set(a1.module_id) <= {"M2", "M3"} and len(a1) == 3
    assert a1.iloc[0]["reason"] == "mastery_gap"
    # b did not change, so neither did b's list
    pd.testing.assert_frame_equal(before[before.user_id == "b"].reset_index(drop=True),
                                  after[after.user_id == "b"].reset_index(drop=True))


def test_recommendation_reasons_review_and_format_mismatch():
    m = mastery_rows({"a": {"s1": 0.99, "s2": 0.6, "s3": 0.6}, "b": {"s1": 0.3}})
    formats = pd.DataFrame({"user_id": ["a", "b"], "format_preference": ["video", "video"], "best_format": ["video", "text"]})
    recs = _recommend(m, review=pd.DataFrame({"user_id": ["a"], "skill_id": ["s1"]}), formats=formats)
    a = recs[recs.user_id == "a"]
    assert "review_due" in set(a.reason) and "M1" in set(a.module_id)
    b = recs[recs.user_id == "b"]
    assert b.iloc[0]["format"] == "text" and b.iloc[0]["reason"] in ("format_match", "mastery_gap")
    assert (b["reason"] == "format_match").any()
    assert b[b.reason == "format_match"]["reason_detail"].str.contains("better with text than with video").all()


def test_recommendations_never_point_into_a_locked_module():
    """Issue 21: on the demo a recommendation pointed into a module the learner's own path says is locked: the
    module the learner was last active in and the content of a skill due for review were taken whatever the path said."""
    m = mastery_rows({"a": {"s1": 0.3}, "b": {"s1": 0.99, "s2": 0.3}})
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL, m)
    locked = paths[paths.status == "locked"][["user_id", "module_id"]]
    assert {"M3", "M4"} <= set(locked[locked.user_id == "a"].module_id) and "M4" in set(locked[locked.user_id == "b"].module_id)
    args = (paths, CONTENT, m, pd.DataFrame({"user_id": ["a", "b"], "skill_id": ["s4", "s1"]}),
            pd.DataFrame({"user_id": ["a", "b"], "format_preference": "video", "best_format": "video"}),
            pd.DataFrame({"topic_id": CONTENT.topic_id.unique(), "skill_id": ["s1", "s2", "s3", "s4"], "topic_difficulty": 0.5}),
            pd.DataFrame({"content_id": CONTENT.content_id, "views": np.arange(8)}),
            # a last worked in M3 and b in M4, both locked for them; a is due a review of s4, whose content is in M4
            pd.DataFrame({"user_id": ["a", "b"], "module_id": ["M3", "M4"], "recency": 1.0}))
    with_history = {"history": pd.DataFrame({"user_id": ["a", "a", "b"], "module_id": ["M3", "M1", "M4"], "resume": [1.0, 0.5, 1.0]}),
                    "transitions": pd.DataFrame({"from_module": ["M3", "M4"], "module_id": ["M4", "M3"], "next_share": 1.0})}
    for extra in ({}, with_history):
        recs = recommender.recommend(*args, k=9, **extra)
        assert len(recs[recs.user_id == "a"]) and len(recs[recs.user_id == "b"])
        assert recs.merge(locked, on=["user_id", "module_id"]).empty
        assert set(recs[recs.user_id == "a"].module_id) == {"M1"}
        assert "M1" in set(recs[recs.user_id == "b"].module_id)  # a mastered module is still fine to review


def test_recommendations_resume_recent_modules_and_follow_the_moves_learners_make():
    m = mastery_rows({"a": {"s1": 0.99, "s2": 0.5, "s3": 0.5}, "b": {"s1": 0.99, "s2": 0.5, "s3": 0.5}})
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL, m)
    history = recommender.module_history(pd.DataFrame({"user_id": ["a", "a", "b"], "module_id": ["M1", "M3", "M1"],
                                                       "last_at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-01"])}))
    assert history.set_index(["user_id", "module_id"])["resume"].to_dict() == {("a", "M3"): 1.0, ("a", "M1"): 0.5, ("b", "M1"): 1.0}
    moves = recommender.module_history_transitions(pd.DataFrame(
        {"from_module": ["M1", "M1", "M1"], "module_id": ["M3", "M2", "M1"], "moves": [8, 2, 5]}))
    assert moves.set_index("module_id")["next_share"].to_dict() == {"M3": 1.0, "M2": 0.25}
    recs = recommender.recommend(
        paths, CONTENT, m, pd.DataFrame(columns=["user_id", "skill_id"]),
        pd.DataFrame({"user_id": ["a", "b"], "format_preference": "video", "best_format": "video"}),
        pd.DataFrame({"topic_id": CONTENT.topic_id.unique(), "skill_id": ["s1", "s2", "s3", "s4"], "topic_difficulty": 0.5}),
        pd.DataFrame({"content_id": CONTENT.content_id, "views": np.arange(8)}),
        pd.DataFrame(columns=["user_id", "module_id", "recency"]), k=4, history=history, transitions=moves)
    # a resumes M3 (worked in last); b, last in M1, resumes it, then goes where learners go from M1: M3 before M2
    first = recs[recs["rank"] == 1].set_index("user_id")["content_id"].to_dict()
    assert first == {"a": "M3-video", "b": "M1-video"}
    b = recs[recs.user_id == "b"].set_index("content_id")["rank"]
    assert "M3-video" in b and b["M3-video"] < b.get("M2-video", 99)
    without = recommender.recommend(
        paths, CONTENT, m, pd.DataFrame(columns=["user_id", "skill_id"]),
        pd.DataFrame({"user_id": ["a", "b"], "format_preference": "video", "best_format": "video"}),
        pd.DataFrame({"topic_id": CONTENT.topic_id.unique(), "skill_id": ["s1", "s2", "s3", "s4"], "topic_difficulty": 0.5}),
        pd.DataFrame({"content_id": CONTENT.content_id, "views": np.arange(8)}),
        pd.DataFrame(columns=["user_id", "module_id", "recency"]), k=2)
    assert set(without[without["rank"] == 1]["content_id"]) == {"M2-video"}  # the path order alone


def test_a_topic_with_several_skills_never_repeats_an_item_and_popular_modules_break_ties():
    """On ASSISTments a question's topic is its first skill and a multi-skill question gives that topic a
    difficulty row per skill: joined on the topic alone, each such item was recommended once per skill
    (one learner's top 10 held the same item five times, 5.8 distinct skills in 10 slots)."""
    m = mastery_rows({"a": {"s1": 0.3}, "b": {"s1": 0.99, "s2": 0.5, "s3": 0.5}})
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL, m)
    # topic tM1 (s1's items) also carries rows for s2, s3 and s4: answers to questions tagged with several skills
    difficulty = pd.DataFrame({"topic_id": ["tM1", "tM1", "tM1", "tM1", "tM2", "tM3", "tM4"],
                               "skill_id": ["s1", "s2", "s3", "s4", "s2", "s3", "s4"],
                               "topic_difficulty": [0.5, 0.9, 0.1, 0.4, 0.5, 0.5, 0.5]})

    def recommend(module_popularity=None):
        return recommender.recommend(
            paths, CONTENT, m, pd.DataFrame(columns=["user_id", "skill_id"]),
            pd.DataFrame({"user_id": ["a", "b"], "format_preference": "video", "best_format": "video"}), difficulty,
            pd.DataFrame({"content_id": CONTENT.content_id, "views": 1}),
            pd.DataFrame(columns=["user_id", "module_id", "recency"]), k=8, module_popularity=module_popularity)

    recs = recommend()
    assert not recs.duplicated(["user_id", "content_id"]).any()
    assert recs.groupby("user_id")["rank"].apply(lambda r: r.tolist() == list(range(1, len(r) + 1))).all()
    # b's open modules M2 and M3 score alike; the one more learners are active in comes first
    rank = recommend(pd.DataFrame({"module_id": ["M2", "M3"], "learners": [1, 40]})).query("user_id == 'b'")
    best = rank.set_index("content_id")["rank"]
    assert best["M3-video"] < best["M2-video"]
    rank = recommend(pd.DataFrame({"module_id": ["M2", "M3"], "learners": [40, 1]})).query("user_id == 'b'")
    assert rank.set_index("content_id")["rank"]["M2-video"] < rank.set_index("content_id")["rank"]["M3-video"]


def test_cold_start_learners_get_popular_items():
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL, mastery_rows({"a": {"s1": 0.3}}))
    recs = recommender._cold_start(paths, CONTENT, pd.DataFrame({"content_id": ["M1-text", "M1-video"], "views": [5, 9]}), {"a"}, 3)
    assert recs["user_id"].unique().tolist() == ["b"]
    assert recs["content_id"].tolist() == ["M1-video", "M1-text"] and set(recs.reason) == {"popular"}


def test_offline_metrics_hand_computed():
    rec = pd.DataFrame({"user_id": ["u"] * 3 + ["v"] * 3, "rank": [1, 2, 3] * 2, "content_id": ["x", "y", "z", "x", "y", "z"]})
    truth = pd.DataFrame({"user_id": ["u", "u", "v"], "content_id": ["y", "q", "w"]})
    m = recommender.evaluate(rec, truth, k=3)
    assert m["hit_rate@3"] == 0.5
    # u: hit at rank 2 → DCG 1/log2(3); ideal for 2 relevant = 1 + 1/log2(3); v: 0
    assert m["ndcg@3"] == pytest.approx(round(((1 / np.log2(3)) / (1 + 1 / np.log2(3))) / 2, 4), abs=1e-4)


def test_engine_outputs_are_one_set_a_crash_mid_write_leaves_the_previous_set_whole(tmp_path):
    """Issue 19 #14: outputs written table by table could leave a mix that a later publish swaps in together."""
    import pandas as pd
    import pyarrow.parquet as pq

    from devmentor.learning.outputs import write_outputs
    from devmentor.storage.lake import Lake

    lake = Lake(inbox_path=tmp_path / "inbox", lake_path=tmp_path / "lake")
    first = {"a": pd.DataFrame({"v": [1, 1]}), "b": pd.DataFrame({"v": [1]}), "c": pd.DataFrame({"v": [1]})}
    (tmp_path / "lake" / "ml" / "g").mkdir(parents=True)
    # state that is not an output (like the badge ledger) lives beside the outputs
    pq.write_table(pq.read_table(_tiny_parquet(tmp_path)), tmp_path / "lake" / "ml" / "g" / "ledger.parquet")
    assert write_outputs(lake, "g", first, lambda n: "v1") == {"a": 2, "b": 1, "c": 1}

    class Boom:
        def assign(self, **_):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_outputs(lake, "g", {"a": pd.DataFrame({"v": [2, 2, 2]}), "b": Boom(), "c": pd.DataFrame({"v": [2]})},
                      lambda n: "v2")
    current = tmp_path / "lake" / "ml" / "g"
    assert {n: pq.read_table(current / f"{n}.parquet").column("v").to_pylist() for n in "abc"} == \
        {"a": [1, 1], "b": [1], "c": [1]}
    assert (current / "ledger.parquet").exists()  # carried over into the set
    write_outputs(lake, "g", {"a": pd.DataFrame({"v": [3]}), "b": pd.DataFrame({"v": [3]}), "c": pd.DataFrame({"v": [3]})},
                  lambda n: "v3")
    assert pq.read_table(current / "b.parquet").column("algorithm_version").to_pylist() == ["v3"]
    assert len(list((tmp_path / "lake" / "ml" / "g.sets").iterdir())) == 1  # old sets are removed


def _tiny_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "tiny.parquet"
    pq.write_table(pa.table({"x": [1]}), path)
    return path


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_mastery_state_save_is_all_or_nothing(tmp_path, monkeypatch, crash_at):
    """Issue 19 #10: the trace state's files switch together: a crash at any rename of the save leaves the
    old state or the new one, never cells of one with the watermark of the other."""
    import os

    import numpy as np

    from devmentor.learning import engine
    from models import mastery

    def state(watermark: str, attempts: int, users: list[str]) -> engine.MasteryState:
        t = mastery.TraceState.empty(len(users), 3)
        t.attempts[0, 1] = attempts
        return engine.MasteryState("v1", users, t, np.zeros((len(users), 3), dtype=np.int64), watermark, attempts)

    folder = tmp_path / "mastery" / "state"
    state("old", 2, ["u1", "u2"]).save(folder)
    calls = {"n": 0}
    real_os_replace = os.replace

    def counted(real):
        def replace(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == crash_at:
                raise OSError("killed mid-save")
            return real(*args, **kwargs)
        return replace

    monkeypatch.setattr(os, "replace", counted(real_os_replace))  # every rename (Path.replace uses it too)
    try:
        state("new", 7, ["u1", "u2", "u3"]).save(folder)
    except OSError:
        pass
    monkeypatch.setattr(os, "replace", real_os_replace)
    loaded = engine.MasteryState.load(folder)
    assert (loaded.watermark, int(loaded.trace.attempts[0, 1]), len(loaded.users)) in {("old", 2, 2), ("new", 7, 3)}


def test_calibration_follows_the_learners_history_and_keeps_the_ranking():
    """A raw figure that is too extreme for short histories and about right for long ones (what ASSISTments
    shows) is recalibrated per history length; monotone in the raw figure; small groups and older maps kept."""
    from models import calibration

    rng = np.random.default_rng(3)
    n = 60000
    pred = rng.uniform(0.05, 0.95, n)
    answers = np.exp(rng.uniform(0, np.log(400), n)).astype(int)
    first = rng.random(n) < 0.5
    lo = np.log(pred / (1 - pred))
    # the true logit: shrunk toward 0 where the learner has answered little, first answers 0.5 lower as well
    truth = 1 / (1 + np.exp(-(lo * np.minimum(1.0, 0.4 + 0.12 * np.log1p(answers)) - 0.5 * first)))
    points = pd.DataFrame({"pred": pred, "first": first, "correct": (rng.random(n) < truth).astype(int),
                           "weight": 1.0, "answers": answers})
    maps = calibration.fit_history(points)
    assert maps["kind"] == calibration.HISTORY and {"first", "seen"} <= set(maps)
    out = calibration.apply(maps, pred, first, answers)
    for group in (first, ~first):
        for band in (answers < 8, (answers >= 8) & (answers < 40), answers >= 40):
            sel = group & band
            bins = np.minimum((out[sel] * 10).astype(int), 9)
            table = pd.DataFrame({"bin": bins, "e": out[sel], "y": truth[sel]}).groupby("bin").agg(
                n=("e", "size"), e=("e", "mean"), y=("y", "mean"))
            assert ((table["e"] - table["y"]).abs()[table["n"] >= 100] < 0.03).all(), table
    short = first & (answers < 8)
    assert np.abs(pred[short] - truth[short]).mean() > 0.1  # the raw figure was off there
    for k in (1, 30, 10_000):  # monotone in the raw figure at every history length: the ranking is kept
        grid = np.linspace(0.01, 0.99, 99)
        for g in (True, False):
            assert np.all(np.diff(calibration.apply(maps, grid, np.full(99, g), np.full(99, k))) > 0)
    with pytest.raises(ValueError, match="pass answers"):
        calibration.apply(maps, pred, first)
    # a group with too few answers stays as it is; no maps: identity
    small = calibration.fit_history(points.iloc[:60])
    assert "first" not in small or "seen" not in small
    assert np.allclose(calibration.apply({}, pred, first), pred)
    # isotonic maps of a model fitted by an earlier version still apply
    old = {"first": {"x": [0.0, 1.0], "y": [0.0, 0.5]}, "seen": {"x": [0.0, 1.0], "y": [0.5, 1.0]}}
    assert np.allclose(calibration.apply(old, [0.4, 0.4], [True, False]), [0.2, 0.7])


def test_a_skill_new_to_the_learner_is_read_through_how_learners_did_on_it_at_first_sight():
    """Two skills with the same raw first-answer figure, one answered correctly at first sight far less often:
    with the skills' first-answer rates the first-answer map tells them apart (without, it cannot); a point's
    own answer is left out of its skill's rate; practised skills and the ranking within a skill are unchanged."""
    from models import calibration

    rng = np.random.default_rng(5)
    n = 40000
    skill = np.where(rng.random(n) < 0.5, "hard", "easy")
    pred = rng.uniform(0.3, 0.7, n)
    answers = np.exp(rng.uniform(0, np.log(200), n)).astype(int)
    first = rng.random(n) < 0.6
    lo = np.log(pred / (1 - pred))
    truth = 1 / (1 + np.exp(-(lo + np.where(first & (skill == "hard"), -1.2, 0.0) + np.where(first & (skill == "easy"), 0.4, 0.0))))
    correct = (rng.random(n) < truth).astype(int)
    points = pd.DataFrame({"user_id": np.arange(n), "skill_id": skill, "pred": pred, "first": first,
                           "correct": correct, "weight": 1.0, "answers": answers})
    # every first-answer point is its learner's first answer on the skill, so the rates are theirs
    firsts = points[first]
    rates = firsts.groupby("skill_id").agg(correct=("correct", "sum"), answers=("correct", "size"))
    maps = calibration.fit_history(points, rates)
    plain = calibration.fit_history(points)
    assert "first_rates" in maps and "first_rates" not in plain
    with pytest.raises(ValueError, match="pass skills"):
        calibration.apply(maps, pred, first, answers)
    out = calibration.apply(maps, pred, first, answers, skill)
    before = calibration.apply(plain, pred, first, answers)
    for name in ("hard", "easy"):
        sel = first & (skill == name)
        assert abs(out[sel].mean() - truth[sel].mean()) < 0.02
        assert abs(before[sel].mean() - truth[sel].mean()) > 0.08  # one map for both skills is off on each
    assert np.allclose(out[~first], before[~first])  # practised skills: the same map as before
    grid = np.linspace(0.05, 0.95, 50)
    assert np.all(np.diff(calibration.apply(maps, grid, np.full(50, True), np.full(50, 10), np.full(50, "hard"))) > 0)
    # an unknown skill reads the share over all skills; leaving a point's own answer out moves its skill's rate
    table = maps["first_rates"]
    overall = calibration.skill_rate(table, ["unknown"])[0]
    assert overall == pytest.approx(table["overall"])
    assert calibration.skill_rate(table, ["hard"], np.array([1.0]), np.array([1.0]))[0] < calibration.skill_rate(table, ["hard"])[0]


def test_the_learners_weakest_skills_have_their_own_first_answer_map():
    """weakest: unmastered before mastered, then lowest P(known), then skill id, n per learner. First answers on a
    learner's weakest skills, answered worse than the same raw figure elsewhere, get their own map ("weak_first");
    without the flags such maps are refused; with too few weak points the first-answer map covers them."""
    from models import calibration

    flags = calibration.weakest(["u"] * 5 + ["v"] * 2, ["a", "b", "c", "d", "e", "a", "b"],
                                [0.9, 0.2, 0.3, 0.2, 0.1, 0.5, 0.5], [True, False, False, False, False, False, False], n=3)
    assert flags.tolist() == [False, True, False, True, True, True, True]  # u: e, then b before d (id); v: both
    rng = np.random.default_rng(9)
    n = 40000
    pred = rng.uniform(0.2, 0.8, n)
    answers = np.exp(rng.uniform(0, np.log(100), n)).astype(int)
    first, weak = rng.random(n) < 0.6, rng.random(n) < 0.2
    lo = np.log(pred / (1 - pred))
    truth = 1 / (1 + np.exp(-(lo - 1.0 * (first & weak))))
    points = pd.DataFrame({"skill_id": "s", "pred": pred, "first": first, "weak": weak,
                           "correct": (rng.random(n) < truth).astype(int), "weight": 1.0, "answers": answers})
    maps = calibration.fit_history(points)
    assert {"first", "weak_first", "seen"} <= set(maps) and maps["weakest"] == calibration.WEAKEST
    out = calibration.apply(maps, pred, first, answers, weak=weak)
    for sel in (first & weak, first & ~weak, ~first):
        assert abs(out[sel].mean() - truth[sel].mean()) < 0.015
    with pytest.raises(ValueError, match="pass weak"):
        calibration.apply(maps, pred, first, answers)
    # a history longer than any the map was fitted on reads as the longest (no extrapolation)
    longest = maps["seen"]["max_answers"]
    assert longest == answers[~first].max()
    assert np.allclose(calibration.apply(maps, pred, first, np.full(n, 10 * longest), weak=weak),
                       calibration.apply(maps, pred, first, np.full(n, longest), weak=weak))
    few = calibration.fit_history(points.assign(weak=np.arange(n) < 10))
    assert "weak_first" not in few and "weakest" not in few
    assert np.allclose(calibration.apply(few, pred, first, answers, weak=weak), calibration.apply(few, pred, first, answers))


def test_weak_at_a_cut_ranks_only_the_skills_of_the_learners_courses(monkeypatch):
    """With course_id, a learner's weakest skills at a cut come from the courses the learner answers in (the engine
    ranks a learner's course skills), not from another course's hard skills the learner never meets."""
    from models import calibration, mastery

    skills = ["a1", "a2", "b1", "b2"]
    params = mastery.BKTParams(skills=skills, prior=np.array([0.5, 0.6, 0.05, 0.05]), learn=np.full(4, 0.1),
                               forget=np.zeros(4), guess=np.full(4, 0.2), slip=np.full(4, 0.1))
    rows = [("u", "a1", "A"), ("u", "a1", "A"), ("u", "a2", "A"), ("u", "a2", "A"),
            ("v", "b1", "B"), ("v", "b2", "B"), ("v", "b1", "B"), ("v", "a1", "A")]
    frame = pd.DataFrame(rows, columns=["user_id", "skill_id", "course_id"])
    frame["correct"], frame["seq"] = [1, 0, 1, 0, 1, 0, 0, 1], np.arange(len(frame))
    frame["problem_id"], frame["response_id"] = "q-" + frame["skill_id"], np.arange(len(frame))
    monkeypatch.setattr(calibration, "WEAKEST", 1)
    with_courses = calibration.points_at_cuts(params, frame, cuts=20, seed=2)
    without = calibration.points_at_cuts(params, frame.drop(columns="course_id"), cuts=20, seed=2)
    u_with, u_without = with_courses[with_courses["user_id"] == "u"], without[without["user_id"] == "u"]
    # u's only course is A: its weakest skill is an A skill, so u's next A answers can be "weak"; ranked over every
    # skill, course B's hard skills (prior 0.05) are u's weakest and no A answer ever is
    assert u_with["weak"].any() and not u_without["weak"].any()


def test_first_answer_rates_count_each_learners_first_answer_on_a_skill_once():
    from models import calibration

    frame = pd.DataFrame({"user_id": ["u1", "u1", "u1", "u2", "u2"], "seq": [0, 1, 2, 0, 1],
                          "skill_id": ["A", "A", "B", "A", "B"], "correct": [0, 1, 0, 1, 1],
                          "response_id": [1, 2, 3, 4, 4]})  # u2's first answer is one answer on A and B
    rates = calibration.first_answer_rates(frame)
    # A: u1's first (wrong) and u2's (right, half an answer: a copy of a two-skill answer); u1's second A is not a first
    assert rates.loc["A", "answers"] == pytest.approx(1.5) and rates.loc["A", "correct"] == pytest.approx(0.5)
    # B: u1's first (wrong) and u2's (right, half)
    assert rates.loc["B", "answers"] == pytest.approx(1.5) and rates.loc["B", "correct"] == pytest.approx(0.5)


def test_calibration_points_are_what_the_engine_publishes_at_a_cut_and_the_next_answer_on_each_skill(monkeypatch):
    """points_at_cuts: the raw figure of a point is the engine's uncalibrated predicted success for the learner
    × skill after the history before the cut (devmentor.learning.engine.mastery_table, the same code path), its
    outcome the first later answer on that skill; a multi-skill answer only where it is first on all its skills."""
    from devmentor.learning import engine
    from models import calibration, mastery

    skills = ["A", "B", "C"]
    params = mastery.BKTParams(skills=skills, prior=np.array([0.3, 0.5, 0.2]), learn=np.array([0.2, 0.1, 0.3]),
                               forget=np.zeros(3), guess=np.array([0.2, 0.25, 0.15]), slip=np.array([0.1, 0.05, 0.1]),
                               ability_weight=4.0)
    # u1: A, B, A, (B+C one answer), C, A ; u2: C, C, A
    rows = [("u1", "A", 1, 0), ("u1", "B", 0, 1), ("u1", "A", 1, 2), ("u1", "B", 1, 3), ("u1", "C", 1, 3),
            ("u1", "C", 0, 4), ("u1", "A", 1, 5), ("u2", "C", 1, 10), ("u2", "C", 1, 11), ("u2", "A", 0, 12)]
    frame = pd.DataFrame(rows, columns=["user_id", "skill_id", "correct", "response_id"])
    frame["seq"], frame["problem_id"] = np.arange(len(frame)), "q-" + frame["skill_id"]
    monkeypatch.setattr(calibration, "WEAKEST", 1)  # of three skills, the weakest one is "weak"
    points = calibration.points_at_cuts(params, frame, cuts=40, seed=1)
    answers = frame.groupby("user_id")["response_id"].nunique()
    assert set(points["answers"]) <= set(range(1, 6)) and points["answers"].nunique() > 2
    assert ((points["weight"] == 1.0) | (points["weight"] == 0.5)).all()
    catalog = engine.Catalog(None, pd.DataFrame({"course_id": "c", "skill_id": skills}),
                             pd.DataFrame({"course_id": [], "skill_id": []}), None,
                             pd.DataFrame({"user_id": ["u1", "u2"], "course_id": "c"}), None)
    seen_cuts = points[["user_id", "answers"]].drop_duplicates()
    assert len(seen_cuts) >= 5
    for user, cut in seen_cuts.itertuples(index=False):
        mine = frame[frame["user_id"] == user]
        answer_no = pd.factorize(mine["response_id"])[0]
        before, later = mine[answer_no < cut], mine[answer_no >= cut]
        attempts = before.rename(columns={"problem_id": "question_id", "correct": "is_correct",
                                          "response_id": "event_id"})
        attempts["event_at"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(attempts["seq"], unit="min")
        state, _ = engine.trace_mastery(params, "v", attempts, None, None)  # no maps: the raw figure
        published = engine.mastery_table(params, state, catalog).query("user_id == @user").set_index("skill_id")
        first_later = later.drop_duplicates("skill_id")
        firsts = first_later.groupby("response_id").size()
        on_all = firsts == later.groupby("response_id").size().reindex(firsts.index)  # first on all its skills
        expected = first_later[first_later["response_id"].map(on_all).fillna(False).astype(bool)]
        expected = sorted((r.skill_id, round(float(published.loc[r.skill_id, "predicted_success"]), 4), bool(
            published.loc[r.skill_id, "attempts"] == 0), int(r.correct)) for r in expected.itertuples())
        got = points[(points["user_id"] == user) & (points["answers"] == cut)].drop_duplicates(["skill_id"])
        assert sorted((r.skill_id, round(r.pred, 4), bool(r.first), int(r.correct))
                      for r in got.itertuples()) == expected, (user, cut)
        # "weak" at the cut is the learner's weakest skill as the engine's table ranks it
        weak = published.index[calibration.weakest(np.full(len(published), user), published.index, published["p_known"],
                                                   published["mastered"])]
        assert {r.skill_id for r in got.itertuples() if r.weak} == set(got["skill_id"]) & set(weak), (user, cut)
    assert answers.max() == 6


def test_quiz_publishes_the_skill_level_prediction_and_chooses_on_the_question():
    m = mastery_rows({"b": {"s1": 0.5}})
    paths = learning_path.learning_paths(MODULES, MODULE_SKILLS, ENROL[ENROL.user_id == "b"], m)
    qz = quiz.assemble(QUESTIONS, paths, m, ITEMS, pd.DataFrame(columns=["user_id", "question_id"]), n=2)
    assert len(qz) == 2
    assert np.allclose(qz["predicted_success"], m.set_index("skill_id").loc["s1", "predicted_success"])
    # without a skill-level figure in the mastery rows, the question-level one is published
    qz_item = quiz.assemble(QUESTIONS, paths, m.drop(columns="predicted_success"), ITEMS,
                            pd.DataFrame(columns=["user_id", "question_id"]), n=2)
    p = 0.5
    items = ITEMS.set_index("question_id").loc[qz_item["question_id"]]
    assert np.allclose(qz_item["predicted_success"], (p * (1 - items["slip"]) + (1 - p) * items["guess"]).round(4))
    assert sorted(qz_item["question_id"]) == sorted(qz["question_id"])


def test_a_multi_skill_question_is_predicted_by_its_weakest_skill_and_listed_once():
    # q10 is tagged s1 and s2 (one question, two rows); the learner is weak on s1 and strong on s2
    questions = pd.concat([QUESTIONS, pd.DataFrame({"question_id": ["q10"], "module_id": ["M1"], "skill_id": ["s2"],
                                                    "difficulty": [0.2]})], ignore_index=True)
    modules = MODULE_SKILLS.assign(module_id=["M1", "M1", "M3", "M4"])  # s2 is taught in M1 too, so it is usable
    m = mastery_rows({"b": {"s1": 0.3, "s2": 0.9}})
    paths = learning_path.learning_paths(MODULES, modules, ENROL[ENROL.user_id == "b"], m)
    qz = quiz.assemble(questions, paths, m, ITEMS, pd.DataFrame(columns=["user_id", "question_id"]), n=12)
    assert qz["question_id"].is_unique
    row = qz.set_index("question_id").loc["q10"]
    ps = m.set_index("skill_id")["predicted_success"]
    assert row["skill_id"] == "s1"
    # answered right only when both skills hold: the lower of the two figures, not their mean
    assert row["predicted_success"] == pytest.approx(ps["s1"]) and ps["s1"] < ps[["s1", "s2"]].mean()
