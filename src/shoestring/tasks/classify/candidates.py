"""The few-label recipe's candidates and their names: what cross-validation chooses between.

A *candidate* is a set of views fitted as one model, named by its views: ``"tfidf"`` (one view),
``"tfidf+encoder"`` (the views' columns side by side, one logistic regression, one C) or
``"tfidf+encoder stacked"`` (one logistic regression per view, pooled by out-of-fold weights: one C per view).
A (candidate, C) pair's key in the recipe's ``cv_`` is ``"tfidf C=10"``, a stack's ``"tfidf+encoder stacked
C=100,1"``; its cross-validated scores are ``{"accuracy", "macro_f1", "folds"}``, means over the folds.

Example::

    >>> key_of("tfidf+encoder stacked", [100.0, 1.0])
    'tfidf+encoder stacked C=100,1'
    >>> parse_key("tfidf C=10")
    ('tfidf', 10.0)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

STACKED = " stacked"  # the suffix of the stack candidate's name: "tfidf+encoder stacked"


def side_by_side(blocks: list) -> sp.csr_matrix | np.ndarray:
    """The views' feature blocks (rows: the same texts) as one matrix, sparse where any block is."""
    if len(blocks) == 1:
        return blocks[0]
    if any(sp.issparse(b) for b in blocks):
        return sp.hstack([sp.csr_matrix(b) for b in blocks], format="csr")
    return np.hstack(blocks)


def key_of(candidate: str, C) -> str:
    """A (candidate, C) pair's key in ``cv_``: ``"tfidf C=10"``; a stack's per-view Cs: ``"... stacked C=100,1"``."""
    return f"{candidate} C={C:g}" if np.isscalar(C) else f"{candidate} C={','.join(f'{c:g}' for c in C)}"


def parse_key(key: str) -> tuple[str, float | list[float]]:
    """The candidate and C (a stack's: a list, one per view) of a ``cv_`` key; the inverse of :func:`key_of`."""
    candidate, C = key.rsplit(" C=", 1)
    return candidate, [float(c) for c in C.split(",")] if "," in C else float(C)


def format_C(C) -> str:
    """A chosen model's C for people: ``10``; a stack's per-view Cs ``100, 1``; a blend's ``frozen 100, 1 | tuned
    10``."""
    if isinstance(C, dict):
        return f"frozen {format_C(C['frozen'])} | tuned {format_C(C['tuned'])}"
    return f"{C:g}" if np.isscalar(C) else ", ".join(f"{c:g}" for c in C)


def mean_scores(folds: list[tuple[float, float]]) -> dict:
    """Per-fold (accuracy, macro-F1) pairs as cross-validated scores."""
    return {"accuracy": float(np.mean([a for a, _ in folds])), "macro_f1": float(np.mean([f for _, f in folds])),
            "folds": len(folds)}


def best_key(scores: dict) -> str:
    """The key of the best cross-validated candidate: highest mean accuracy, macro-F1 breaking ties."""
    return max(scores, key=lambda k: (round(scores[k]["accuracy"], 9), scores[k]["macro_f1"]))
