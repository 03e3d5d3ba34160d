"""Mastery: Bayesian Knowledge Tracing with forgetting, fitted by EM, vectorised over sequences.

Each learner × skill sequence of attempts is a two-state hidden Markov model
(not known / known) with per-skill parameters:

- ``prior``  P(known before the first attempt)
- ``learn``  P(not known -> known) after an attempt
- ``forget`` P(known -> not known) after an attempt (0 gives standard BKT)
- ``guess``  P(correct | not known)
- ``slip``   P(wrong | known)

Parameters are fitted with Baum-Welch (EM) on all sequences at once (see
``models/sequences.py``), with weak Beta pseudo-counts toward the population values
so a skill with little data does not run to a degenerate corner, and guess / slip
capped below 0.5 so "known" always means "more likely correct".

Why not pyBKT: pyBKT 1.4.3 fails to import with scikit-learn 1.9 and its EM fails
under NumPy 2 ("setting an array element with a sequence"). The model and the EM here
are the same as pyBKT's ``forgets=True`` model.

Tracing (``trace``) runs per learner with all skills interleaved in time order, so a
learner's first attempt at a new skill starts from an individualised prior: the skill's
prior shifted by how the learner did on earlier answers (one weight, chosen on the
training data). One answer to a question tagged with several skills arrives as one row per
skill; ``trace(..., response=ids)`` treats those rows as one answer: every copy is predicted
from the state before the answer, and the learner's residual is updated once, after all
copies, with the outcome minus the copies' mean prediction. (Tracing the copies as
consecutive answers lets the first copy's outcome reach the second copy's prior — a leak
that was worth 0.001 AUC on ASSISTments 2009.) This lifts next-response AUC there from
0.754 to 0.761 (``benchmarks/bench_mastery.py``).

The incremental path: ``trace(..., start=state)`` continues from a stored state with the
same parameters, which equals tracing the whole history again; parameters are refitted
only when the models are retrained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from models import bkt_em
from models.sequences import pack

ALGORITHM = "bkt-forget"
MASTERY_THRESHOLD = 0.95
MIN_EVIDENCE = 3  # attempts before a skill can count as mastered


@dataclass
class BKTParams:
    """Fitted parameters per skill (arrays aligned with ``skills``), and optionally per item.

    With items (KT-IDEM, Pardos & Heffernan 2011), guess and slip belong to the question
    answered rather than to the skill: an easy and a hard question of one skill are not
    the same evidence. Items seen too rarely shrink toward their skill's guess and slip.
    """

    skills: list[str]
    prior: np.ndarray
    learn: np.ndarray
    forget: np.ndarray
    guess: np.ndarray
    slip: np.ndarray
    items: list[str] = field(default_factory=list)
    item_guess: np.ndarray = field(default_factory=lambda: np.zeros(0))
    item_slip: np.ndarray = field(default_factory=lambda: np.zeros(0))
    log_likelihood: float = float("nan")
    iterations: int = 0
    n_attempts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ability_weight: float = 0.0
    ability_shrinkage: float = 2.0
    calibration: dict = field(default_factory=dict)  # isotonic maps of skill-level success (models/calibration.py)

    def index(self, skills) -> np.ndarray:
        """Parameter row of each skill; unknown skills get -1."""
        return _lookup(self.skills, skills)

    def item_index(self, items) -> np.ndarray:
        """Item row of each item; unknown items (or a model without items) get -1."""
        return _lookup(self.items, items)

    def with_default(self) -> BKTParams:
        """These parameters plus one extra skill row, the attempt-weighted mean, for unseen skills."""
        w = np.maximum(self.n_attempts, 1).astype(float) if len(self.n_attempts) else np.ones(len(self.skills))

        def avg(a):
            return np.append(a, np.average(a, weights=w) if len(a) else 0.5)

        return BKTParams(
            self.skills + ["__default__"], avg(self.prior), avg(self.learn), avg(self.forget), avg(self.guess),
            avg(self.slip), self.items, self.item_guess, self.item_slip, self.log_likelihood, self.iterations,
            np.append(self.n_attempts, 0), self.ability_weight, self.ability_shrinkage, self.calibration,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        d["algorithm"] = ALGORITHM
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BKTParams:
        arrays = {k: np.asarray(d[k], dtype=float) for k in ("prior", "learn", "forget", "guess", "slip")}
        return cls(
            list(d["skills"]), **arrays, items=list(d.get("items", [])),
            item_guess=np.asarray(d.get("item_guess", []), dtype=float),
            item_slip=np.asarray(d.get("item_slip", []), dtype=float),
            log_likelihood=d.get("log_likelihood", float("nan")), iterations=d.get("iterations", 0),
            n_attempts=np.asarray(d.get("n_attempts", []), dtype=np.int64),
            ability_weight=d.get("ability_weight", 0.0), ability_shrinkage=d.get("ability_shrinkage", 2.0),
            calibration=d.get("calibration", {}),
        )

    def emission(self, skill_idx: np.ndarray, item_idx: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Guess and slip of each row: its item's when the item is known, else its skill's."""
        guess, slip = self.guess[skill_idx], self.slip[skill_idx]
        if item_idx is not None and len(self.items):
            item_idx = np.asarray(item_idx, dtype=np.int64)
            known = item_idx >= 0
            guess = np.where(known, self.item_guess[np.where(known, item_idx, 0)], guess)
            slip = np.where(known, self.item_slip[np.where(known, item_idx, 0)], slip)
        return guess, slip


def _lookup(names: list[str], values) -> np.ndarray:
    lookup = {s: i for i, s in enumerate(names)}
    return np.array([lookup.get(v, -1) for v in values], dtype=np.int64)


@dataclass
class TraceState:
    """Where every learner stands after the attempts traced so far (the incremental path's state).

    Rows are learners (0..L-1), columns the parameter rows of ``BKTParams.skills``.
    """

    p_next: np.ndarray  # P(known) before the next attempt; NaN where the skill was never attempted
    p_known: np.ndarray  # P(known | attempts so far); NaN where never attempted
    attempts: np.ndarray  # attempts per learner × skill
    resid_sum: np.ndarray  # per learner: sum of (correct - predicted) over all answers
    resid_n: np.ndarray  # per learner: answers counted in resid_sum (a multi-skill answer once)

    @classmethod
    def empty(cls, n_learners: int, n_skills: int) -> TraceState:
        return cls(np.full((n_learners, n_skills), np.nan), np.full((n_learners, n_skills), np.nan),
                   np.zeros((n_learners, n_skills), np.int64), np.zeros(n_learners), np.zeros(n_learners))

    def grown(self, n_learners: int) -> TraceState:
        """The same state with room for more learners (new learners start empty)."""
        extra = n_learners - len(self.resid_sum)
        if extra <= 0:
            return self
        e = TraceState.empty(extra, self.p_next.shape[1])
        return TraceState(np.vstack([self.p_next, e.p_next]), np.vstack([self.p_known, e.p_known]),
                          np.vstack([self.attempts, e.attempts]), np.concatenate([self.resid_sum, e.resid_sum]),
                          np.concatenate([self.resid_n, e.resid_n]))

    def copy(self) -> TraceState:
        return TraceState(self.p_next.copy(), self.p_known.copy(), self.attempts.copy(), self.resid_sum.copy(),
                          self.resid_n.copy())


def _group_arrays(group, skill_idx):
    group = np.asarray(group, dtype=np.int64)
    n_groups = int(group.max()) + 1 if len(group) else 0
    g_skill = np.zeros(n_groups, dtype=np.int64)
    g_skill[group] = skill_idx
    return group, n_groups, g_skill


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def individual_prior(params: BKTParams, skill_idx: np.ndarray, resid_sum: np.ndarray, resid_n: np.ndarray) -> np.ndarray:
    """P(known) before a learner's first attempt at a skill: the skill's prior shifted by the learner's ability.

    Ability is the learner's mean residual (correct minus predicted) on every earlier answer,
    shrunk toward zero by ``ability_shrinkage`` pseudo-answers (Pardos & Heffernan's
    individualised prior, estimated online so it works for learners never seen in training).
    """
    ability = resid_sum / (resid_n + params.ability_shrinkage)
    return 1 / (1 + np.exp(-(_logit(params.prior[skill_idx]) + params.ability_weight * ability)))


def _last_of_response(pk, response: np.ndarray, n_responses: int) -> np.ndarray:
    """Per packed row: True where the next row of the same learner belongs to another answer (or there is none).

    Raises when an answer's rows are not consecutive in its learner's order, or span learners (``n_responses``:
    how many distinct answers there are).
    """
    resp = pk.to_packed(response)
    last = np.ones(len(resp), dtype=bool)
    for k in range(pk.max_len - 1):
        sl, _ = pk.step(k)
        sl1, a1 = pk.step(k + 1)
        last[sl.start:sl.start + a1] = resp[sl.start:sl.start + a1] != resp[sl1]
    if int(last.sum()) != n_responses:
        raise ValueError("trace: the rows of one response must be consecutive in one learner's order "
                         "(a response id repeats across learners or is interleaved with other answers)")
    return last


def _check_responses(response: np.ndarray, skill_idx: np.ndarray, correct: np.ndarray) -> int:
    """Every answer has one row per skill and one outcome; returns how many answers there are (counted on the
    sort the check needs anyway: a hash ``np.unique`` of the ids cost 0.1 s a trace at 3.8 M rows)."""
    by = np.lexsort((skill_idx, response))
    same = np.diff(response[by]) == 0
    if np.any(same & (np.diff(skill_idx[by]) == 0)):
        raise ValueError("trace: a response lists the same skill twice; pass one row per response × skill")
    if np.any(same & (np.diff(correct[by].astype(np.int8)) != 0)):
        raise ValueError("trace: the rows of one response disagree on its outcome")
    return int(len(response) - np.count_nonzero(same))


def trace(
    params: BKTParams,
    learner,
    skill_idx,
    correct,
    order=None,
    item_idx=None,
    start: TraceState | None = None,
    n_learners: int | None = None,
    response=None,
) -> tuple[np.ndarray, TraceState]:
    """Run the forward filter over every learner's attempts, all skills interleaved in time order.

    ``learner`` ids are 0..L-1, ``skill_idx`` each row's parameter row, ``item_idx`` its item row
    (-1 or None: the skill's guess and slip), ``correct`` 0/1, ``order`` the time order within a
    learner. ``response`` (any integer ids) marks the rows that are copies of one answer, one per
    skill of a multi-skill question: they must be consecutive in the learner's order and share the
    outcome. All copies are predicted from the state before the answer (no copy's outcome reaches
    another copy's prediction); each copy updates its own skill; the learner's residual is updated
    once per answer, after its last copy, by the outcome minus the copies' mean prediction. Without
    ``response`` every row is its own answer.

    Returns P(correct) predicted before each row (the caller's row order) and the state after the
    last row. ``start`` continues from a stored state: tracing new attempts from it gives exactly
    what tracing the whole history again gives (split the history between answers, not inside one).
    """
    learner = np.asarray(learner, dtype=np.int64)
    skill_idx = np.asarray(skill_idx, dtype=np.int64)
    n = max(int(learner.max()) + 1 if len(learner) else 0, n_learners or 0)
    n_skills = len(params.skills)
    state = start.grown(n).copy() if start is not None else TraceState.empty(n, n_skills)
    if len(learner) == 0:
        return np.zeros(0), state
    pk = pack(learner, order)
    if response is not None:
        response = np.asarray(response, dtype=np.int64)
        n_responses = _check_responses(response, skill_idx, np.asarray(correct, dtype=bool))
        last = _last_of_response(pk, response, n_responses)
    else:
        last = None
    ranks = pk.group_of_rank
    p_next, p_known, attempts = state.p_next[ranks], state.p_known[ranks], state.attempts[ranks]
    rsum, rn = state.resid_sum[ranks], state.resid_n[ranks]
    pend_sum, pend_n = np.zeros(len(ranks)), np.zeros(len(ranks))  # the open answer's predictions per learner
    row_guess, row_slip = params.emission(skill_idx, item_idx)
    guess, slip = pk.to_packed(row_guess), pk.to_packed(row_slip)
    skills = pk.to_packed(skill_idx)
    obs = pk.to_packed(np.asarray(correct, dtype=bool))
    pred = np.empty(len(obs))
    for k in range(pk.max_len):
        sl, a = pk.step(k)
        r = np.arange(a)
        sk = skills[sl]
        cur = p_next[r, sk]
        fresh = np.isnan(cur)
        if fresh.any():
            cur = np.where(fresh, individual_prior(params, sk, rsum[:a], rn[:a]), cur)
        g, sp = guess[sl], slip[sl]
        pr = cur * (1 - sp) + (1 - cur) * g
        pred[sl] = pr
        o = obs[sl]
        post = np.where(o, cur * (1 - sp) / pr, cur * sp / (1 - pr))
        p_known[r, sk] = post
        p_next[r, sk] = post * (1 - params.forget[sk]) + (1 - post) * params.learn[sk]
        attempts[r, sk] += 1
        if last is None:
            rsum[:a] += o - pr
            rn[:a] += 1
        else:
            pend_sum[:a] += pr
            pend_n[:a] += 1
            done = last[sl]
            rsum[:a] += np.where(done, o - pend_sum[:a] / np.maximum(pend_n[:a], 1), 0.0)
            rn[:a] += done
            pend_sum[:a] = np.where(done, 0.0, pend_sum[:a])
            pend_n[:a] = np.where(done, 0.0, pend_n[:a])
    state.p_next[ranks], state.p_known[ranks], state.attempts[ranks] = p_next, p_known, attempts
    state.resid_sum[ranks], state.resid_n[ranks] = rsum, rn
    return pk.to_rows(pred), state


def per_response(pred: np.ndarray, correct, response=None) -> tuple[np.ndarray, np.ndarray]:
    """One prediction and one outcome per answer: the mean of its copies' predictions (rows if no ``response``)."""
    pred = np.asarray(pred, dtype=float)
    correct = np.asarray(correct)
    if response is None:
        return pred, correct
    _, first, inv = np.unique(np.asarray(response), return_index=True, return_inverse=True)
    mean = np.bincount(inv, weights=pred) / np.bincount(inv)
    return mean, correct[first]


def predicted_success(params: BKTParams, skill_idx, p_known, attempts, item_idx=None) -> np.ndarray:
    """P(correct) on the next answer from a published P(known): after the learn / forget step where the skill was
    attempted (an unattempted skill's P(known) is its prior, which the next answer meets as is), with the
    question's guess and slip when ``item_idx`` names it (else the skill's)."""
    skill_idx = np.asarray(skill_idx, dtype=np.int64)
    p_known = np.asarray(p_known, dtype=float)
    p_next = np.where(np.asarray(attempts) > 0,
                      p_known * (1 - params.forget[skill_idx]) + (1 - p_known) * params.learn[skill_idx], p_known)
    guess, slip = params.emission(skill_idx, item_idx)
    return p_next * (1 - slip) + (1 - p_next) * guess


def current_mastery(params: BKTParams, state: TraceState) -> np.ndarray:
    """P(known) per learner × skill now: the posterior where attempted, the individual prior elsewhere."""
    n, s = state.p_known.shape
    prior = individual_prior(params, np.broadcast_to(np.arange(s), (n, s)), state.resid_sum[:, None], state.resid_n[:, None])
    return np.where(np.isnan(state.p_known), prior, state.p_known)


def fit_ability_weight(params: BKTParams, learner, skill_idx, correct, order=None, item_idx=None,
                       grid=(0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0), response=None) -> float:
    """The ability weight with the best log-likelihood on the training answers (a 1-D grid search).

    With ``response`` the trace groups the copies of a multi-skill answer (see ``trace``) and the
    log-likelihood counts each answer once, at the mean of its copies' predictions.
    """
    correct = np.asarray(correct, dtype=bool)
    best, best_ll = 0.0, -np.inf
    for w in grid:
        params.ability_weight = w
        pred, _ = trace(params, learner, skill_idx, correct, order, item_idx, response=response)
        pred, obs = per_response(pred, correct, response)
        pred = np.clip(pred, 1e-9, 1 - 1e-9)
        ll = float(np.where(obs, np.log(pred), np.log(1 - pred)).sum())
        if ll > best_ll:
            best, best_ll = w, ll
    params.ability_weight = best
    return best


def fit(
    skills_of_rows,
    group,
    correct,
    order=None,
    items_of_rows=None,
    forgets: bool = True,
    max_iter: int = 100,
    tol: float = 1e-6,
    pseudo_count: float = 10.0,
    item_pseudo_count: float = 5.0,
) -> BKTParams:
    """Fit BKT parameters by EM over all sequences at once.

    ``skills_of_rows`` names each row's skill, ``group`` (0..G-1) identifies its learner × skill
    sequence, ``order`` orders rows within a sequence. With ``items_of_rows`` guess and slip are
    fitted per item, shrunk toward the skill's by ``item_pseudo_count`` pseudo-attempts.
    """
    skill_names, skill_idx = np.unique(np.asarray(skills_of_rows, dtype=object).astype(str), return_inverse=True)
    n_skills = len(skill_names)
    group, n_groups, g_skill = _group_arrays(group, skill_idx)
    correct = np.asarray(correct, dtype=bool)
    pk = pack(group, order)
    ranks = pk.group_of_rank
    r_skill = g_skill[ranks]
    obs = pk.to_packed(correct)
    obs_f = obs.astype(float)
    p_skill = pk.to_packed(skill_idx)
    n_att = np.bincount(skill_idx, minlength=n_skills)
    if items_of_rows is not None:
        item_names, item_idx = np.unique(np.asarray(items_of_rows, dtype=object).astype(str), return_inverse=True)
        p_item = pk.to_packed(item_idx)
        n_items = len(item_names)
        item_skill = np.zeros(n_items, dtype=np.int64)
        item_skill[item_idx] = skill_idx  # an item's skill (the last seen, for multi-skill items)
    else:
        item_names, p_item, n_items = np.array([], dtype=str), None, 0

    prior, learn = np.full(n_skills, 0.4), np.full(n_skills, 0.15)
    forget = np.full(n_skills, 0.03 if forgets else 0.0)
    guess, slip = np.full(n_skills, 0.2), np.full(n_skills, 0.1)
    item_guess, item_slip = np.full(n_items, 0.2), np.full(n_items, 0.1)
    prev_ll = ll = -np.inf
    it = 0
    alpha, scale, gamma = np.empty(len(obs)), np.empty(len(obs)), np.empty(len(obs))
    for it in range(1, max_iter + 1):
        le, fo = learn[r_skill], forget[r_skill]
        gu, sl_ = (item_guess[p_item], item_slip[p_item]) if p_item is not None else (guess[p_skill], slip[p_skill])
        ll = bkt_em.forward(pk, obs, prior[r_skill], le, fo, gu, sl_, alpha, scale)
        acc = bkt_em.backward(pk, obs, le, fo, gu, sl_, alpha, scale, gamma)
        new = bkt_em.m_step(acc, gamma, obs_f, r_skill, p_skill, n_skills, forgets, pseudo_count)
        prior, learn, forget, guess, slip = (new[k] for k in ("prior", "learn", "forget", "guess", "slip"))
        if p_item is not None:
            item_guess, item_slip = bkt_em.item_step(new["em"], p_item, n_items, item_skill, guess, slip, item_pseudo_count)
        if abs(ll - prev_ll) < tol * abs(ll):
            break
        prev_ll = ll
    return BKTParams(list(skill_names), prior, learn, forget, guess, slip, list(item_names), item_guess, item_slip,
                     ll, it, n_att)


def skill_score(p_known: np.ndarray) -> np.ndarray:
    """Mastery on the 0-10 scale the seed's ``skill_scores`` use (one decimal)."""
    return np.round(np.asarray(p_known) * 10, 1)


def is_mastered(p_known: np.ndarray, attempts: np.ndarray | None = None, threshold: float = MASTERY_THRESHOLD) -> np.ndarray:
    """Mastered: P(known) at least ``threshold`` with at least ``MIN_EVIDENCE`` attempts of evidence.

    Without the evidence rule a strong learner's individualised prior alone could 'master' a
    skill they never practised and open the modules behind it.
    """
    ok = np.asarray(p_known) >= threshold
    return ok if attempts is None else ok & (np.asarray(attempts) >= MIN_EVIDENCE)
