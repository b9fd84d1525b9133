"""Cross-validation folds over a few labelled rows, where some classes may have a single example."""

from __future__ import annotations

import numpy as np


def duplicate_groups(texts: list[str]) -> np.ndarray | None:
    """One group id per text: texts that are the same once lowercased and reduced to their letters and digits
    share one - the same sentence labelled twice for two entity pairs, with other markup around other words
    (chemprot: 450 of 1,000 labelled rows), or a text pasted twice. None when every text is its own group.

    Rows of one group split across folds let a model score a held-out row by having memorized its twin: the
    cross-validated accuracy of views that do not read the markup then says little about new texts (chemprot at
    1,000 labels: 66% in cross-validation, 56% on the test split)."""
    import re

    ids: dict[str, int] = {}
    groups = np.asarray([ids.setdefault(" ".join(re.findall(r"[^\W_]+", t.lower())), len(ids)) for t in texts])
    return groups if len(ids) < len(texts) else None


def stratified_folds(y: np.ndarray, k: int, seed: int,
                     groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Stratified ``(train rows, held-out rows)`` folds over the class codes ``y``, ``k`` lowered to the smallest
    class's count. A class with a single example cannot be held out without vanishing from training: its row
    stays in training in every fold and is never scored, so every class is in every fold's training part.
    With ``groups`` (:func:`duplicate_groups`) the rows of one group are held out together (scikit-learn's
    ``StratifiedGroupKFold``), so no held-out row has a copy in training - unless that would leave some fold's
    training part without a class, when the ungrouped folds are used; without groups, or with every row its
    own group, the folds are exactly the ungrouped ones. None when no class has two examples (nothing can be held
    out)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    counts = np.bincount(y)
    multi = counts >= 2
    if not multi.any():
        return None
    k = max(2, min(k, int(counts[multi].min())))
    rows, fixed = np.flatnonzero(multi[y]), np.flatnonzero(~multi[y])
    if groups is not None and len(np.unique(groups[rows])) < len(rows):
        split = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(
            np.zeros(len(rows)), y[rows], groups[rows])
        folds = [(np.concatenate([rows[tr], fixed]), rows[te]) for tr, te in split]
        if all(len(np.unique(y[tr])) == len(counts[counts > 0]) for tr, _ in folds):
            return folds
        # a class whose rows are all one group (or too few groups) would vanish from some fold's training
        # part: the ungrouped folds then, as without groups
    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(rows)), y[rows])
    return [(np.concatenate([rows[tr], fixed]), rows[te]) for tr, te in split]
