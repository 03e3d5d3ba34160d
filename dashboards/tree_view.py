"""A champion tree as an instructor reads it: one path in words per leaf, and a picture (Graphviz DOT).

Built from the rule table the decisions were made with (serving.threshold_snapshots: every split as two
rules, R<node>L "<=" and R<node>R ">", with instructor overrides applied) and from the current decisions
(which leaf each learner is in, and its label). No Streamlit here, so it is tested on its own.
"""

from __future__ import annotations

import json
import textwrap

import pandas as pd

from dashboards.labels import as_float, path_words, rule_words


def rules_frame(rules) -> pd.DataFrame:
    """The snapshot's rules (JSON text or a list of dicts) as a frame, words recomputed for overridden thresholds."""
    frame = pd.DataFrame(json.loads(rules) if isinstance(rules, str) else list(rules or []))
    if frame.empty:
        return frame
    for col in ("threshold", "trained_threshold"):
        if col in frame:
            frame[col] = [as_float(t) for t in frame[col]]
    frame["rule"] = [rule_words(f, o, t) for f, o, t in zip(frame["feature"], frame["operator"], frame["threshold"])]
    return frame


def leaves(rules: pd.DataFrame) -> pd.DataFrame:
    """One row per leaf: its node id, the rule ids on its path and the path in words ('… and …')."""
    if rules.empty:
        return pd.DataFrame({"leaf": [0], "rule_ids": [[]], "leaf_path": ["every learner (the tree has a single leaf)"]})
    by_node = {int(n): g.set_index("operator") for n, g in rules.groupby("node_id")}
    rows, stack = [], [(0, [], [])]
    while stack:
        node, ids, words = stack.pop()
        if node not in by_node:
            rows.append({"leaf": node, "rule_ids": ids, "leaf_path": path_words(words)})
            continue
        split = by_node[node]
        for op in (">", "<="):  # pushed right first so leaves come out left to right
            r = split.loc[op]
            stack.append((int(r["child_node_id"]), ids + [r["rule_id"]], words + [(r["feature"], op, r["threshold"])]))
    return pd.DataFrame(rows)


def label_leaves(paths: pd.DataFrame, rules: pd.DataFrame, decided: pd.DataFrame) -> pd.DataFrame:
    """Add each leaf's decision and how many learners are in it now.

    ``decided``: decision_label, last_rule (the last rule id on a decision's path, None for a single leaf), learners.
    A leaf no current learner reaches has no decision to read; it says so.
    """
    child_of = dict(zip(rules["rule_id"], rules["child_node_id"].astype(int))) if len(rules) else {}
    decided = decided.assign(leaf=[child_of.get(r, 0) if r else 0 for r in decided["last_rule"]])
    per_leaf = decided.groupby("leaf").agg(decision_label=("decision_label", "first"), learners_now=("learners", "sum"))
    out = paths.merge(per_leaf, left_on="leaf", right_index=True, how="left")
    out["learners_now"] = out["learners_now"].fillna(0).astype(int)
    out["decision_label"] = out["decision_label"].fillna("(no learner here now)")
    return out


def _quote(text: str, width: int = 24) -> str:
    """A DOT string literal, wrapped onto lines of about ``width`` characters (a narrower tree reads larger)."""
    lines = textwrap.wrap(str(text).replace("\\", "/").replace('"', "'"), width) or [""]
    return '"' + "\\n".join(lines) + '"'


def tree_dot(rules: pd.DataFrame, labelled: pd.DataFrame, highlight: tuple[str, ...] = ()) -> str:
    """Graphviz DOT: each split asks its '<=' rule (yes → left, no → right); each leaf shows its decision and learners."""
    lines = ["digraph tree {", 'graph [rankdir=LR, nodesep=0.15, ranksep=0.3];',
             'node [shape=box, style="rounded,filled", fillcolor="#f0f2f6", fontname="Helvetica", fontsize=14];',
             'edge [fontname="Helvetica", fontsize=12];']
    for node, split in (rules.groupby("node_id") if len(rules) else []):
        left = split[split["operator"] == "<="].iloc[0]
        right = split[split["operator"] == ">"].iloc[0]
        overridden = " (instructor threshold)" if bool(left.get("overridden", False)) else ""
        lines.append(f"n{int(node)} [label={_quote(left['rule'] + '?' + overridden)}];")
        lines.append(f"n{int(node)} -> n{int(left['child_node_id'])} [label=yes];")
        lines.append(f"n{int(node)} -> n{int(right['child_node_id'])} [label=no];")
    for leaf in labelled.itertuples():
        colour = "#fde2e1" if leaf.decision_label in highlight else "#e3f1e6"
        text = _quote(leaf.decision_label)[:-1] + f"\\n{leaf.learners_now:,} learner{'s' if leaf.learners_now != 1 else ''} now" + '"'
        lines.append(f'n{int(leaf.leaf)} [label={text}, fillcolor="{colour}"];')
    lines.append("}")
    return "\n".join(lines)
