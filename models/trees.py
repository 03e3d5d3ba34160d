"""Interpretable decision trees for learner decisions: training, rule tables, decision paths.

Plain Python: no Dagster, no I/O. The assets call these functions and log the
results to MLflow at that boundary.

Missing feature values are passed to the tree as NaN; scikit-learn's trees learn
which side missing values go to at each split, and the rule table records it, so
nothing is imputed (and no imputation statistic can drift between training and
scoring).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, f1_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier, export_text

from models.early_warning import FEATURE_DESCRIPTIONS as EARLY_WARNING_DESCRIPTIONS
from models.segments import EARLY_WARNING_PREFIX
from models.segments import FEATURE_DESCRIPTIONS as SEGMENT_DESCRIPTIONS

FEATURE_DESCRIPTIONS = {**EARLY_WARNING_DESCRIPTIONS, **SEGMENT_DESCRIPTIONS}


def feature_words(feature: str) -> str | None:
    """A model feature in words (models/segments.py, models/early_warning.py); the learner trees' copies of the
    early-warning features (prefix ``ew_``) are the learner's current enrolment's. None when it has none."""
    words = FEATURE_DESCRIPTIONS.get(feature)
    base = feature[len(EARLY_WARNING_PREFIX):] if feature.startswith(EARLY_WARNING_PREFIX) else None
    if not words and base in EARLY_WARNING_DESCRIPTIONS:
        words = f"{EARLY_WARNING_DESCRIPTIONS[base]} (current enrolment)"
    return words

@dataclass
class TrainedTree:
    tree_id: str
    model: DecisionTreeClassifier
    features: list[str]
    params: dict
    metrics: dict
    label_source: str
    training_rows: int
    holdout_rows: int
    data_fingerprint: str
    classes: list[str] = field(default_factory=list)
    report: str = ""
    holdout_index: list = field(default_factory=list)

    @property
    def rules_text(self) -> str:
        return export_text(self.model, feature_names=self.features, show_weights=False, decimals=3)


def data_fingerprint(X: pd.DataFrame, y: pd.Series) -> str:
    """Order-independent SHA-256 of the training rows (features and label)."""
    rows = pd.util.hash_pandas_object(pd.concat([X, y.rename("__label__")], axis=1), index=False)
    return hashlib.sha256(np.sort(rows.to_numpy()).tobytes()).hexdigest()


def stable_holdout(keys, share: float) -> np.ndarray:
    """Held-out rows by a stable hash of each row's key (a learner id, an enrolment): the same key is always
    in or always out, whatever the row order, the run or the other rows, so a champion is never scored on
    rows it trained on."""
    cut = int(share * 10_000)
    return np.array([int(hashlib.sha256(str(k).encode()).hexdigest()[:8], 16) % 10_000 < cut for k in keys], dtype=bool)


def train_tree(
    tree_id: str,
    X: pd.DataFrame,
    y: pd.Series,
    label_source: str,
    max_depth: int = 5,
    min_samples_leaf: int = 10,
    holdout: float = 0.25,
    seed: int = 0,
    holdout_keys=None,
) -> TrainedTree:
    """Fit a depth-limited tree and report held-out metrics. With ``holdout_keys`` (one key per row) the
    held-out rows are fixed by a stable hash of the key (what the pipeline uses, so the champion gate compares
    versions on rows neither trained on); without, a stratified random split."""
    y = y.astype(str)
    counts = y.value_counts()
    if len(counts) < 1:
        raise ValueError(f"{tree_id}: no labelled rows to train on")
    # One class (the rules give every learner the same segment, e.g. ASSISTments: no hints, study time or module
    # completions) trains a one-leaf tree that says so (metrics["classes"] = 1) instead of failing the whole run.
    if holdout_keys is not None:
        mask = stable_holdout(list(holdout_keys), holdout)
        if mask.all() or not mask.any():
            raise ValueError(f"{tree_id}: {len(X)} rows are too few for a held-out share of {holdout}")
        X_train, X_test, y_train, y_test = X[~mask], X[mask], y[~mask], y[mask]
    else:
        stratify = y if counts.min() >= 2 else None
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=holdout, random_state=seed, stratify=stratify)
    params = {
        "max_depth": max_depth,
        "min_samples_leaf": min_samples_leaf,
        "class_weight": "balanced",
        "criterion": "gini",
        "random_state": seed,
        "holdout": "stable_hash_of_key" if holdout_keys is not None else "stratified_random",
    }
    model = DecisionTreeClassifier(**{k: v for k, v in params.items() if k != "holdout"})
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    metrics = {
        "holdout_accuracy": float(accuracy_score(y_test, pred)),
        "holdout_macro_f1": float(f1_score(y_test, pred, average="macro", zero_division=0)),
        "train_accuracy": float(accuracy_score(y_train, model.predict(X_train))),
        "n_leaves": int(model.get_n_leaves()),
        "depth": int(model.get_depth()),
        "classes": int(len(counts)),
    }
    per_class = f1_score(y_test, pred, average=None, labels=list(model.classes_), zero_division=0)
    for label, score in zip(model.classes_, per_class):
        metrics[f"holdout_f1_{_slug(label)}"] = float(score)
    return TrainedTree(
        tree_id=tree_id,
        model=model,
        features=list(X.columns),
        params={**params, "holdout_fraction": holdout, "label_source": label_source},
        metrics=metrics,
        label_source=label_source,
        training_rows=len(X_train),
        holdout_rows=len(X_test),
        data_fingerprint=data_fingerprint(X, y),
        classes=[str(c) for c in model.classes_],
        report=classification_report(y_test, pred, zero_division=0),
        holdout_index=list(X_test.index),
    )


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label.lower()).strip("_")


def rule_table(model: DecisionTreeClassifier, features: list[str]) -> pd.DataFrame:
    """Every split of the tree as two rules (left: <=, right: >), with the path of rule ids leading to it.

    Columns: rule_id, node_id, child_node_id, feature, operator, threshold, missing_goes_here, path, description.
    """
    t = model.tree_
    missing_left = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=np.uint8))
    rows: list[dict] = []

    def walk(node: int, path: list[str]) -> None:
        if t.children_left[node] == -1:
            return
        name = features[t.feature[node]]
        thr = float(t.threshold[node])
        # A split that only separates missing values has an infinite threshold; keep it finite (JSON and
        # PostgreSQL have no Infinity) with the same effect on every known value, and say it in words.
        if not np.isfinite(thr):
            thr = float(np.sign(thr) * np.finfo(float).max)
        for side, child, op in (("L", t.children_left[node], "<="), ("R", t.children_right[node], ">")):
            rule_id = f"R{node}{side}"
            missing_here = bool(missing_left[node]) == (side == "L")
            rows.append(
                {
                    "rule_id": rule_id,
                    "node_id": int(node),
                    "child_node_id": int(child),
                    "feature": name,
                    "operator": op,
                    "threshold": round(thr, 6),
                    "missing_goes_here": missing_here,
                    "path": " > ".join(path + [rule_id]),
                    "description": describe_rule(name, op, thr),
                }
            )
            walk(int(child), path + [rule_id])

    walk(0, [])
    return pd.DataFrame(rows, columns=RULE_COLUMNS)  # a one-leaf tree has no rule: the columns all the same


RULE_COLUMNS = ["rule_id", "node_id", "child_node_id", "feature", "operator", "threshold", "missing_goes_here", "path",
                "description"]


def describe_rule(feature: str, operator: str, threshold: float) -> str:
    label = feature_words(feature) or feature.replace("_", " ")
    if feature == "format_performance_mismatch":
        return f"{label}: {'no' if operator == '<=' else 'yes'}"
    if abs(threshold) >= 1e300:  # a split of known from missing values (see rule_table)
        known = (operator == "<=") == (threshold > 0)
        return f"{label} {'known' if known else 'unknown'}"
    word = "at most" if operator == "<=" else "more than"
    return f"{label} {word} {threshold:.3g}"


def leaf_labels(model: DecisionTreeClassifier) -> dict[int, str]:
    t = model.tree_
    return {
        int(n): str(model.classes_[int(np.argmax(t.value[n][0]))])
        for n in range(t.node_count)
        if t.children_left[n] == -1
    }


def decide_leaves(rules: pd.DataFrame, X: pd.DataFrame) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Vectorised rule evaluation: the leaf node id of every row, and the rule ids on each leaf's path.

    All rows step down the tree together (one NumPy pass per internal node); missing values follow
    the side the tree learned for them.
    """
    by_node: dict[int, tuple[dict, dict]] = {}
    for node, group in rules.groupby("node_id"):
        left = group[group["operator"] == "<="].iloc[0].to_dict()
        right = group[group["operator"] == ">"].iloc[0].to_dict()
        by_node[int(node)] = (left, right)
    values = X.to_numpy(dtype=float)
    col = {c: i for i, c in enumerate(X.columns)}
    node = np.zeros(len(values), dtype=np.int64)
    paths: dict[int, list[str]] = {0: []}
    frontier = [0]
    while frontier:
        nxt = []
        for n in frontier:
            if n not in by_node:
                continue
            left, right = by_node[n]
            at = node == n
            v = values[at, col[left["feature"]]]
            go_left = np.where(np.isnan(v), bool(left["missing_goes_here"]), v <= left["threshold"])
            children = np.where(go_left, int(left["child_node_id"]), int(right["child_node_id"]))
            node[at] = children
            for side in (left, right):
                child = int(side["child_node_id"])
                paths[child] = paths[n] + [side["rule_id"]]
                nxt.append(child)
        frontier = nxt
    return node, {n: p for n, p in paths.items() if n not in by_node}


def decide_with_rules(rules: pd.DataFrame, leaves: dict[int, str], X: pd.DataFrame) -> list[tuple[str, int, list[str]]]:
    """Evaluate a rule table (possibly with overridden thresholds) on X without the tree.

    Returns, per row, (label, leaf node id, rule ids on the path); rows in one leaf share its path list.
    """
    node, paths = decide_leaves(rules, X)
    return [(leaves[n], n, paths[n]) for n in node.tolist()]


def predict_with_rules(rules: pd.DataFrame, leaves: dict[int, str], X: pd.DataFrame) -> list[str]:
    """Labels from a rule table alone (see decide_with_rules)."""
    return [label for label, _leaf, _path in decide_with_rules(rules, leaves, X)]


def leaf_confidence(model: DecisionTreeClassifier) -> dict[int, float]:
    """Share of the leaf's training samples in its majority class."""
    t = model.tree_
    out = {}
    for n in range(t.node_count):
        if t.children_left[n] == -1:
            v = t.value[n][0]
            out[int(n)] = round(float(v.max() / v.sum()), 4) if v.sum() else 0.0
    return out


@dataclass
class Decision:
    label: str
    confidence: float
    rule_ids: list[str]
    rules_in_words: list[str]


def explain(model: DecisionTreeClassifier, features: list[str], X: pd.DataFrame) -> list[Decision]:
    """Per row: label, leaf purity as confidence, and the decision path as rule ids and words (via the rule table)."""
    rules = rule_table(model, features)
    words = dict(zip(rules["rule_id"], rules["description"]))
    confidence = leaf_confidence(model)
    return [
        Decision(label=label, confidence=confidence[leaf], rule_ids=path, rules_in_words=[words[r] for r in path])
        for label, leaf, path in decide_with_rules(rules, leaf_labels(model), X[features])
    ]


def input_attributes(X: pd.DataFrame) -> list[str]:
    """JSON object per row of the features the tree saw (NaN as null, floats to 6 decimals), encoded column-wise."""
    import polars as pl

    frame = pl.from_pandas(X.reset_index(drop=True).astype(float), nan_to_null=True).with_columns(
        pl.all().round(6))
    return frame.select(pl.struct(pl.all()).struct.json_encode()).to_series().to_list()
