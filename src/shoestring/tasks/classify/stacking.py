"""``StackedLR``: one logistic regression per view, each with its own ``C``, pooled with weights learnt from
out-of-fold predictions (stacked generalization, Wolpert 1992; non-negative stacking weights, Breiman 1996).

Concatenating the views into one logistic regression gives every view the same penalty ``C``; but a sparse
TF-IDF view wants little regularisation (``C`` = 10-100) and a dense sentence embedding more (``C`` = 1-10), so on
some data (imdb: 1.7-5 points in cross-validation) the concatenation is worse than its best view alone. The stack
fits view ``v``'s model :math:`p_v(y \\mid x) = \\mathrm{softmax}(W_v x_v + b_v)` with the ``C_v`` that view is
best with alone, and pools them as a weighted product of experts,

.. math::  p(y \\mid x) \\propto \\prod_v p_v(y \\mid x)^{w_v}, \\qquad w_v \\ge 0,

with ``w`` minimizing the log-loss of the **out-of-fold** probabilities of the training rows (an inner
cross-validation: each row's :math:`p_v` comes from a model that did not see it, so a view that memorizes its
training rows gets no credit for it). Because :math:`\\log p_v(y \\mid x) = W_v x_v + b_v` up to a term that does
not depend on ``y``, the pool is itself one linear softmax model over the concatenated views,
:math:`\\mathrm{softmax}(\\sum_v w_v (W_v x_v + b_v))`: ``coef_`` and ``intercept_`` are those of an ordinary
logistic regression, so the recipe saves, loads and self-trains a stack exactly like any other head.
"""

from __future__ import annotations

import numpy as np

from shoestring.tasks.classify.folds import stratified_folds
from shoestring.tasks.classify.linear import LinearHead, UsedColumnsLR

MAX_WEIGHT = 10.0  # a bound on each w_v: views that separate the training rows would otherwise drive w to infinity


def pool_weights(log_probs: list[np.ndarray], y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """The non-negative weights ``w`` (one per view) minimizing the (weighted) mean log-loss of
    ``softmax(sum_v w_v log_probs[v])`` for the class codes ``y``: a convex problem in ``w`` (the log-loss of a
    linear model), solved by L-BFGS-B from all weights 0 (the uniform prediction): a view whose out-of-fold
    probabilities carry nothing has no gradient to move it, so it stays at 0 rather than at a starting guess."""
    from scipy.optimize import minimize

    L = np.stack(log_probs)  # (views, rows, classes)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    sw = sw / sw.sum()
    onehot = np.eye(L.shape[2])[y]

    def loss(w):
        s = np.tensordot(w, L, axes=1)
        s -= s.max(1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(1, keepdims=True))
        p = np.exp(logp)
        nll = -np.sum(sw * logp[np.arange(len(y)), y])
        grad = np.einsum("vrc,rc->v", L, sw[:, None] * (p - onehot))
        return nll, grad

    res = minimize(loss, np.zeros(L.shape[0]), jac=True, method="L-BFGS-B", bounds=[(0.0, MAX_WEIGHT)] * L.shape[0])
    return np.asarray(res.x)


class StackedLR:
    """Per-view logistic regressions pooled by out-of-fold weights (see the module docstring), with the
    scikit-learn surface the recipe's heads have: ``fit(X, y, sample_weight)``, ``predict``, ``predict_proba``,
    ``coef_``, ``intercept_``, ``classes_``. ``X`` is the views side by side, ``widths`` their column counts in
    order, ``Cs`` each view's ``C``; ``folds`` inner cross-validation folds give the out-of-fold probabilities
    (fewer when a class has fewer examples; with no class of two examples the views weigh 1 each)."""

    def __init__(self, widths: list[int], Cs: list[float], seed: int, folds: int = 5):
        if len(widths) != len(Cs):
            raise ValueError(f"one C per view: {len(widths)} views, {len(Cs)} Cs")
        self.widths, self.Cs, self.seed, self.folds = list(widths), list(Cs), seed, folds

    def _blocks(self, X) -> list:
        import scipy.sparse as sp

        edges = np.cumsum([0] + self.widths)
        if X.shape[1] != edges[-1]:
            raise ValueError(f"X has {X.shape[1]} columns, the views {edges[-1]}")
        out = []
        for a, b in zip(edges[:-1], edges[1:]):
            B = X[:, a:b]
            if sp.issparse(B) and B.nnz > 0.3 * B.shape[0] * B.shape[1]:  # a dense view stored in a sparse matrix
                B = B.toarray()
            out.append(B)
        return out

    def fit(self, X, y, sample_weight=None, groups=None) -> "StackedLR":
        """``groups`` (one id per row, e.g. :func:`~shoestring.tasks.classify.folds.duplicate_groups`): rows of
        one group are held out together in the folds the views' weights are learned from."""
        X = X.tocsr() if hasattr(X, "tocsr") else np.asarray(X)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        K = len(self.classes_)
        blocks = self._blocks(X)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        folds = stratified_folds(codes, self.folds, self.seed, None if groups is None else np.asarray(groups))
        if folds is None or len(blocks) == 1:
            self.weights_ = np.ones(len(blocks))
        else:
            oof = [np.zeros((len(codes), K)) for _ in blocks]
            for tr, va in folds:
                for B, C, L in zip(blocks, self.Cs, oof):
                    m = UsedColumnsLR(C, self.seed).fit(B[tr], codes[tr], None if sw is None else sw[tr])
                    L[va] = np.log(np.clip(m.predict_proba(B[va]), 1e-12, None))
            scored = np.concatenate([va for _, va in folds])
            self.weights_ = pool_weights([L[scored] for L in oof], codes[scored], None if sw is None else sw[scored])
        coefs, intercept = [], 0.0
        for B, C, w in zip(blocks, self.Cs, self.weights_):
            m = UsedColumnsLR(C, self.seed).fit(B, codes, sw)
            coefs.append(w * np.asarray(m.coef_))
            intercept = intercept + w * np.asarray(m.intercept_)
        self.coef_, self.intercept_ = np.hstack(coefs), np.asarray(intercept)
        self._head = LinearHead(self.coef_, self.intercept_, K)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._head.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


class BlendLR:
    """Heads that each read their own columns of ``X``, pooled as a product of experts with fixed weights,

    .. math::  p(y \\mid x) \\propto \\prod_p p_p(y \\mid x_p)^{w_p}
               = \\mathrm{softmax}\\Big(\\sum_p w_p (W_p x_p + b_p)\\Big),

    itself one linear softmax model over ``X`` (a column two parts read gets the weighted sum of their
    coefficients), so it saves, loads and self-trains like any other head. The recipe blends the frozen views'
    model with the tuned encoder's, with weights 1/2 each, where nested cross-validation cannot tell which of
    the two is better. ``parts``: (column indices into ``X``, a factory of an unfitted head) pairs."""

    def __init__(self, parts: list[tuple[np.ndarray, object]], weights: list[float]):
        if len(parts) != len(weights):
            raise ValueError(f"one weight per part: {len(parts)} parts, {len(weights)} weights")
        self.parts, self.weights = [(np.asarray(cols), make) for cols, make in parts], list(weights)

    def fit(self, X, y, sample_weight=None, groups=None) -> "BlendLR":
        """``groups``: passed on to the parts (a stack's folds hold each group out together)."""
        X = X.tocsr() if hasattr(X, "tocsr") else np.asarray(X)
        self.classes_ = np.unique(np.asarray(y))
        self.coef_, self.intercept_, self.models_ = None, 0.0, []
        for (cols, make), w in zip(self.parts, self.weights):
            m = make().fit(X[:, cols], y, sample_weight, groups=groups)
            self.models_.append(m)
            if self.coef_ is None:
                self.coef_ = np.zeros((np.asarray(m.coef_).shape[0], X.shape[1]))
            self.coef_[:, cols] += w * np.asarray(m.coef_)
            self.intercept_ = self.intercept_ + w * np.asarray(m.intercept_)
        self._head = LinearHead(self.coef_, self.intercept_, len(self.classes_))
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._head.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]
