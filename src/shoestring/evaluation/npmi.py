"""Topic coherence by normalized pointwise mutual information (NPMI) over document co-occurrence.

For two words i, j of a topic's top-n list, with probabilities estimated from the reference documents
(the fraction of documents containing i, j, or both)::

    NPMI(i, j) = log(P(i, j) / (P(i) P(j))) / -log P(i, j)

NPMI ranges over [-1, 1]. Pairs that never co-occur in the reference corpus score -1, the limit of the
formula as P(i, j) -> 0 and standard practice (VAMPIRE's reference implementation scored them 0, which
inflates coherence). Pairs that co-occur in every document score 1. A topic's NPMI is the mean over its
n(n-1)/2 pairs; a model's is the mean over topics.

Topic diversity (Dieng et al. 2020) is the fraction of distinct words among all topics' top-25 words:
1 means no two topics share a top word, values near 0 mean repeated topics.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def npmi_pairs(co: np.ndarray, df: np.ndarray, n_docs: int) -> np.ndarray:
    """NPMI for every pair given co-occurrence counts ``co`` (k x k), document frequencies ``df`` (k)."""
    co = np.asarray(co, dtype=np.float64)
    p_i = np.asarray(df, dtype=np.float64) / n_docs
    p_ij = co / n_docs
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(p_ij) - np.log(p_i)[:, None] - np.log(p_i)[None, :]
        out = pmi / -np.log(p_ij)
    out[co == 0] = -1.0
    out[co >= n_docs] = 1.0
    return out


def topic_npmi(topics: list[list[int]], reference: sp.spmatrix) -> np.ndarray:
    """Mean NPMI of each topic (a list of word ids) on the reference documents (a docs x words matrix)."""
    X = sp.csc_matrix(reference, copy=False)
    n_docs = X.shape[0]
    if n_docs == 0:
        raise ValueError("the NPMI reference corpus has no documents")
    scores = np.empty(len(topics))
    for t, words in enumerate(topics):
        words = list(words)
        k = len(words)
        if k < 2:
            scores[t] = np.nan
            continue
        D = X[:, words]
        D = (D > 0).astype(np.float64)
        co = (D.T @ D).toarray()
        df = np.diag(co).copy()
        m = npmi_pairs(co, df, n_docs)
        iu = np.triu_indices(k, 1)
        scores[t] = m[iu].mean()
    return scores


def topic_diversity(topics: list[list[int]], top_n: int = 25) -> float:
    words = [w for t in topics for w in list(t)[:top_n]]
    return len(set(words)) / max(len(words), 1)
