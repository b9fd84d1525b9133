"""Semi-supervised learning from an unlabeled pool (:mod:`shoestring.tasks.classify.semisup`), on planted data.

Planted structure: 5 Gaussian clusters in 20 dimensions (unit variance per dimension), a few labels per
cluster and a big unlabeled pool drawn from the same clusters.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model  # noqa: F401  (loads scipy.optimize and the BLAS libraries before limiting threads)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from shoestring.tasks.classify.semisup import cv_gain, label_spread, self_train, spread_and_fit


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Tiny L-BFGS problems run ~10x slower with 2 BLAS threads on busy shared cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def make_model():
    return LogisticRegression(max_iter=1000)


def planted(seed=0, *, sep=3.5, n_per=300, n_lab=3, labels="edge", n_test=500, C=5, d=20):
    """Clusters with centers at distance ``sep`` from the origin. ``labels="edge"``: each cluster's labelled
    rows are its ``n_lab`` points furthest along one direction shared by all clusters, so the labelled
    means - and the supervised boundary - are shifted off the clusters; ``"random"``: a random sample.
    Returns (X_l, y_l, X_u, y_u, X_test, y_test)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(C, d))
    centers *= sep / np.linalg.norm(centers, axis=1, keepdims=True)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers])
    y = np.repeat(np.arange(C), n_per)
    lab = []
    for c in range(C):
        idx = np.flatnonzero(y == c)
        score = (X[idx] - centers[c]) @ direction if labels == "edge" else rng.random(len(idx))
        lab.extend(idx[np.argsort(-score)[:n_lab]])
    lab = np.array(lab)
    rest = rng.permutation(np.setdiff1d(np.arange(len(y)), lab))
    te, u = rest[:n_test], rest[n_test:]
    return X[lab], y[lab], X[u], y[u], X[te], y[te]


@pytest.fixture(scope="module")
def edge_task():
    return planted(0)


# ------------------------------------------------------------------------------------- the pool helps

def test_self_training_beats_supervised_on_held_out(edge_task):
    X_l, y_l, X_u, y_u, X_te, y_te = edge_task
    sup = make_model().fit(X_l, y_l).score(X_te, y_te)
    model, info = self_train(make_model, X_l, y_l, X_u)
    semi = model.score(X_te, y_te)
    assert semi >= sup + 0.05, (sup, semi)  # measured: 0.890 -> 0.978
    assert semi >= 0.95
    assert info["rounds"] >= 1 and sum(info["added"].values()) > 100
    # pseudo-labels are mostly right, and each row was added once
    idx = info["pseudo_index"]
    assert len(np.unique(idx)) == len(idx)
    assert np.mean(info["pseudo_labels"] == y_u[idx]) >= 0.95
    # bookkeeping: the per-round additions add up to the totals
    for c in range(5):
        assert sum(r["added"][c] for r in info["per_round"]) == info["added"][c]


def test_label_spreading_beats_supervised(edge_task):
    X_l, y_l, X_u, y_u, X_te, y_te = edge_task
    sup = make_model().fit(X_l, y_l)
    labels_u, conf_u = label_spread(X_l, y_l, X_u, k=10)
    assert labels_u.shape == conf_u.shape == (len(X_u),)
    assert np.all((conf_u >= 0) & (conf_u <= 1 + 1e-12))
    # confidence means something: the confident rows (the pseudo-label candidates) are mostly right, and
    # more often right than the rest
    hi = conf_u >= 0.9
    assert hi.sum() > 300 and np.mean(labels_u[hi] == y_u[hi]) >= 0.95  # measured 716 rows, 0.968
    assert np.mean(labels_u[hi] == y_u[hi]) > np.mean(labels_u[~hi] == y_u[~hi]) + 0.05
    # transductive: with more smoothing (Zhou et al. use alpha 0.99) the spread labels of the pool beat the
    # supervised model's labels of the pool (alpha 0.2 spreads only a few hops: 0.919 here)
    labels_u, conf_u = label_spread(X_l, y_l, X_u, k=10, alpha=0.9, max_iter=100)
    assert np.mean(labels_u == y_u) >= sup.score(X_u, y_u) + 0.05  # measured 0.964 vs 0.903
    # inductive: a classifier on labelled + confidently spread rows beats supervised-only on held-out rows
    model, info = spread_and_fit(make_model, X_l, y_l, X_u)
    assert model.score(X_te, y_te) >= sup.score(X_te, y_te) + 0.05
    assert sum(info["added"].values()) == len(info["pseudo_index"]) > 100


def test_label_spread_sparse_and_dense_agree(edge_task):
    X_l, y_l, X_u, *_ = edge_task
    dense = label_spread(X_l, y_l, X_u)
    sparse = label_spread(sp.csr_matrix(X_l), y_l, sp.csr_matrix(X_u))
    assert np.mean(dense[0] == sparse[0]) >= 0.99
    assert np.allclose(dense[1], sparse[1], atol=1e-6)
    # cosine geometry: rescaling rows (a longer document, an unnormalized embedding) changes nothing
    scale = np.random.default_rng(0).uniform(0.1, 10.0, size=(len(X_u), 1))
    rescaled = label_spread(X_l, y_l, X_u * scale)
    assert np.array_equal(rescaled[0], dense[0]) and np.allclose(rescaled[1], dense[1])
    # and a sparse pool next to dense labelled rows works in self-training
    model, info = self_train(make_model, X_l, y_l, sp.csr_matrix(X_u), max_rounds=1)
    assert info["rounds"] == 1


def test_string_labels(edge_task):
    X_l, y_l, X_u, y_u, X_te, y_te = edge_task
    names = np.array(["a", "b", "c", "d", "e"])
    model, info = self_train(make_model, X_l, names[y_l], X_u, max_rounds=2)
    assert set(info["added"]) == set(names) and info["pseudo_labels"].dtype.kind == "U"
    labels_u, _ = label_spread(X_l, names[y_l], X_u)
    assert np.mean(labels_u == names[y_u]) > 0.8


# ------------------------------------------------------------------------------------- balance, weights

def test_balance_caps_each_round_at_the_smallest_confident_class():
    X_l, y_l, X_u, y_u, *_ = planted(1, sep=6.0, n_per=400)
    # an imbalanced pool: nine tenths of it class 0
    keep = np.concatenate([np.flatnonzero(y_u == 0), np.flatnonzero(y_u != 0)[::9]])
    X_u, y_u = X_u[keep], y_u[keep]
    _, info = self_train(make_model, X_l, y_l, X_u, max_rounds=2)
    first = info["per_round"][0]
    assert len(set(first["added"].values())) == 1  # the same number for every class ...
    assert first["confident"][0] > 2 * first["added"][0]  # ... although class 0 had far more confident rows
    _, free = self_train(make_model, X_l, y_l, X_u, max_rounds=1, balance=False)
    assert free["per_round"][0]["added"] == free["per_round"][0]["confident"]
    assert free["added"][0] > 2 * free["added"][1]
    _, capped = self_train(make_model, X_l, y_l, X_u, max_rounds=3, per_class=7)
    assert all(n <= 7 for r in capped["per_round"] for n in r["added"].values())
    assert capped["added"][0] == 7 * capped["rounds"]


def test_pseudo_weight(edge_task):
    X_l, y_l, X_u, _, X_te, _ = edge_task
    sup = make_model().fit(X_l, y_l)
    full, _ = self_train(make_model, X_l, y_l, X_u, max_rounds=1)
    faint, _ = self_train(make_model, X_l, y_l, X_u, max_rounds=1, pseudo_weight=1e-6)
    half, _ = self_train(make_model, X_l, y_l, X_u, max_rounds=1, pseudo_weight=0.5)
    assert np.abs(faint.coef_ - sup.coef_).max() < 0.01  # pseudo rows that weigh ~nothing change ~nothing
    assert np.abs(half.coef_ - full.coef_).max() > 0.01
    with pytest.raises(ValueError, match="sample_weight"):
        self_train(lambda: KNeighborsClassifier(3), X_l, y_l, X_u, pseudo_weight=0.5)
    with pytest.raises(ValueError, match="pseudo_weight"):
        self_train(make_model, X_l, y_l, X_u, pseudo_weight=0)
    with pytest.raises(ValueError, match="predict_proba"):
        self_train(LinearSVC, X_l, y_l, X_u)
    model, _ = self_train(lambda: KNeighborsClassifier(3), X_l, y_l, X_u, max_rounds=1)  # weight 1: any model
    assert model.predict(X_te).shape == (len(X_te),)


def test_determinism_and_tie_breaking(edge_task):
    X_l, y_l, X_u, *_ = edge_task
    a = self_train(make_model, X_l, y_l, X_u, random_state=3)[1]
    b = self_train(make_model, X_l, y_l, X_u, random_state=3)[1]
    assert np.array_equal(a["pseudo_index"], b["pseudo_index"])
    assert np.array_equal(a["pseudo_labels"], b["pseudo_labels"])
    assert np.array_equal(label_spread(X_l, y_l, X_u)[1], label_spread(X_l, y_l, X_u)[1])
    # random_state breaks ties: a pool of 40 identical rows, one pseudo-label per class and round
    pool = np.repeat(X_l[:1], 40, axis=0)
    picks = {int(self_train(make_model, X_l, y_l, pool, per_class=1, max_rounds=1, random_state=s)[1]
                 ["pseudo_index"][0]) for s in range(8)}
    assert len(picks) > 1


# ------------------------------------------------------------------------------------------ edge cases

def test_empty_pool(edge_task):
    X_l, y_l, _, _, X_te, _ = edge_task
    sup = make_model().fit(X_l, y_l).predict_proba(X_te)
    for pool in (np.empty((0, 20)), None, sp.csr_matrix((0, 20))):
        model, info = self_train(make_model, X_l, y_l, pool)
        assert info["rounds"] == 0 and info["stopped"] == "empty pool" and len(info["pseudo_index"]) == 0
        assert np.allclose(model.predict_proba(X_te), sup)
    labels_u, conf_u = label_spread(X_l, y_l, np.empty((0, 20)))
    assert labels_u.shape == conf_u.shape == (0,)
    model, info = spread_and_fit(make_model, X_l, y_l, None)
    assert sum(info["added"].values()) == 0
    res = cv_gain(make_model, X_l, y_l, np.empty((0, 20)), "self_train")
    assert res["possible"] and res["gain"] == {"accuracy": 0.0, "macro_f1": 0.0}


def test_pool_below_threshold(edge_task):
    X_l, y_l, _, _, X_te, _ = edge_task
    # rows at the middle of all labelled rows: no class is likely there
    pool = X_l.mean(axis=0) + 0.01 * np.random.default_rng(0).normal(size=(30, 20))
    sup = make_model().fit(X_l, y_l)
    assert sup.predict_proba(pool).max() < 0.9
    model, info = self_train(make_model, X_l, y_l, pool)
    assert info["rounds"] == 0 and info["stopped"] == "no confident rows"
    assert info["per_round"][0]["confident"] == {c: 0 for c in range(5)}
    assert np.allclose(model.predict_proba(X_te), sup.predict_proba(X_te))
    _, info = spread_and_fit(make_model, X_l, y_l, pool, threshold=0.99)
    assert isinstance(info["added"], dict)


def test_classes_the_pool_never_shows():
    X_l, y_l, X_u, y_u, *_ = planted(2, sep=6.0)
    X_u, y_u = X_u[y_u < 3], y_u[y_u < 3]  # classes 3 and 4 are labelled but absent from the pool
    model, info = self_train(make_model, X_l, y_l, X_u)
    assert info["added"][3] == info["added"][4] == 0
    assert min(info["added"][c] for c in range(3)) > 50  # the absent classes do not block the others
    assert list(model.classes_) == [0, 1, 2, 3, 4]
    # label spreading: on the union graph the labelled rows of an absent class still hand their label to
    # their nearest pool rows; the mutual graph (both rows must pick each other) does not link them
    union, _ = label_spread(X_l, y_l, X_u)
    mutual, conf = label_spread(X_l, y_l, X_u, graph="mutual")
    leak_union, leak_mutual = np.isin(union, [3, 4]).mean(), np.isin(mutual[conf > 0], [3, 4]).mean()
    assert leak_mutual <= 0.01 and leak_union > leak_mutual + 0.05, (leak_union, leak_mutual)  # 0.17, 0
    assert np.mean(mutual[conf > 0] == y_u[conf > 0]) >= 0.95
    with pytest.raises(ValueError, match="graph"):
        label_spread(X_l, y_l, X_u, graph="full")


def test_disconnected_pool_rows_get_zero_confidence():
    # two labelled classes around e1 and e2, and a pool clump around e3 that no kNN edge reaches
    rng = np.random.default_rng(0)
    e = np.eye(3)
    X_l = np.vstack([e[0] + 0.05 * rng.normal(size=(3, 3)), e[1] + 0.05 * rng.normal(size=(3, 3))])
    y_l = np.array([0, 0, 0, 1, 1, 1])
    X_u = np.vstack([e[c] + 0.05 * rng.normal(size=(40, 3)) for c in range(3)])
    labels_u, conf_u = label_spread(X_l, y_l, X_u, k=5)
    assert np.all(conf_u[80:] == 0) and np.all(labels_u[80:] == 0)  # no label mass: confidence 0, first class
    assert np.all(conf_u[:80] > 0.9) and np.array_equal(labels_u[:80], np.repeat([0, 1], 40))
    _, info = spread_and_fit(make_model, X_l, y_l, X_u, k=5)
    assert info["added"] == {0: 40, 1: 40}


def test_width_mismatch_names_both_widths(edge_task):
    X_l, y_l, X_u, *_ = edge_task
    wide = np.hstack([X_u, X_u[:, :1]])
    for call in (lambda: self_train(make_model, X_l, y_l, wide),
                 lambda: label_spread(X_l, y_l, wide),
                 lambda: spread_and_fit(make_model, X_l, y_l, wide),
                 lambda: cv_gain(make_model, X_l, y_l, wide, "label_spread")):
        with pytest.raises(ValueError, match=r"X_u has 21 columns but X_l has 20"):
            call()


# ------------------------------------------------------------------------------------------------ cv_gain

def test_cv_gain_positive_on_planted_pool_and_not_on_noise():
    # a random (not edge) labelled sample: cross-validation scores the method on rows like the labelled ones
    X_l, y_l, X_u, *_ = planted(1, sep=2.5, n_per=500, n_lab=6, labels="random")
    noise = np.random.default_rng(7).normal(size=X_u.shape) * X_u.std(axis=0) + X_u.mean(axis=0)
    good = cv_gain(make_model, X_l, y_l, X_u, "self_train")
    bad = cv_gain(make_model, X_l, y_l, noise, "self_train")
    assert good["possible"] and good["n_splits"] == 5 and len(good["folds"]) == 5
    assert good["gain"]["macro_f1"] > 0.05 and good["helps"], good["gain"]  # measured +0.11
    assert bad["gain"]["macro_f1"] < 0.03, bad["gain"]  # measured ~0
    assert good["gain"]["macro_f1"] > bad["gain"]["macro_f1"] + 0.05
    for res in (good, bad):
        for m in ("accuracy", "macro_f1"):
            assert res["gain"][m] == pytest.approx(res["semi"][m] - res["supervised"][m])
            assert res["semi"][m] == pytest.approx(np.mean([f["semi"][m] for f in res["folds"]]))
    # the noise to weigh a gain against: a paired bootstrap over the 30 held-out rows; the planted gain is above it
    assert 0 < good["gain_se"]["macro_f1"] < good["gain"]["macro_f1"] and 0 < good["gain_se"]["accuracy"] < 0.2
    again = cv_gain(make_model, X_l, y_l, X_u, "self_train")
    assert {**again, "seconds": 0} == {**good, "seconds": 0}  # deterministic (but for the time it took)


class _OneStray:
    """A 'model' that knows every row's label but predicts ``stray`` for the first row it is asked about."""

    def __init__(self, truth: dict, stray):
        self.truth, self.stray, self.calls = truth, stray, []

    def predict(self, X):
        truth = np.array([self.truth[row.tobytes()] for row in X])
        out = truth.copy()
        out[0] = self.stray
        self.calls.append((truth, out))
        return out


def test_cv_gain_with_very_few_labels(edge_task):
    X_l, y_l, X_u, *_ = edge_task  # 3 labels per class
    res = cv_gain(make_model, X_l, y_l, X_u, "label_spread", n_splits=5)
    assert res["possible"] and res["n_splits"] == 3 and res["kept_in_training"] == []
    # class 4 keeps a single example: it stays in training in every fold and is never held out
    keep = np.flatnonzero(y_l != 4)[:8].tolist() + [int(np.flatnonzero(y_l == 4)[0])]
    res = cv_gain(make_model, X_l[keep], y_l[keep], X_u, "self_train")
    assert res["possible"] and res["n_splits"] == 2 and res["kept_in_training"] == [4]
    assert sum(f["n_test"] for f in res["folds"]) == len(keep) - 1
    assert all(f["n_train"] + f["n_test"] == len(keep) for f in res["folds"])
    # macro-F1 over the held-out classes only, the same list for both models whatever they predict: a model that
    # predicts class 4 somewhere is not scored over one class more than one that never does
    oracle = _OneStray({X_l[i].tobytes(): y_l[i] for i in keep}, stray=4)
    res = cv_gain(make_model, X_l[keep], y_l[keep], X_u, lambda mk, X, y, pool: oracle)
    held_out = sorted(set(y_l[keep]) - {4})
    for fold, (truth, pred) in zip(res["folds"], oracle.calls, strict=True):
        assert fold["semi"]["macro_f1"] == pytest.approx(f1_score(truth, pred, labels=held_out, average="macro"))
        assert fold["semi"]["macro_f1"] > f1_score(truth, pred, average="macro")  # which counts class 4 too
    # one example per class: no cross-validation possible, said so rather than raised
    one = [int(np.flatnonzero(y_l == c)[0]) for c in range(5)]
    res = cv_gain(make_model, X_l[one], y_l[one], X_u, "self_train")
    assert res["possible"] is False and "single" in res["reason"]
    assert cv_gain(make_model, X_l[:3], y_l[:3], X_u, "self_train")["possible"] is False  # one class only
    # a callable method
    calls = []

    def method(mk, X, y, pool):
        calls.append(len(y))
        return mk().fit(X, y)

    res = cv_gain(make_model, X_l, y_l, X_u, method, n_repeats=2)
    assert res["possible"] and len(calls) == len(res["folds"]) == 6 and res["gain"]["accuracy"] == 0.0
    assert res["gain_se"] == {"accuracy": 0.0, "macro_f1": 0.0}  # the same model on both sides: no noise
    with pytest.raises(ValueError, match="unknown method"):
        cv_gain(make_model, X_l, y_l, X_u, "co_training")


def test_cv_gain_holds_copies_out_together(edge_task):
    """With ``groups`` no fold scores a row whose copy it trained on (here every labelled row appears twice);
    every row is still held out once per repeat, and groups of one row each change nothing."""
    X_l, y_l, X_u, *_ = edge_task
    X2, y2, groups = np.vstack([X_l, X_l]), np.concatenate([y_l, y_l]), np.tile(np.arange(len(y_l)), 2)
    seen = []

    class Recorder(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            self.rows_ = {tuple(np.round(r, 6)) for r in X}
            return super().fit(X, y, sample_weight)

        def predict(self, X):
            seen.append((self.rows_, {tuple(np.round(r, 6)) for r in X}))
            return super().predict(X)

    res = cv_gain(lambda: Recorder(max_iter=1000), X2, y2, X_u, "self_train", n_splits=3, n_repeats=2,
                  groups=groups)
    assert res["possible"] and len(res["folds"]) == 6 and sum(f["n_test"] for f in res["folds"]) == 2 * len(y2)
    assert seen and all(not (train & held) for train, held in seen)  # no held-out row's copy in training
    alone = cv_gain(make_model, X_l, y_l, X_u, "self_train", n_splits=3, groups=np.arange(len(y_l)))
    assert alone["folds"] == cv_gain(make_model, X_l, y_l, X_u, "self_train", n_splits=3)["folds"]
    with pytest.raises(ValueError, match="one group per labelled row"):
        cv_gain(make_model, X_l, y_l, X_u, "self_train", groups=groups)


def test_cv_gain_stops_when_the_folds_would_not_fit_the_time_allowed(edge_task):
    X_l, y_l, X_u, *_ = edge_task
    calls = []

    def slow(mk, X, y, pool):
        calls.append(len(y))
        time.sleep(0.5)
        return mk().fit(X, y)

    # 3 folds need ~1.5 s (the model's own fits, a few ms each, leave the check of one fit's price far behind)
    res = cv_gain(make_model, X_l, y_l, X_u, slow, n_splits=3, max_seconds=1.0)
    assert res["possible"] is False and "over the 1.0 s allowed" in res["reason"] and "3 folds" in res["reason"]
    assert len(calls) == 1  # stopped after the first fold showed the rest would not fit
    assert cv_gain(make_model, X_l, y_l, X_u, slow, max_seconds=0)["possible"] is False and len(calls) == 1
    full = cv_gain(make_model, X_l, y_l, X_u, slow, n_splits=3, max_seconds=30)
    assert full["possible"] and len(calls) == 4 and full["seconds"] >= 1.5


def test_cv_gain_refuses_a_costly_model_for_the_price_of_one_fit(edge_task):
    """Every fold fits the supervised model and the method (one fit more at least): a model whose one fit shows
    that 2 * folds fits would not fit the time is refused before the method runs at all; that first fit is the
    first fold's model, not fitted again."""
    X_l, y_l, X_u, *_ = edge_task
    fits, calls = [], []

    class Slow(LogisticRegression):
        def fit(self, X, y, *a, **k):
            fits.append(len(y))
            time.sleep(0.15)
            return super().fit(X, y, *a, **k)

    def method(mk, X, y, pool):
        calls.append(len(y))
        return mk().fit(X, y)

    res = cv_gain(lambda: Slow(max_iter=1000), X_l, y_l, X_u, method, n_splits=3, max_seconds=0.5)  # 6 fits: 0.9 s
    assert res["possible"] is False and "3 folds need at least 6 model fits" in res["reason"]
    assert len(fits) == 1 and calls == []
    fits.clear()
    ok = cv_gain(lambda: Slow(max_iter=1000), X_l, y_l, X_u, method, n_splits=3, max_seconds=30)
    assert ok["possible"] and len(fits) == 6 and len(calls) == 3  # 3 supervised + 3 by the method: none twice
    assert ok["folds"] == cv_gain(lambda: Slow(max_iter=1000), X_l, y_l, X_u, method, n_splits=3)["folds"]


def test_cv_gain_times_a_slow_method_on_a_sample_of_a_large_pool_before_any_full_fold(edge_task):
    from shoestring.tasks.classify.semisup import CALIBRATION_ROWS

    X_l, y_l, X_u, *_ = edge_task
    big = np.repeat(X_u, -(-5 * CALIBRATION_ROWS // len(X_u)), axis=0)[:5 * CALIBRATION_ROWS]
    pools = []

    def linear(mk, X, y, pool):  # costs 0.2 ms per pool row: a full fold 1 s, the calibration 0.2 s
        pools.append(pool.shape[0])
        time.sleep(2e-4 * pool.shape[0])
        return mk().fit(X, y)

    res = cv_gain(make_model, X_l, y_l, big, linear, n_splits=3, max_seconds=1.6)  # 3 full folds: ~3 s
    assert res["possible"] is False and f"{CALIBRATION_ROWS} of the {len(big)} pool rows" in res["reason"]
    assert pools == [CALIBRATION_ROWS]  # stopped before any fold on the whole pool
    ok = cv_gain(make_model, X_l, y_l, big, linear, n_splits=3, max_seconds=30)
    assert ok["possible"] and pools[1:] == [CALIBRATION_ROWS] + [len(big)] * 3
    # a small pool is not calibrated: the folds run as before
    pools.clear()
    cv_gain(make_model, X_l, y_l, X_u[:50], linear, n_splits=3, max_seconds=30)
    assert pools == [50] * 3
