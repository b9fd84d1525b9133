"""The linear model the few-label recipe, active learning and the benchmark baselines share: scikit-learn's
multinomial logistic regression, fitted on one BLAS thread, and :class:`LinearHead`, a fitted one as plain
arrays (saved as safetensors, never pickled)."""

from __future__ import annotations

import numpy as np

from shoestring.errors import InputError

MAX_ITER = 2000  # lbfgs iterations: enough for TF-IDF blocks of 10^5 columns at C = 100


def logistic_regression(C: float, seed: int, warm_start: bool = False):
    """An unfitted ``LogisticRegression`` with inverse regularisation strength ``C``."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=MAX_ITER, random_state=seed, warm_start=warm_start)


class UsedColumnsLR:
    """``logistic_regression(C, seed)`` fitted on the columns its training rows use, and exactly the same model.

    With an L2 penalty, a column that is zero on every training row has a zero loss gradient, so its weight stays
    at lbfgs's starting point 0 and the optimizer's path is unchanged: dropping it changes nothing but the cost.
    A TF-IDF view fitted on the unlabeled pool has 10^5 columns of which 200 labelled texts use about 10^4; for
    a 58-class model each lbfgs step then moves 10x fewer weights (measured: 18 s -> 1.8 s a fit, identical
    coefficients). Dense features are passed through untouched. ``coef_`` is the full width again, zeros in
    the dropped columns, so :meth:`LinearHead.from_sklearn` and saved heads do not see the difference."""

    def __init__(self, C: float, seed: int):
        self.model = logistic_regression(C, seed)
        self.columns_ = None

    def fit(self, X, y, sample_weight=None, groups=None) -> "UsedColumnsLR":
        """``groups`` is accepted for the signature the recipe's heads share and not read: one model, no folds."""
        import scipy.sparse as sp

        self.n_features_in_, self.columns_ = X.shape[1], None
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            self.columns_ = np.unique(X.indices)
            X = X[:, self.columns_]
        self.model.fit(X, y, sample_weight=sample_weight)
        self.classes_, self.intercept_, self.n_iter_ = self.model.classes_, self.model.intercept_, self.model.n_iter_
        if self.columns_ is None:
            self.coef_ = self.model.coef_
        else:
            self.coef_ = np.zeros((self.model.coef_.shape[0], self.n_features_in_))
            self.coef_[:, self.columns_] = self.model.coef_
        return self

    def _used(self, X):
        import scipy.sparse as sp

        if self.columns_ is None:
            return X
        return sp.csr_matrix(X)[:, self.columns_]

    def predict_proba(self, X) -> np.ndarray:
        return self.model.predict_proba(self._used(X))

    def predict(self, X) -> np.ndarray:
        return self.model.predict(self._used(X))

    def decision_function(self, X) -> np.ndarray:
        return self.model.decision_function(self._used(X))


def one_blas_thread():
    """Limit BLAS/OpenMP to one thread for the (small) logistic-regression fits.

    With a few hundred labeled rows, multi-threaded BLAS only adds overhead; on a loaded 2-core machine it
    made the fits 5-25x slower.
    """
    from shoestring.training.threads import blas_threads

    return blas_threads(1)


class LinearHead:
    """A fitted logistic regression as plain arrays: softmax(X W^T + b) (binary: the logistic of one score),
    exactly scikit-learn's ``predict_proba``, without pickling scikit-learn objects."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, n_classes: int):
        # C order: safetensors writes the raw buffer, and scikit-learn's coef_ can be Fortran-ordered
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float64)
        self.n_classes = n_classes

    @classmethod
    def from_sklearn(cls, model, n_classes: int) -> "LinearHead":
        if len(model.classes_) != n_classes:
            raise InputError("the model saw fewer classes than were labelled")
        return cls(np.asarray(model.coef_), np.asarray(model.intercept_), n_classes)

    def predict_proba(self, X) -> np.ndarray:
        z = np.asarray(X @ self.coef.T) + self.intercept
        if self.coef.shape[0] == 1:  # binary
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)
