"""Classification metrics: accuracy, macro-F1, a per-class report and the confusion matrix (via scikit-learn);
and, for the model choices made on a few hundred held-out rows, macro-F1 from the confusion counts and the
paired bootstrap standard error of one model's gain over another."""

from __future__ import annotations

import numpy as np


def classification_metrics(y_true, y_pred, labels: list[str] | None = None) -> dict:
    """``{"accuracy", "macro_f1", "n", "per_class": {label: {precision, recall, f1, support}},
    "confusion": {"labels": [...], "matrix": [[...]]}}`` (rows: true label, columns: predicted)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = [str(y) for y in y_true]
    y_pred = [str(y) for y in y_pred]
    if labels is None:
        labels = sorted(set(y_true) | set(y_pred))
    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [i for i, lab in enumerate(labels) if lab in set(y_true)]
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if y_true else float("nan"),
        # macro-F1 over the classes that occur in y_true (as scikit-learn's default would, given only y_true)
        "macro_f1": float(np.mean(f[present])) if present else float("nan"),
        "n": len(y_true),
        "per_class": {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, lab in enumerate(labels)},
        "confusion": {"labels": labels, "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()},
    }


def format_report(m: dict, max_classes: int = 60) -> str:
    """A plain-text report like scikit-learn's, plus the confusion matrix when it is small enough to read."""
    labels = list(m["per_class"])
    w = max([len(lab) for lab in labels] + [12])
    lines = [f"accuracy {m['accuracy']:.4f}   macro-F1 {m['macro_f1']:.4f}   n = {m['n']}", "",
             f"{'':<{w}}  precision  recall      f1  support"]
    for lab in labels[:max_classes]:
        c = m["per_class"][lab]
        lines.append(f"{lab:<{w}}  {c['precision']:9.3f}  {c['recall']:6.3f}  {c['f1']:6.3f}  {c['support']:7d}")
    if len(labels) <= 12:
        mat = m["confusion"]["matrix"]
        short = [lab[:7] for lab in labels]
        lines += ["", "confusion (rows: true, columns: predicted)",
                  f"{'':<{w}}  " + " ".join(f"{s:>7}" for s in short)]
        for lab, row in zip(labels, mat):
            lines.append(f"{lab:<{w}}  " + " ".join(f"{v:7d}" for v in row))
    return "\n".join(lines)


def accuracy_and_macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, classes=None) -> tuple[float, float]:
    """Accuracy and :func:`macro_f1` of integer-coded predictions."""
    return float(np.mean(y_true == y_pred)), macro_f1(y_true, y_pred, n_classes, classes)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, classes=None) -> float:
    """Macro-F1 of integer-coded labels over ``classes`` (default: all ``n_classes``, a class absent from both
    scoring 0): scikit-learn's ``f1_score(average="macro", labels=classes, zero_division=0)`` from the confusion
    counts, fast enough to call a few hundred times for a bootstrap. A fixed list of classes keeps the score
    comparable between two models: scikit-learn's default averages over the classes either one predicted."""
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    den = np.bincount(y_pred, minlength=n_classes) + np.bincount(y_true, minlength=n_classes)  # 2 tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros(n_classes), where=den > 0)
    return float(np.mean(f1 if classes is None else f1[classes]))


def paired_gain_se(y, pred_a, pred_b, n_classes: int, seed: int, classes=None,
                   resamples: int = 200) -> tuple[float, float]:
    """Standard errors of the accuracy and the macro-F1 (over ``classes``, default all) of ``pred_a`` minus those
    of ``pred_b`` on the rows ``y``, by a paired bootstrap over the rows (both models scored on the same
    resample). Macro-F1 weighs a class with two held-out examples as much as one with two hundred: one such
    example more or less moves it by several points, which is the noise this measures."""
    return contrast_se(y, [pred_a, pred_b], [1, -1], n_classes, seed, classes, resamples)


def contrast_se(y, preds: list, weights: list[float], n_classes: int, seed: int, classes=None,
                resamples: int = 200) -> tuple[float, float]:
    """Standard errors of sum_j w_j score(pred_j) for the accuracy and the macro-F1 (over ``classes``) of the
    predictions ``preds`` of the rows ``y``, weighted by ``weights``, by a paired bootstrap over the rows (every
    model scored on the same resample): ``[a, b], [1, -1]`` is a gain; ``[a2, b2, a1, b1], [1, -1, -1, 1]`` how
    much a gain grew from one setting to another."""
    rng = np.random.default_rng(seed)
    w = np.asarray(weights, dtype=float)
    diffs = np.array([(w @ [np.mean(y[i] == p[i]) for p in preds],
                       w @ [macro_f1(y[i], p[i], n_classes, classes) for p in preds])
                      for i in rng.integers(0, len(y), size=(resamples, len(y)))])
    return float(np.std(diffs[:, 0], ddof=1)), float(np.std(diffs[:, 1], ddof=1))
