"""Classification metrics: accuracy, macro-F1, a per-class report and the confusion matrix (via scikit-learn)."""

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
