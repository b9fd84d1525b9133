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


def one_blas_thread():
    """Limit BLAS/OpenMP to one thread for the (small) logistic-regression fits.

    With a few hundred labeled rows, multi-threaded BLAS only adds overhead; on a loaded 2-core machine it
    made the fits 5-25x slower. ``threadpoolctl`` ships with scikit-learn; without it this is a no-op.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


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
