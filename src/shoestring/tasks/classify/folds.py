"""Cross-validation folds over a few labelled rows, where some classes may have a single example."""

from __future__ import annotations

import numpy as np


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Stratified ``(train rows, held-out rows)`` folds over the class codes ``y``, ``k`` lowered to the smallest
    class's count. A class with a single example cannot be held out without vanishing from training: its row
    stays in training in every fold and is never scored, so every class is in every fold's training part.
    None when no class has two examples (nothing can be held out)."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y)
    multi = counts >= 2
    if not multi.any():
        return None
    k = max(2, min(k, int(counts[multi].min())))
    rows, fixed = np.flatnonzero(multi[y]), np.flatnonzero(~multi[y])
    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(rows)), y[rows])
    return [(np.concatenate([rows[tr], fixed]), rows[te]) for tr, te in split]
