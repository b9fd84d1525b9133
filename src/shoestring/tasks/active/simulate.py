"""Replay active learning with a labelled dataset's gold labels as the oracle.

One run (:func:`simulate`): start from ``initial`` random labels (or none: the cold start), then repeatedly let
the strategy choose ``b`` documents, reveal their gold labels, retrain the head, and score it on the test
split - a learning curve of accuracy and macro-F1 against the number of labels. :func:`compare` runs every
strategy over several seeds (each seed gives every strategy the same initial labels) and summarises:

- **area under the learning curve** (AUC): the trapezoid area under accuracy over the label range, divided by
  its width, i.e. the mean accuracy a person sees while labeling; one number per strategy and seed;
- **labels to reach a target**: the first budget at which a strategy's mean curve reaches ``target``
  (by default random sampling's mean accuracy at the full budget) - "margin reaches random's 500-label
  accuracy with 240 labels" is the saving a user cares about;
- **the stopping criterion** of Bloodgood & Vijay-Shanker (2009), *stabilizing predictions*: after each round
  the new model's predictions on a fixed unlabelled stop set are compared with the previous model's by Cohen's
  kappa; labeling stops once kappa stays at least ``stop_kappa`` (0.99) for ``stop_window`` (3) rounds in a
  row. Reported: the labels at which it stopped, the accuracy there, and the labels it saved against the budget.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from shoestring.tasks.active.config import SimulateConfig
from shoestring.tasks.active.learner import ActiveLearner


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    if np.array_equal(a, b):
        return 1.0
    from sklearn.metrics import cohen_kappa_score

    k = cohen_kappa_score(a, b)
    return 0.0 if np.isnan(k) else float(k)


def simulate(X, y, X_test, y_test, strategy: str, config: SimulateConfig | None = None, *, seed: int = 0) -> dict:
    """One learning curve: ``X``/``y`` the pool's features and gold labels (the oracle), ``X_test``/``y_test`` the
    evaluation split. Returns the curve (``n_labels``, ``accuracy``, ``macro_f1``, ``kappa``), where the
    stopping criterion fired, and the per-round cost (``retrain_ms``, ``query_ms``)."""
    from sklearn.metrics import f1_score

    c = (config or SimulateConfig()).validate()
    y, y_test = np.asarray(y).astype(str), np.asarray(y_test).astype(str)
    labels = sorted(set(y) | set(y_test))
    rng = np.random.default_rng(seed)
    al = ActiveLearner(X, strategy, C=c.C, seed=seed)
    X_test = np.asarray(X_test, np.float32)
    X_test = X_test / np.maximum(np.linalg.norm(X_test, axis=1, keepdims=True), 1e-12)
    stop_rows = rng.choice(len(y), size=min(c.stop_set, len(y)), replace=False)
    first = rng.choice(len(y), size=min(c.initial, len(y)), replace=False) if c.initial else None
    out = {"strategy": al.strategy.name, "seed": seed, "n_labels": [], "accuracy": [], "macro_f1": [], "kappa": [],
           "retrain_ms": [], "query_ms": []}
    prev, stable, stop_at = None, 0, None
    rows = first
    budget = min(c.budget, len(y))
    while True:
        if rows is None:  # the cold start: the strategy chooses the first batch too
            t0 = time.perf_counter()
            rows = al.query(min(c.batch, budget))
            out["query_ms"].append((time.perf_counter() - t0) * 1e3)
        al.teach(rows, list(y[rows]), retrain=False)
        out["retrain_ms"].append(al.retrain() * 1e3)
        n = al.n_labelled
        fallback = Counter(al.labels_.values()).most_common(1)[0][0]  # one class so far: predicted everywhere
        pred_test = np.asarray(al.predict_features(X_test) or [fallback] * len(y_test))
        out["n_labels"].append(n)
        out["accuracy"].append(float(np.mean(pred_test == y_test)))
        out["macro_f1"].append(float(f1_score(y_test, pred_test, labels=labels, average="macro", zero_division=0)))
        stop_pred = np.asarray(al.predict(stop_rows) or [fallback] * len(stop_rows))
        if prev is not None:
            k = _kappa(prev, stop_pred)
            out["kappa"].append(k)
            stable = stable + 1 if k >= c.stop_kappa else 0
            if stable >= c.stop_window and stop_at is None:
                stop_at = len(out["n_labels"]) - 1
        else:
            out["kappa"].append(None)
        prev = stop_pred
        if n >= budget:
            break
        t0 = time.perf_counter()
        rows = al.query(min(c.batch, budget - n))
        out["query_ms"].append((time.perf_counter() - t0) * 1e3)
        if not len(rows):
            break
    out["stop"] = None if stop_at is None else {
        "labels": out["n_labels"][stop_at], "accuracy": out["accuracy"][stop_at],
        "saved": out["n_labels"][-1] - out["n_labels"][stop_at],
        "accuracy_at_budget": out["accuracy"][-1]}
    out["auc"] = auc(out["n_labels"], out["accuracy"])
    return out


def auc(n_labels, accuracy) -> float:
    """Area under the learning curve divided by the label range: the curve's mean accuracy (trapezoid rule)."""
    x, a = np.asarray(n_labels, float), np.asarray(accuracy, float)
    if len(x) < 2 or x[-1] == x[0]:
        return float(a.mean()) if len(a) else float("nan")
    return float(np.sum((a[1:] + a[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def labels_to_reach(n_labels, accuracy, target: float) -> int | None:
    """The first number of labels at which ``accuracy`` reaches ``target`` (None: never within the curve)."""
    for n, a in zip(n_labels, accuracy):
        if a >= target - 1e-12:
            return int(n)
    return None


def compare(X, y, X_test, y_test, config: SimulateConfig | None = None, *, progress=None) -> dict:
    """Every strategy of ``config`` over its seeds; returns the runs and a summary per strategy: mean and std
    curves, AUC mean and std, labels needed to reach random sampling's accuracy at the budget, the stopping
    criterion's labels and accuracy, and p50/p95 retrain and query milliseconds. ``progress(done, total, run)``
    is called after each run."""
    c = (config or SimulateConfig()).validate()
    y = np.asarray(y)
    rng = np.random.default_rng(min(c.seeds) if c.seeds else 0)
    pool = np.arange(len(y))
    if c.max_pool and len(y) > c.max_pool:
        pool = np.sort(rng.choice(len(y), c.max_pool, replace=False))
    X, y = np.asarray(X)[pool], y[pool]
    runs, total = [], len(c.strategies) * len(c.seeds)
    for s in c.strategies:
        for seed in c.seeds:
            runs.append(simulate(X, y, X_test, y_test, s, c, seed=seed))
            if progress:
                progress(len(runs), total, runs[-1])
    summary = {}
    for s in c.strategies:
        rs = [r for r in runs if r["strategy"] == s]
        n_min = min(len(r["n_labels"]) for r in rs)
        acc = np.array([r["accuracy"][:n_min] for r in rs])
        f1 = np.array([r["macro_f1"][:n_min] for r in rs])
        aucs = np.array([r["auc"] for r in rs])
        stops = [r["stop"] for r in rs if r["stop"]]
        summary[s] = {
            "n_labels": rs[0]["n_labels"][:n_min], "accuracy_mean": acc.mean(0).tolist(),
            "accuracy_std": acc.std(0, ddof=1).tolist() if len(rs) > 1 else [0.0] * n_min,
            "macro_f1_mean": f1.mean(0).tolist(), "auc_mean": float(aucs.mean()),
            "auc_std": float(aucs.std(ddof=1)) if len(rs) > 1 else 0.0,
            "final_accuracy_mean": float(acc[:, -1].mean()), "final_macro_f1_mean": float(f1[:, -1].mean()),
            "stopped_runs": len(stops), "stop_labels_mean": float(np.mean([t["labels"] for t in stops])) if stops else None,
            "stop_accuracy_mean": float(np.mean([t["accuracy"] for t in stops])) if stops else None,
            "stop_saved_mean": float(np.mean([t["saved"] for t in stops])) if stops else None,
            "retrain_ms_p50": float(np.percentile(sum((r["retrain_ms"] for r in rs), []), 50)),
            "retrain_ms_p95": float(np.percentile(sum((r["retrain_ms"] for r in rs), []), 95)),
            "query_ms_p50": float(np.percentile(sum((r["query_ms"] for r in rs), []), 50)),
            "query_ms_p95": float(np.percentile(sum((r["query_ms"] for r in rs), []), 95)),
        }
    ref = summary.get("random")
    target = ref["final_accuracy_mean"] if ref else None
    for s, v in summary.items():
        v["labels_to_reach_target"] = (None if target is None else
                                       labels_to_reach(v["n_labels"], v["accuracy_mean"], target))
        v["auc_gain_over_random"] = None if ref is None else v["auc_mean"] - ref["auc_mean"]
    return {"config": c.to_dict(), "pool_size": len(y), "test_size": len(y_test), "target_accuracy": target,
            "target": "random sampling's mean accuracy at the budget" if target is not None else None,
            "summary": summary, "runs": runs}
