"""Mastery (BKT): EM recovers known parameters, incremental tracing equals a full trace, a multi-skill answer is
traced and scored as one answer (no copy's outcome reaches another copy's prior), real-data AUC."""

from __future__ import annotations

import numpy as np
import pytest

from models import mastery
from models.sequences import pack
from tests.conftest import requires_shared


def simulate(rng, truth: dict[str, tuple[float, float, float, float, float]], n_learners: int, length: int):
    """Attempts from a known BKT model: rows (learner, skill, t, correct), skills interleaved per learner."""
    learners, skills, order, correct = [], [], [], []
    for si, (name, (prior, learn, forget, guess, slip)) in enumerate(truth.items()):
        known = rng.random(n_learners) < prior
        for t in range(length):
            p = np.where(known, 1 - slip, guess)
            c = rng.random(n_learners) < p
            learners.append(np.arange(n_learners))
            skills.append(np.full(n_learners, name))
            order.append(np.full(n_learners, t * len(truth) + si))
            correct.append(c)
            known = np.where(known, rng.random(n_learners) >= forget, rng.random(n_learners) < learn)
    return (np.concatenate(learners), np.concatenate(skills), np.concatenate(order), np.concatenate(correct))


TRUTH = {"fractions": (0.3, 0.2, 0.0, 0.2, 0.1), "algebra": (0.1, 0.1, 0.0, 0.25, 0.05), "graphs": (0.6, 0.3, 0.0, 0.15, 0.15)}


def groups(learners, skills):
    _, g = np.unique(np.char.add(learners.astype(str), np.char.add("|", skills.astype(str))), return_inverse=True)
    return g


def test_pack_visits_every_row_once_in_order():
    rng = np.random.default_rng(0)
    group = rng.integers(0, 50, 2000)
    order = rng.random(2000)
    pk = pack(group, order)
    seen = np.concatenate([pk.perm[pk.step(k)[0]] for k in range(pk.max_len)])
    assert sorted(seen.tolist()) == list(range(2000))
    last = {}
    for k in range(pk.max_len):
        for row in pk.perm[pk.step(k)[0]]:
            assert order[row] > last.get(group[row], -1)
            last[group[row]] = order[row]


def test_em_recovers_known_parameters():
    rng = np.random.default_rng(1)
    learners, skills, order, correct = simulate(rng, TRUTH, 3000, 12)
    params = mastery.fit(skills, groups(learners, skills), correct, order, forgets=False, pseudo_count=0)
    for name, (prior, learn, _, guess, slip) in TRUTH.items():
        i = params.skills.index(name)
        assert abs(params.prior[i] - prior) < 0.05, (name, params.prior[i])
        assert abs(params.learn[i] - learn) < 0.05, (name, params.learn[i])
        assert abs(params.guess[i] - guess) < 0.05, (name, params.guess[i])
        assert abs(params.slip[i] - slip) < 0.05, (name, params.slip[i])


def test_mastery_rises_with_correct_answers_and_falls_with_errors():
    params = mastery.BKTParams(["s"], *(np.array([v]) for v in (0.3, 0.2, 0.0, 0.2, 0.1)))
    right, _ = mastery.trace(params, [0, 0, 0], [0, 0, 0], [1, 1, 1], [0, 1, 2])
    assert np.all(np.diff(right) > 0)
    wrong, state = mastery.trace(params, [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 2])
    assert wrong[-1] < right[-1]
    assert state.attempts[0, 0] == 3
    assert not mastery.is_mastered(state.p_known[0])[0]
    _, state = mastery.trace(params, [0] * 8, [0] * 8, [1] * 8, list(range(8)))
    assert mastery.is_mastered(state.p_known[0])[0]
    assert mastery.skill_score(state.p_known[0])[0] >= 9.5


def test_incremental_trace_equals_full_trace():
    rng = np.random.default_rng(2)
    learners, skills, order, correct = simulate(rng, TRUTH, 400, 10)
    params = mastery.fit(skills, groups(learners, skills), correct, order)
    params.ability_weight = 6.0
    sidx = params.index(skills)
    full_pred, full = mastery.trace(params, learners, sidx, correct, order)
    cut = order < 17  # the first days, then the rest as an increment
    _, first = mastery.trace(params, learners[cut], sidx[cut], correct[cut], order[cut], n_learners=400)
    inc_pred, inc = mastery.trace(params, learners[~cut], sidx[~cut], correct[~cut], order[~cut], start=first)
    np.testing.assert_allclose(inc_pred, full_pred[~cut], rtol=0, atol=1e-12)
    np.testing.assert_allclose(inc.p_known, full.p_known, atol=1e-12)
    np.testing.assert_array_equal(inc.attempts, full.attempts)


def test_incremental_update_matches_a_refit_within_tolerance():
    """Daily runs keep the parameters and continue the trace; a weekly refit moves mastery only a little."""
    rng = np.random.default_rng(3)
    learners, skills, order, correct = simulate(rng, TRUTH, 1500, 12)
    early = order < 27
    old = mastery.fit(skills[early], groups(learners[early], skills[early]), correct[early], order[early])
    _, state = mastery.trace(old, learners[early], old.index(skills[early]), correct[early], order[early], n_learners=1500)
    _, incremental = mastery.trace(old, learners[~early], old.index(skills[~early]), correct[~early], order[~early], start=state)
    refit = mastery.fit(skills, groups(learners, skills), correct, order)
    _, full = mastery.trace(refit, learners, refit.index(skills), correct, order)
    a = mastery.current_mastery(old, incremental)
    b = mastery.current_mastery(refit, full)
    assert np.abs(a - b).mean() < 0.03
    assert (mastery.is_mastered(a) == mastery.is_mastered(b)).mean() > 0.95


def test_params_round_trip_through_json():
    rng = np.random.default_rng(4)
    learners, skills, order, correct = simulate(rng, TRUTH, 200, 6)
    items = np.char.add(skills.astype(str), (order % 3).astype(str))
    params = mastery.fit(skills, groups(learners, skills), correct, order, items_of_rows=items)
    again = mastery.BKTParams.from_dict(__import__("json").loads(__import__("json").dumps(params.to_dict())))
    p1, _ = mastery.trace(params, learners, params.index(skills), correct, order, params.item_index(items))
    p2, _ = mastery.trace(again, learners, again.index(skills), correct, order, again.item_index(items))
    np.testing.assert_allclose(p1, p2)


def two_skill_params(weight: float = 8.0) -> mastery.BKTParams:
    params = mastery.BKTParams(["a", "b", "c"], *(np.array([v] * 3) for v in (0.4, 0.2, 0.0, 0.2, 0.1)))
    params.ability_weight = weight
    return params


# One learner: two single-skill answers on skill c, then one answer tagged with skills a and b
# (two rows, one response), then one more answer on a.
MULTI = dict(learner=[0, 0, 0, 0, 0], skill=[2, 2, 0, 1, 0], order=[0, 1, 2, 3, 4], response=[10, 11, 12, 12, 13])


def trace_multi(params, outcome_of_multi: int, response=True):
    correct = [1, 1, outcome_of_multi, outcome_of_multi, 1]
    return mastery.trace(params, MULTI["learner"], MULTI["skill"], correct, MULTI["order"],
                         response=MULTI["response"] if response else None)


def test_copies_of_one_answer_are_predicted_from_the_pre_answer_state():
    params = two_skill_params()
    for outcome in (0, 1):
        pred, _ = trace_multi(params, outcome)
        # a and b have the same parameters and are both first attempts: the same individual prior
        assert pred[2] == pytest.approx(pred[3], abs=1e-15)
        expected = mastery.individual_prior(params, np.array([0]), np.array([1 - pred[0] + 1 - pred[1]]), np.array([2.0]))
        assert pred[2] == pytest.approx(expected[0] * 0.9 + (1 - expected[0]) * 0.2)
    # the leak this replaces: traced as consecutive answers the second copy's prior holds the first copy's outcome
    leaky_wrong, _ = trace_multi(params, 0, response=False)
    leaky_right, _ = trace_multi(params, 1, response=False)
    assert leaky_wrong[3] < leaky_wrong[2] and leaky_right[3] > leaky_right[2]


def test_flipping_an_answers_outcome_does_not_move_its_other_copies():
    params = two_skill_params()
    wrong, _ = trace_multi(params, 0)
    right, _ = trace_multi(params, 1)
    np.testing.assert_array_equal(wrong[:4], right[:4])  # every copy of the answer, and what came before
    assert right[4] > wrong[4]  # the outcome does reach the next answer


def test_learner_residual_is_updated_once_per_answer():
    params = two_skill_params()
    pred, state = trace_multi(params, 1)
    assert state.resid_n[0] == 4  # five rows, four answers
    expected = (1 - pred[0]) + (1 - pred[1]) + (1 - (pred[2] + pred[3]) / 2) + (1 - pred[4])
    assert state.resid_sum[0] == pytest.approx(expected, abs=1e-12)
    _, rows = trace_multi(params, 1, response=False)
    assert rows.resid_n[0] == 5  # without response ids each row is an answer (the single-skill case)


def test_trace_with_one_row_per_response_equals_the_trace_without_ids():
    rng = np.random.default_rng(5)
    learners, skills, order, correct = simulate(rng, TRUTH, 200, 6)
    params = mastery.fit(skills, groups(learners, skills), correct, order)
    params.ability_weight = 6.0
    sidx = params.index(skills)
    p1, s1 = mastery.trace(params, learners, sidx, correct, order)
    p2, s2 = mastery.trace(params, learners, sidx, correct, order, response=np.arange(len(learners))[::-1])
    np.testing.assert_allclose(p1, p2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(s1.resid_sum, s2.resid_sum, atol=1e-12)


def test_incremental_trace_with_multi_skill_answers_equals_full_trace():
    rng = np.random.default_rng(6)
    learners, skills, order, correct = simulate(rng, TRUTH, 300, 8)
    # every learner's attempts at step t of "fractions" and "algebra" become one two-skill answer
    t = order // len(TRUTH)
    merge = np.isin(skills, ["fractions", "algebra"])
    response = np.where(merge, learners * 1000 + t, 10**6 + np.arange(len(learners)))
    first = {}
    for i in np.flatnonzero(merge):
        first.setdefault(response[i], correct[i])
    correct = np.where(merge, [first.get(r, False) for r in response], correct)
    params = mastery.fit(skills, groups(learners, skills), correct, order)
    params.ability_weight = 6.0
    sidx = params.index(skills)
    full_pred, full = mastery.trace(params, learners, sidx, correct, order, response=response)
    cut = order < 12  # between answers: 12 is the first skill of step 4
    _, head = mastery.trace(params, learners[cut], sidx[cut], correct[cut], order[cut], n_learners=300,
                            response=response[cut])
    inc_pred, inc = mastery.trace(params, learners[~cut], sidx[~cut], correct[~cut], order[~cut], start=head,
                                  response=response[~cut])
    np.testing.assert_allclose(inc_pred, full_pred[~cut], rtol=0, atol=1e-12)
    np.testing.assert_allclose(inc.resid_sum, full.resid_sum, atol=1e-12)
    np.testing.assert_array_equal(inc.resid_n, full.resid_n)


def test_trace_rejects_malformed_answers():
    params = two_skill_params()
    with pytest.raises(ValueError, match="consecutive"):
        mastery.trace(params, [0, 0, 0], [0, 1, 2], [1, 1, 1], [0, 1, 2], response=[7, 8, 7])
    with pytest.raises(ValueError, match="consecutive"):
        mastery.trace(params, [0, 1], [0, 1], [1, 1], [0, 0], response=[7, 7])
    with pytest.raises(ValueError, match="same skill twice"):
        mastery.trace(params, [0, 0], [0, 0], [1, 1], [0, 1], response=[7, 7])
    with pytest.raises(ValueError, match="disagree on its outcome"):
        mastery.trace(params, [0, 0], [0, 1], [1, 0], [0, 1], response=[7, 7])


def test_response_ids_split_a_response_that_lists_a_skill_again():
    import pandas as pd

    from models.mastery_eval import response_ids

    df = pd.DataFrame({"user_id": ["u"] * 7, "seq": range(7), "skill_id": ["2", "47", "31", "2", "47", "31", "5"],
                       "response_id": [0, 0, 0, 0, 0, 0, 1]})
    ids = response_ids(df)
    assert ids[0] == ids[1] == ids[2] != ids[3] == ids[4] == ids[5] != ids[6]
    assert (response_ids(df.drop(columns="response_id")) == np.arange(7)).all()  # fallback: user_id × seq


def test_assistments_next_response_auc_meets_target():
    """Measured (benchmarks/bench_mastery.py): AUC 0.7610 with multi-skill answers traced and scored once;
    the earlier trace that let a copy's outcome reach the next copy's prior gave 0.7621."""
    path = requires_shared("assist2009", "responses.csv.gz")
    from devmentor.importers.assistments import read_assistments
    from models.mastery_eval import (
        evaluate_next_response,
        fit_assistments,
        response_ids,
    )

    df = read_assistments(path)
    # multi-skill answers share one response id and one outcome
    per_response = df.groupby("response_id")["correct"].nunique()
    assert per_response.max() == 1
    assert df["response_id"].nunique() < len(df)
    train, test = df[df["split"] == "train"], df[df["split"] == "test"]
    assert set(train["user_id"]).isdisjoint(test["user_id"])
    params = fit_assistments(train)
    ev = evaluate_next_response(params, test)
    assert ev.responses == len(np.unique(response_ids(test))) >= test["response_id"].nunique()
    assert ev.auc >= 0.760, ev
    leaky = evaluate_next_response(params, test, leaky=True)
    assert leaky.auc > ev.auc  # the leak flattered the figure


def test_assistments_reader_names_the_missing_column(tmp_path):
    from devmentor.importers.assistments import read_assistments

    bad = tmp_path / "responses.csv"
    bad.write_text("split,user_id,seq,problem_id,correct\ntrain,1,0,5,1\n")
    with pytest.raises(ValueError, match=r"responses.csv: missing column\(s\) skill_id"):
        read_assistments(bad)


def test_fit_sample_caps_learners_and_keeps_every_question_and_skill():
    import pandas as pd

    from devmentor.learning.mastery_model import fit_sample

    rng = np.random.default_rng(3)
    n = 6_000
    frame = pd.DataFrame({
        "user_id": [f"u{i % 600}" for i in range(n)],
        "problem_id": rng.choice([f"q{i}" for i in range(40)], n),
        "skill_id": rng.choice(["s1", "s2", "s3"], n),
    })
    frame.loc[n - 1, ["problem_id", "skill_id"]] = ["q_rare", "s_rare"]  # one learner's only attempt at them
    sample = fit_sample(frame, max_learners=50)
    assert 50 <= sample["user_id"].nunique() <= 52
    assert set(sample["problem_id"]) == set(frame["problem_id"]) and set(sample["skill_id"]) == set(frame["skill_id"])
    assert fit_sample(frame, max_learners=1_000) is frame  # everyone when under the cap


def test_answer_numbers_within_each_learner_match_a_per_learner_factorize():
    """frames.codes_within_groups (the calibration's answer numbers) replaced a groupby(...).transform(pd.factorize),
    a Python call per learner; it must number each learner's answers exactly as that did: by first appearance, -1
    for a missing id."""
    import pandas as pd

    from models.frames import codes_within_groups

    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(1, 80))
        users = np.sort(rng.integers(0, 7, n))
        values = pd.Series(rng.choice(np.array(["r1", "r2", "r3", None, "r4"], dtype=object), n))
        expected = values.groupby(users, sort=False).transform(lambda r: pd.factorize(r)[0]).to_numpy()
        learner = np.unique(users, return_inverse=True)[1]
        np.testing.assert_array_equal(codes_within_groups(learner, values), expected)
