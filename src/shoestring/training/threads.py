"""CPU threads for a block of work: torch's intra-op threads and the BLAS / OpenMP pools, restored after it.

torch starts one OpenMP thread per core. Two jobs side by side on a 2-core machine, each with torch's default, are
four busy threads on two cores: measured (benchmarks/threads.py, docs/benchmarks.md), a contrastive fine-tuning
step of all-MiniLM-L6-v2 took 11.1 s in each job that way and 7.2 s with one thread each (one job alone: 3.8 s
with two threads, 6.9 s with one).
"""

from __future__ import annotations

import contextlib


def blas_threads(n: int):
    """A context that limits the BLAS / OpenMP pools (numpy's, scipy's, scikit-learn's) to ``n`` threads and restores
    them after (threadpoolctl, which ships with scikit-learn; without it, a no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


@contextlib.contextmanager
def cpu_threads(n: int | None):
    """Run the block with ``n`` torch CPU threads and at most ``n`` BLAS / OpenMP threads (:func:`blas_threads`),
    then restore what was there before. ``None`` (or 0): change nothing."""
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with blas_threads(n):
            yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
