"""Whitening of sentence vectors (BERT-whitening: Su, Cao, Liu & Ou 2021; WhiteningBERT: Huang et al. 2021).

The vectors of a masked-LM encoder fill a narrow cone: a common mean direction and a few dominant directions
decide most cosines, whatever the sentences mean (anisotropy; Ethayarajh 2019). Whitening maps them to
zero mean and identity covariance, estimated on the user's own unlabeled texts (no labels, no STS data):

    x~ = (x - mu) W,    mu = E[x],    Sigma = Cov(x) = U Lambda U^T,    W = U Lambda^{-1/2}

so that every direction of the corpus counts equally in the cosine. Keeping only the first ``k`` columns of
``W`` (the ``k`` largest-variance directions) also shortens the vectors. It is a fixed affine map, so it exports
as a sentence-transformers ``Dense`` layer (weight ``W^T``, bias ``-mu W``, no activation).

Measured on the STS Benchmark (docs/benchmarks.md): a `mini` compact BERT after 10 CPU-minutes of masked-LM,
whitened on 20,000 of its training sentences, rose from 41.5 to 69.5 Spearman x 100 on stsb test.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-9  # variance floor: directions the corpus never varies in are not blown up


def fit_whitening(X, dims: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, W)`` of the whitening of the rows of ``X`` (n x H); ``W`` is H x ``dims`` (H when ``dims`` is None).
    Needs more rows than columns for a full-rank covariance; fewer rows leave directions at the variance floor."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 2:
        raise ValueError("whitening needs at least two vectors (an n x H array)")
    mu = X.mean(0)
    U, S, _ = np.linalg.svd(np.cov(X - mu, rowvar=False))
    W = U / np.sqrt(np.maximum(S, EPS))
    if dims is not None:
        W = W[:, :dims]
    return mu.astype(np.float32), W.astype(np.float32)


def whiten(X, mu: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``(X - mu) W``: the whitened vectors (n x k)."""
    return ((np.asarray(X, dtype=np.float32) - mu) @ W).astype(np.float32)
