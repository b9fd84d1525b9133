"""The linear model the few-label recipe and the benchmark baselines share: scikit-learn's multinomial
logistic regression, fitted on one BLAS thread."""

from __future__ import annotations

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
