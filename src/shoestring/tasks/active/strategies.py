"""Query strategies: which unlabelled documents to ask a person about next.

Each strategy is a small class with ``select(pool, k, rng) -> rows``; :class:`Pool` is what it may look at:
the features ``X`` of every document (L2-normalized rows, so ``||x_i - x_j||^2 = 2 - 2 x_i . x_j``), the rows
still unlabelled, the labelled ones, and the current model's class probabilities ``p(y | x)``. Three families:

- **uncertainty** (Lewis & Gale 1994; Settles 2009's survey): :class:`LeastConfidence` (``1 - max_y p``),
  :class:`Margin` (smallest ``p_(1) - p_(2)``, the two most probable classes) and :class:`Entropy`
  (``-sum_y p log p``). They need a model: until two classes are labelled they choose like
  :class:`KMeansPlusPlus` (the cold start);
- **diversity** (for the cold start, no model needed): :class:`KCenterGreedy` (Sener & Savarese 2018: the
  document farthest from everything labelled or already picked, i.e. greedy k-center) and
  :class:`KMeansPlusPlus` (Arthur & Vassilvitskii 2007's seeding: sample with probability ``∝ D(x)^2``, the
  squared distance to the nearest labelled or picked document);
- **hybrids**, uncertain *and* spread out within one batch: :class:`ClusterMargin` (Citovsky et al. 2021:
  the ``m k`` lowest-margin documents, clustered into ``k`` groups, the lowest-margin one of each group) and
  :class:`Badge` (Ash et al. 2020: k-means++ seeding over the gradient embeddings
  ``g_x = (p(x) - e_ŷ) ⊗ x`` of the last layer, which are large where the model is unsure and point in
  different directions for different documents). For a linear head ``<g_i, g_j> = <p_i - e_i, p_j - e_j>
  <x_i, x_j>``, so BADGE never builds the ``C d``-wide vectors.

Ties are broken at random (with the learner's seeded generator), so a strategy never prefers low row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Pool:
    """What a strategy may look at. ``proba``: ``p(y | x)`` of the candidate rows (same order), or None while
    there is no model."""

    X: np.ndarray               # (n, d), L2-normalized rows
    candidates: np.ndarray      # rows that may be chosen (unlabelled, not excluded)
    labelled: np.ndarray        # rows with a label
    proba: np.ndarray | None    # (len(candidates), C)


class Strategy:
    """Base class: ``select`` returns ``k`` distinct rows of ``pool.candidates``."""

    name = ""

    def select(self, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class RandomSampling(Strategy):
    """Uniformly at random: the baseline every strategy must beat."""

    name = "random"

    def select(self, pool, k, rng):
        return rng.choice(pool.candidates, size=min(k, len(pool.candidates)), replace=False)


class _Uncertainty(Strategy):
    """Rank the candidates by an uncertainty score (higher = ask first); cold start: k-means++ seeding."""

    def score(self, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def select(self, pool, k, rng):
        if pool.proba is None:
            return KMeansPlusPlus().select(pool, k, rng)
        k = min(k, len(pool.candidates))
        s = self.score(pool.proba) + rng.random(len(pool.candidates)) * 1e-9  # random tie-breaks
        top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
        return pool.candidates[top[np.argsort(-s[top])]]


class LeastConfidence(_Uncertainty):
    """``1 - max_y p(y | x)``: the documents whose best guess is least sure."""

    name = "least_confidence"

    def score(self, p):
        return 1.0 - p.max(1)


def _margins(p: np.ndarray) -> np.ndarray:
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:] if p.shape[1] > 1 else np.c_[np.zeros(len(p)), p]
    return top2[:, 1] - top2[:, 0]


class Margin(_Uncertainty):
    """``p_(1) - p_(2)``, smallest first: the documents closest to a decision boundary between two classes."""

    name = "margin"

    def score(self, p):
        return -_margins(p)


class Entropy(_Uncertainty):
    """``H(p) = -sum_y p(y | x) log p(y | x)``: uncertainty over all classes at once."""

    name = "entropy"

    def score(self, p):
        return -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(1)


class _MinDistance:
    """``D(x)^2`` = squared distance from each row to its nearest labelled row, updated incrementally: after one
    new label it costs one ``n x d`` product, not ``n x n_labelled``."""

    def __init__(self):
        self._seen: set[int] = set()
        self._d2: np.ndarray | None = None
        self._X_id = None

    def __call__(self, X: np.ndarray, labelled: np.ndarray) -> np.ndarray:
        lab = set(map(int, labelled))
        if self._d2 is None or self._X_id != id(X) or not self._seen <= lab:  # a label was removed: start over
            self._d2, self._seen, self._X_id = np.full(len(X), np.inf, np.float32), set(), id(X)
        new = np.array(sorted(lab - self._seen), dtype=np.int64)
        for chunk in np.array_split(new, max(1, len(new) // 256)) if len(new) else []:
            d2 = np.maximum(2.0 - 2.0 * (X @ X[chunk].T), 0.0).min(1)
            np.minimum(self._d2, d2, out=self._d2)
        self._seen = lab
        return self._d2.copy()


class KCenterGreedy(Strategy):
    """Greedy k-center (Sener & Savarese 2018): repeatedly the candidate farthest from every labelled or picked
    row. With nothing labelled the first pick is the row nearest the pool's mean (the most typical document)."""

    name = "kcenter"

    def __init__(self):
        self._dist = _MinDistance()

    def select(self, pool, k, rng):
        cand = pool.candidates
        Xc = pool.X[cand]
        d2 = self._dist(pool.X, pool.labelled)[cand]
        picked = []
        for _ in range(min(k, len(cand))):
            if np.isinf(d2).all():
                j = int(np.argmax(Xc @ Xc.mean(0)))
            else:
                j = int(np.argmax(d2 + rng.random(len(d2)) * 1e-9))
            picked.append(cand[j])
            np.minimum(d2, np.maximum(2.0 - 2.0 * (Xc @ Xc[j]), 0.0), out=d2)
            d2[j] = -1.0  # never twice
        return np.array(picked, dtype=np.int64)


class KMeansPlusPlus(Strategy):
    """k-means++ seeding over the features: each pick drawn with probability ``∝ D(x)^2`` - spread out like
    k-center, but not drawn to outliers (an outlier is one point; a dense region is many)."""

    name = "kmeanspp"

    def __init__(self):
        self._dist = _MinDistance()

    def select(self, pool, k, rng):
        cand = pool.candidates
        Xc = pool.X[cand]
        d2 = (self._dist(pool.X, pool.labelled)[cand] if len(pool.labelled)
              else np.full(len(cand), np.inf, np.float32))
        return _dsquared_sampling(len(cand), min(k, len(cand)), d2,
                                  lambda j: np.maximum(2.0 - 2.0 * (Xc @ Xc[j]), 0.0), rng, cand)


def _dsquared_sampling(n, k, d2, dist_to, rng, cand, first=None):
    """k-means++ seeding: draw ``k`` of ``n`` rows, each with probability ``∝ d2`` (uniform while all are inf),
    updating ``d2`` with ``dist_to(j)`` (squared distances of all rows to row ``j``)."""
    d2 = np.asarray(d2, np.float64).copy()
    picked = []
    for t in range(k):
        if t == 0 and first is not None:
            j = first
        elif np.isinf(d2).any():
            j = int(rng.choice(np.flatnonzero(np.isinf(d2))))
        else:
            w = np.clip(d2, 0.0, None)
            j = int(rng.choice(n, p=w / w.sum())) if w.sum() > 0 else int(rng.choice(np.flatnonzero(w >= 0)))
        picked.append(j)
        np.minimum(d2, dist_to(j), out=d2)
        d2[j] = 0.0
        if t + 1 < k and not (d2 > 0).any():  # every row coincides with a pick: fill up at random
            rest = np.setdiff1d(np.arange(n), picked)
            picked += list(rng.choice(rest, size=k - t - 1, replace=False))
            break
    return cand[np.array(picked, dtype=np.int64)]


class ClusterMargin(Strategy):
    """Cluster-margin (Citovsky et al. 2021): the ``m k`` lowest-margin candidates, k-means into ``k``
    clusters, the lowest-margin document of each - uncertain, and not ``k`` near-copies of one document."""

    name = "cluster_margin"

    def __init__(self, m: int = 10):
        self.m = m

    def select(self, pool, k, rng):
        if pool.proba is None or k <= 1:
            return (Margin() if pool.proba is not None else KMeansPlusPlus()).select(pool, k, rng)
        from sklearn.cluster import KMeans

        k = min(k, len(pool.candidates))
        margin = _margins(pool.proba) + rng.random(len(pool.candidates)) * 1e-9
        top = np.argsort(margin)[: min(len(margin), self.m * k)]
        if len(top) <= k:
            return pool.candidates[top]
        groups = KMeans(k, n_init=1, random_state=int(rng.integers(2**31))).fit_predict(pool.X[pool.candidates[top]])
        best = {}
        for j, g in zip(top, groups):  # top is in increasing margin: the first of each group is its least sure
            best.setdefault(int(g), j)
        picked = list(best.values())
        if len(picked) < k:  # k-means left a cluster empty: fill with the next lowest margins
            picked += [j for j in top if j not in set(picked)][: k - len(picked)]
        return pool.candidates[np.array(picked)]


class Badge(Strategy):
    """BADGE (Ash et al. 2020): k-means++ seeding in the space of last-layer gradient embeddings
    ``g_x = (p(x) - e_ŷ(x)) ⊗ x`` (ŷ the predicted class), starting from the largest ``||g_x||``. Uses
    ``<g_i, g_j> = <p_i - e_i, p_j - e_j> <x_i, x_j>``, so a pick costs ``O(n (C + d))``."""

    name = "badge"

    def select(self, pool, k, rng):
        if pool.proba is None:
            return KMeansPlusPlus().select(pool, k, rng)
        X, cand, p = pool.X[pool.candidates], pool.candidates, pool.proba
        r = p.copy()
        r[np.arange(len(p)), p.argmax(1)] -= 1.0               # p - e_ŷ
        rr = (r * r).sum(1)
        xx = (X * X).sum(1)
        gg = rr * xx                                            # ||g||^2

        def dist_to(j):
            return np.maximum(gg + gg[j] - 2.0 * (r @ r[j]) * (X @ X[j]), 0.0)

        return _dsquared_sampling(len(cand), min(k, len(cand)), np.full(len(cand), np.inf), dist_to, rng, cand,
                                  first=int(np.argmax(gg + rng.random(len(gg)) * 1e-12)))


STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (
    RandomSampling, LeastConfidence, Margin, Entropy, KCenterGreedy, KMeansPlusPlus, ClusterMargin, Badge)}


def make_strategy(strategy: "str | Strategy") -> Strategy:
    """A strategy by name (``random``, ``least_confidence``, ``margin``, ``entropy``, ``kcenter``, ``kmeanspp``,
    ``cluster_margin``, ``badge``), or the instance given."""
    if isinstance(strategy, Strategy):
        return strategy
    if strategy not in STRATEGIES:
        from shoestring.errors import ConfigError

        raise ConfigError(f"unknown query strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy]()
