"""The EM steps of BKT fitting (``models.mastery.fit`` runs them): a forward pass (filtered P(known) and each
answer's likelihood), a backward pass (smoothed P(known) and the expected transition counts per sequence) and
the M-step (shrunk per-skill and per-item estimates). Arrays only, on the packed layout of ``models.sequences``.
"""

from __future__ import annotations

import numpy as np

GUESS_SLIP_CAP = 0.45
EPS = 1e-6


def emissions(obs, guess, slip):
    """P(answer | known), P(answer | unknown) of each row."""
    return np.where(obs, 1 - slip, slip), np.where(obs, guess, 1 - guess)


def forward(pk, obs, prior, learn, forget, guess, slip, alpha, scale) -> float:
    """Fill ``alpha`` (filtered P(known | o_1..k)) and ``scale`` (P(o_k | o_<k)); the log-likelihood.
    ``prior``, ``learn``, ``forget`` are per sequence, ``guess`` and ``slip`` per packed row."""
    state = prior.copy()
    for k in range(pk.max_len):
        s, a = pk.step(k)
        p = state[:a]
        e_known, e_unknown = emissions(obs[s], guess[s], slip[s])
        c = p * e_known + (1 - p) * e_unknown
        post = p * e_known / c
        scale[s] = c
        alpha[s] = post
        state[:a] = post * (1 - forget[:a]) + (1 - post) * learn[:a]
    return float(np.log(scale).sum())


def backward(pk, obs, learn, forget, guess, slip, alpha, scale, gamma) -> dict[str, np.ndarray]:
    """Fill ``gamma`` (smoothed P(known | all answers)); per sequence the expected counts: ``g0`` known at the
    first answer, ``uk`` unknown→known, ``u`` unknown, ``ku`` known→unknown, ``k`` known (over transitions)."""
    b_known = np.ones(pk.n_groups)
    b_unknown = np.ones(pk.n_groups)
    acc = {k: np.zeros(pk.n_groups) for k in ("g0", "uk", "u", "ku", "k")}
    for k in range(pk.max_len - 1, -1, -1):
        s, a = pk.step(k)
        al = alpha[s]
        s1, a1 = pk.step(k + 1) if k + 1 < pk.max_len else (slice(0, 0), 0)
        if a1:
            e1_known, e1_unknown = emissions(obs[s1], guess[s1], slip[s1])
            c1 = scale[s1]
            wk = e1_known * b_known[:a1] / c1
            wu = e1_unknown * b_unknown[:a1] / c1
            new_bk = (1 - forget[:a1]) * wk + forget[:a1] * wu
            new_bu = learn[:a1] * wk + (1 - learn[:a1]) * wu
            al1 = al[:a1]
            acc["uk"][:a1] += (1 - al1) * learn[:a1] * wk
            acc["ku"][:a1] += al1 * forget[:a1] * wu
            g_known = al1 * new_bk
            acc["k"][:a1] += g_known
            acc["u"][:a1] += 1 - g_known
            b_known[:a1], b_unknown[:a1] = new_bk, new_bu
        b_known[a1:a] = 1.0
        b_unknown[a1:a] = 1.0
        gamma[s] = al * b_known[:a]
        if k == 0:
            acc["g0"][:a] = gamma[s]
    return acc


def _ratio(num, den, fallback, weight):
    num, den = num + weight * fallback, den + weight
    return np.where(den > EPS, num / np.maximum(den, EPS), fallback)


def m_step(acc, gamma, obs_f, r_skill, p_skill, n_skills, forgets: bool, pseudo_count: float) -> dict[str, np.ndarray]:
    """Per-skill prior, learn, forget, guess and slip: each skill's expected counts shrunk toward the population's
    by ``pseudo_count`` pseudo-observations; also the per-row emission counts (``em``) the item step reuses."""
    sums = {k: np.bincount(r_skill, weights=v, minlength=n_skills) for k, v in acc.items()}
    # emission counts per row: known-and-correct, known, unknown-and-correct, unknown
    em = {"ko": gamma * obs_f, "kn": gamma, "uo": (1 - gamma) * obs_f, "un": 1 - gamma}
    em_skill = {k: np.bincount(p_skill, weights=v, minlength=n_skills) for k, v in em.items()}
    n_seq = np.bincount(r_skill, minlength=n_skills).astype(float)
    pop = {
        "prior": sums["g0"].sum() / max(n_seq.sum(), 1),
        "learn": sums["uk"].sum() / max(sums["u"].sum(), EPS),
        "forget": sums["ku"].sum() / max(sums["k"].sum(), EPS),
        "guess": em_skill["uo"].sum() / max(em_skill["un"].sum(), EPS),
        "slip": 1 - em_skill["ko"].sum() / max(em_skill["kn"].sum(), EPS),
    }
    m = pseudo_count
    return {
        "prior": np.clip(_ratio(sums["g0"], n_seq, pop["prior"], m), 0.01, 0.99),
        "learn": np.clip(_ratio(sums["uk"], sums["u"], pop["learn"], m), 0.001, 0.99),
        "forget": np.clip(_ratio(sums["ku"], sums["k"], pop["forget"], m), 0.0, 0.5) if forgets else np.zeros(n_skills),
        "guess": np.clip(_ratio(em_skill["uo"], em_skill["un"], pop["guess"], m), 0.001, GUESS_SLIP_CAP),
        "slip": np.clip(_ratio(em_skill["kn"] - em_skill["ko"], em_skill["kn"], pop["slip"], m), 0.001, GUESS_SLIP_CAP),
        "em": em,
    }


def item_step(em, p_item, n_items, item_skill, guess, slip, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-item guess and slip, shrunk toward their skill's by ``weight`` pseudo-attempts."""
    em_item = {k: np.bincount(p_item, weights=v, minlength=n_items) for k, v in em.items()}
    item_guess = np.clip(_ratio(em_item["uo"], em_item["un"], guess[item_skill], weight), 0.001, GUESS_SLIP_CAP)
    item_slip = np.clip(_ratio(em_item["kn"] - em_item["ko"], em_item["kn"], slip[item_skill], weight), 0.001, GUESS_SLIP_CAP)
    return item_guess, item_slip
