"""Learning from an unlabeled pool when only a few rows are labelled: self-training and label spreading.

Everything here works on FEATURE MATRICES - dense ``numpy`` arrays or ``scipy.sparse`` matrices, one row per
example (a TF-IDF block, sentence embeddings, ...) - not on texts; the views of
:mod:`~shoestring.tasks.classify.views` make such matrices. Notation: ``X_l`` (``n_l x d``) and ``y_l`` are the
labelled rows and their labels, ``X_u`` (``n_u x d``) the unlabeled pool, ``C`` the classes seen in ``y_l``.

Two classic ways to use the pool:

- :func:`self_train` - **self-training** (Yarowsky 1995, "Unsupervised word sense disambiguation rivaling
  supervised methods"; Lee 2013, "Pseudo-Label: the simple and efficient semi-supervised learning method for
  deep neural networks"):
  a classifier labels the pool, its most confident guesses become *pseudo-labels*, and it is trained again on
  labelled + pseudo-labelled rows. It helps when confident predictions are mostly right and move the decision
  boundary into the low-density gaps between classes (the *cluster assumption*); it hurts when early mistakes
  are confirmed round after round (*confirmation bias*).
- :func:`label_spread` - **label spreading** (Zhou, Bousquet, Lal, Weston & Schoelkopf 2004, "Learning with
  local and global consistency"): labels flow along a k-nearest-neighbour graph of all rows, so a pool row
  takes the label of the labelled rows it is connected to through dense regions. :func:`spread_and_fit`
  turns its confident guesses into pseudo-labels for an ordinary classifier. The graph may also be the
  *mutual* kNN graph (Ozaki, Shimbo, Komachi & Matsumoto 2011, "Using the mutual k-nearest neighbor graphs
  for semi-supervised classification of natural language data"), which drops the hub-like edges of the
  usual one.

Neither is guaranteed to help: :func:`cv_gain` measures, by cross-validation on the labelled rows only,
whether a method beats the supervised-only model on *this* data, so a recipe can accept it only where it does.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import scipy.sparse as sp

__all__ = ["self_train", "label_spread", "spread_and_fit", "cv_gain"]


CALIBRATION_ROWS = 1000  # pool rows cv_gain times a method on before a fold on the whole pool

# ---------------------------------------------------------------------------------------------- inputs

def _matrix(X, name: str):
    """A 2-D float matrix: CSR if sparse (so rows can be indexed), a numpy array otherwise."""
    if sp.issparse(X):
        X = X.tocsr()
    else:
        X = np.asarray(X)
        if X.dtype == object:
            raise ValueError(f"{name} must be a numeric matrix (numpy array or scipy sparse), got objects")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x features), got shape {X.shape}")
    return X


def _check(X_l, y_l, X_u):
    """Validate and normalise the three inputs; ``X_u=None`` means an empty pool."""
    X_l = _matrix(X_l, "X_l")
    if X_l.shape[0] == 0:
        raise ValueError("X_l has no rows: at least one labelled example per class is needed")
    y_l = np.asarray(y_l)
    if y_l.ndim != 1 or len(y_l) != X_l.shape[0]:
        raise ValueError(f"y_l must be 1-D with one label per row of X_l ({X_l.shape[0]} rows), "
                         f"got shape {y_l.shape}")
    if X_u is None:
        X_u = sp.csr_matrix((0, X_l.shape[1])) if sp.issparse(X_l) else np.empty((0, X_l.shape[1]))
    X_u = _matrix(X_u, "X_u")
    if X_u.shape[1] != X_l.shape[1]:
        raise ValueError(f"X_u has {X_u.shape[1]} columns but X_l has {X_l.shape[1]}: the pool and the "
                         f"labelled rows must come from the same feature pipeline (same vectorizer/embedder)")
    return X_l, y_l, X_u


def _stack(A, B):
    """Rows of A then rows of B (sparse if either is)."""
    if sp.issparse(A) or sp.issparse(B):
        return sp.vstack([sp.csr_matrix(A), sp.csr_matrix(B)], format="csr")
    return np.vstack([A, B])


def _key(c):
    """A class label as a plain Python value (JSON-friendly keys in ``info``)."""
    return c.item() if isinstance(c, np.generic) else c


def _counts(labels, classes) -> dict:
    n = Counter(labels.tolist()) if len(labels) else Counter()
    return {_key(c): int(n.get(_key(c), 0)) for c in classes}


def _fit(make_model, X, y, n_labelled: int, pseudo_weight: float):
    """Fit a fresh model; the rows after the first ``n_labelled`` are pseudo-labelled and weigh
    ``pseudo_weight`` (passed as ``sample_weight``, only when it is not 1)."""
    model = make_model()
    if pseudo_weight == 1.0:
        return model.fit(X, y)
    from sklearn.utils.validation import has_fit_parameter

    if not has_fit_parameter(model, "sample_weight"):
        raise ValueError(f"pseudo_weight={pseudo_weight} needs a model whose fit() takes sample_weight; "
                         f"{type(model).__name__} does not (use pseudo_weight=1.0)")
    w = np.ones(X.shape[0])
    w[n_labelled:] = pseudo_weight
    return model.fit(X, y, sample_weight=w)


def _pick(proba, classes, *, threshold, balance, per_class, rng):
    """Which pool rows become pseudo-labels: those whose top probability is >= ``threshold``, at most
    ``quota`` per class, the most confident first (ties in random order, fixed by ``rng``).

    The quota is ``per_class`` if given; otherwise, with ``balance``, the size of the smallest *non-empty*
    confident set (a class with no confident row - e.g. one the pool never shows - is skipped rather than
    blocking every other class); otherwise unlimited. Returns (row positions, their labels, confident counts).
    """
    conf = proba.max(axis=1)
    pred = proba.argmax(axis=1)
    ok = conf >= threshold
    confident = {_key(c): int(np.sum(ok & (pred == j))) for j, c in enumerate(classes)}
    sizes = [n for n in confident.values() if n > 0]
    if per_class is not None:
        quota = int(per_class)
    elif balance and sizes:
        quota = min(sizes)
    else:
        quota = len(conf)
    tie = rng.random(len(conf))
    rows = []
    for j in range(len(classes)):
        cand = np.flatnonzero(ok & (pred == j))
        order = np.lexsort((tie[cand], -conf[cand]))  # confidence descending, then the random tie-breaker
        rows.append(cand[order[:quota]])
    rows = np.sort(np.concatenate(rows)) if rows else np.empty(0, dtype=int)
    return rows, classes[pred[rows]], confident


# ---------------------------------------------------------------------------------------- self-training

def self_train(make_model, X_l, y_l, X_u, *, threshold: float = 0.9, max_rounds: int = 5,
               per_class: int | None = None, balance: bool = True, pseudo_weight: float = 1.0,
               random_state: int = 0):
    """Self-training with confident pseudo-labels (Yarowsky 1995; Lee 2013).

    ``make_model()`` must return an *unfitted* scikit-learn classifier with ``predict_proba`` (e.g.
    ``lambda: LogisticRegression(max_iter=1000)``); a fresh one is fitted each round.

    Algorithm, with ``P`` the pseudo-labelled rows (empty at first) and ``f`` the model:

    1. fit ``f`` on ``X_l ∪ P`` (pseudo rows weigh ``pseudo_weight``, e.g. 0.5, as ``sample_weight``);
    2. predict the rows of the pool not yet in ``P``: ``p(c | x) = f.predict_proba(x)``;
    3. the *confident* rows are those with ``max_c p(c | x) >= threshold``; with ``balance`` at most ``q`` per
       predicted class join ``P`` (most confident first), where ``q`` = ``per_class`` or else the size of the
       smallest non-empty confident set, so a majority class cannot swamp the others - the usual failure of
       self-training on imbalanced data. Without ``balance`` all confident rows join (capped at
       ``per_class`` per class if given);
    4. rows that joined ``P`` keep their pseudo-label for good; repeat from 1 until a round adds nothing,
       the pool is used up, or ``max_rounds`` rounds have added rows.

    Returns ``(model, info)``: the model fitted on ``X_l`` and every pseudo-label, and ``info`` with
    ``rounds`` (how many rounds added rows), ``added`` (pseudo-labels per class, in total), ``per_round``
    (per round: ``confident`` and ``added`` per class, ``pool_left``), ``stopped`` (why it stopped),
    ``pseudo_index`` (rows of ``X_u`` pseudo-labelled) and ``pseudo_labels``.

    ``threshold`` is on the model's probabilities, so it depends on calibration: a regularized logistic
    regression on unit-norm rows with many classes and a handful of labels rarely exceeds 0.3 (50k-row
    benchmark with 20 classes: median top probability 0.17 at ``C=100``) and then 0.9 adds nothing - look at
    ``model.predict_proba(X_u).max(1)`` of the supervised model before choosing it, or raise ``C``.

    Edge cases: an empty pool (or ``X_u=None``), or a pool with no row above ``threshold``, gives the
    supervised-only model with ``rounds == 0``; classes of ``y_l`` that the pool never shows get no
    pseudo-labels while the others still do; an ``X_u`` of another width raises ``ValueError``.
    ``random_state`` only breaks ties between equally confident rows; the model's own randomness is
    whatever ``make_model`` sets.
    """
    X_l, y_l, X_u = _check(X_l, y_l, X_u)
    if len(np.unique(y_l)) < 2:
        raise ValueError("self_train needs labelled examples of at least two classes")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not pseudo_weight > 0:
        raise ValueError(f"pseudo_weight must be > 0, got {pseudo_weight}")
    rng = np.random.default_rng(random_state)
    n_l, n_u = X_l.shape[0], X_u.shape[0]
    left = np.arange(n_u)  # pool rows not yet pseudo-labelled
    p_idx = np.empty(0, dtype=int)
    p_lab = y_l[:0]
    per_round = []

    def fit():
        return _fit(make_model, _stack(X_l, X_u[p_idx]), np.concatenate([y_l, p_lab]), n_l, pseudo_weight)

    model = fit()
    if not hasattr(model, "predict_proba"):
        raise ValueError(f"self_train needs a model with predict_proba; {type(model).__name__} has none")
    classes = model.classes_
    stopped = "max_rounds"
    for r in range(1, max_rounds + 1):
        if left.size == 0:
            stopped = "empty pool" if n_u == 0 else "pool used up"
            break
        rows, labels, confident = _pick(model.predict_proba(X_u[left]), classes, threshold=threshold,
                                        balance=balance, per_class=per_class, rng=rng)
        per_round.append({"round": r, "confident": confident, "added": _counts(labels, classes),
                          "pool_left": int(left.size - rows.size)})
        if rows.size == 0:
            stopped = "no confident rows"
            break
        p_idx = np.concatenate([p_idx, left[rows]])
        p_lab = np.concatenate([p_lab, labels])
        left = np.delete(left, rows)
        model = fit()
    rounds = sum(1 for d in per_round if sum(d["added"].values()) > 0)
    info = {"rounds": rounds, "added": _counts(p_lab, classes), "per_round": per_round, "stopped": stopped,
            "pseudo_index": p_idx, "pseudo_labels": p_lab}
    return model, info


# ------------------------------------------------------------------------------------- label spreading

def _l2_rows(X):
    """Rows scaled to unit L2 norm (zero rows stay zero): then ``|a - b|^2 = 2 - 2 cos(a, b)``, so Euclidean
    nearest neighbours are cosine nearest neighbours - the geometry of TF-IDF and sentence embeddings."""
    if sp.issparse(X):
        X = X.astype(np.float64)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.diags(1.0 / norms) @ X
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return X / norms


def _knn_graph(k: int, graph: str):
    """A kernel for ``LabelSpreading``: a symmetric kNN connectivity graph. With ``A_ij = 1`` iff ``j`` is one
    of the ``k`` nearest neighbours of ``i`` (``i`` itself excluded), ``"union"`` is ``W = max(A, A^T)`` (an
    edge where either row picks the other) and ``"mutual"`` is ``W = min(A, A^T)`` (both must)."""
    from sklearn.neighbors import NearestNeighbors

    def kernel(X, Y):
        # LabelSpreading calls kernel(X, X) to build its graph (and kernel(X_, X_new) only in predict,
        # which label_spread does not use).
        nn = NearestNeighbors(n_neighbors=k).fit(X)
        A = nn.kneighbors_graph(None, n_neighbors=k, mode="connectivity")  # None: no self-neighbours
        return (A.maximum(A.T) if graph == "union" else A.minimum(A.T)).tocsr()

    return kernel


def label_spread(X_l, y_l, X_u, *, k: int = 10, alpha: float = 0.2, max_iter: int = 30, graph: str = "union"):
    """Label spreading over a symmetric kNN graph (Zhou et al. 2004); returns ``(labels_u, confidence_u)``.

    With all ``n = n_l + n_u`` rows as graph nodes, ``Y`` (``n x |C|``) one-hot on labelled rows and zero
    on the pool, and ``W`` the symmetric kNN graph of the L2-normalized rows (cosine geometry), Zhou et al.
    iterate ``F <- alpha S F + (1 - alpha) Y`` with ``S = D^-1/2 W D^-1/2`` (``D`` the degrees), whose fixed
    point is ``F* = (1 - alpha)(I - alpha S)^-1 Y``: each row's label mass is what reaches it by walks
    through the graph, discounted by ``alpha`` per step. ``alpha`` (0..1) trades fitting the given labels
    (small) for smoothness over the graph (large). ``alpha = 0.2`` (scikit-learn's default) contracts by 0.2
    per step, so ``max_iter = 30`` converges, but labels travel only a few hops; Zhou et al. use 0.99. On the
    planted clusters of the tests, 0.9 labels the pool better (0.964 vs 0.919 accuracy) but spreads each
    row's mass over several classes, so few rows keep a confidence >= 0.9 (14 rows vs 716): choose the
    threshold with ``alpha``. A larger ``alpha`` needs more iterations (``max_iter=100`` for 0.9;
    scikit-learn warns ``ConvergenceWarning`` when it runs out).

    ``graph``: ``"union"`` links two rows when either is among the other's ``k`` nearest; ``"mutual"`` only
    when both are (Ozaki et al. 2011). The union graph reaches every row, but a labelled row whose class the
    pool never shows still links to its nearest pool rows and hands them its label (17% of the pool in the
    tests); the mutual graph does not link such outliers, at the price of weaker spreading and a few
    isolated rows (confidence 0).

    The iteration is scikit-learn's ``LabelSpreading``, with our graph passed as a callable kernel, because
    ``LabelSpreading(kernel="knn")`` builds the *directed* graph ``A`` (``S`` is then not the symmetric
    matrix of the paper, and a hub row that many rows pick gets many in-edges), counts each row as its own
    neighbour, and runs Euclidean kNN on raw rows, which is not cosine kNN. On the tests' planted clusters
    (mean of 6 draws) the pool is labelled with accuracy 0.861 this way, 0.833 by ``kernel="knn"`` on the
    same normalized rows, 0.757 by ``kernel="knn"`` on raw rows - below the supervised model's 0.791. Sparse
    rows are accepted as they are: the kNN search is brute force over sparse dot products, chunked.

    Returns, for each pool row, the label ``argmax_c F_ic`` and its confidence ``max_c F_ic / sum_c F_ic``
    (in ``[0, 1]``; ``1/|C|`` is a tie); a caller adds the confident ones as pseudo-labels (see
    :func:`spread_and_fit`). A pool row in a component of the graph with no labelled row gets no label mass:
    confidence 0 and, arbitrarily, the first class. An empty pool gives two empty arrays.

    Cost and limit: the kNN search is ``O(n^2 d)`` time (brute force; scikit-learn chunks the distance
    matrix to ~1 GB), the graph ``O(n k)`` memory, the iteration ``O(max_iter n k |C|)``. Measured on 2 busy
    shared CPU cores with n = 50k rows: ~80 s and 0.7 GB peak for dense 384-wide embeddings; ~130 s and
    2.6 GB for a 30k-column TF-IDF (69 non-zeros a row). Time grows as ``n^2`` (200k rows: ~16x) -
    subsample the pool, or build the graph with an approximate-neighbour index, past ~100k rows.
    """
    from sklearn.semi_supervised import LabelSpreading

    if graph not in ("union", "mutual"):
        raise ValueError(f"graph must be 'union' or 'mutual', got {graph!r}")
    X_l, y_l, X_u = _check(X_l, y_l, X_u)
    classes, codes = np.unique(y_l, return_inverse=True)
    n_u = X_u.shape[0]
    if n_u == 0:
        return y_l[:0].copy(), np.empty(0)
    X = _l2_rows(_stack(X_l, X_u))
    k = max(1, min(int(k), X.shape[0] - 1))
    y = np.concatenate([codes, np.full(n_u, -1)])
    ls = LabelSpreading(kernel=_knn_graph(k, graph), alpha=alpha, max_iter=max_iter).fit(X, y)
    F = ls.label_distributions_[X_l.shape[0]:]  # rows already normalized to sum 1 (or all zero)
    return classes[F.argmax(axis=1)], F.max(axis=1)


def spread_and_fit(make_model, X_l, y_l, X_u, *, threshold: float = 0.9, k: int = 10, alpha: float = 0.2,
                   max_iter: int = 30, graph: str = "union", balance: bool = False, per_class: int | None = None,
                   pseudo_weight: float = 1.0, random_state: int = 0):
    """Label spreading, then one classifier on labelled + confidently spread rows; returns ``(model, info)``.

    The pool rows whose :func:`label_spread` confidence is ``>= threshold`` become pseudo-labels (with
    ``balance`` or ``per_class``, capped per class as in :func:`self_train`; off by default because the graph,
    not the model, chooses them, and they are chosen once, so there is no feedback loop for a majority class
    to run away in). The classifier generalises to new rows, which the transductive graph does not.
    ``info``: ``added`` per class, ``confident`` per class, ``pseudo_index``, ``pseudo_labels``.
    """
    X_l, y_l, X_u = _check(X_l, y_l, X_u)
    classes = np.unique(y_l)
    rows = np.empty(0, dtype=int)
    labels = y_l[:0]
    confident = {_key(c): 0 for c in classes}
    if X_u.shape[0]:
        lab_u, conf_u = label_spread(X_l, y_l, X_u, k=k, alpha=alpha, max_iter=max_iter, graph=graph)
        proba = np.zeros((len(lab_u), len(classes)))  # one-hot at the spread label, scaled by its confidence
        proba[np.arange(len(lab_u)), np.searchsorted(classes, lab_u)] = conf_u
        rows, labels, confident = _pick(proba, classes, threshold=threshold, balance=balance,
                                        per_class=per_class, rng=np.random.default_rng(random_state))
    model = _fit(make_model, _stack(X_l, X_u[rows]), np.concatenate([y_l, labels]), X_l.shape[0],
                 pseudo_weight)
    return model, {"added": _counts(labels, classes), "confident": confident, "pseudo_index": rows,
                   "pseudo_labels": labels}


# ------------------------------------------------------------------------------- does it help? (CV)

_METHODS = {"self_train": self_train, "label_spread": spread_and_fit}


def _scores(y_true, y_pred, n_classes: int, scored) -> dict:
    """Accuracy and macro-F1 over the ``scored`` classes of integer-coded labels."""
    from shoestring.evaluation.metrics import accuracy_and_macro_f1

    acc, f1 = accuracy_and_macro_f1(y_true, y_pred, n_classes, scored)
    return {"accuracy": acc, "macro_f1": f1}


def cv_gain(make_model, X_l, y_l, X_u, method, *, n_splits: int = 5, n_repeats: int = 1,
            random_state: int = 0, max_seconds: float | None = None, groups=None) -> dict:
    """Does ``method`` beat the supervised-only model here? Stratified cross-validation on the labelled rows.

    ``method`` is ``"self_train"`` (:func:`self_train`), ``"label_spread"`` (:func:`spread_and_fit`), or any
    callable ``method(make_model, X_train, y_train, X_u)`` returning a fitted model or ``(model, info)`` -
    e.g. ``functools.partial(self_train, threshold=0.8)``. For each fold, the supervised model is
    ``make_model()`` fitted on the training folds, the semi-supervised one is ``method`` on the training folds
    plus the pool; both are scored (accuracy, macro-F1) on the held-out fold, which never enters the method as
    labelled data (nor the pool). ``gain = semi - supervised``, averaged over folds; ``gain_se`` holds the
    standard errors of the gain in accuracy and in macro-F1 by a paired bootstrap over the held-out rows of all
    folds (:func:`~shoestring.evaluation.metrics.paired_gain_se`), the noise a margin should be weighed against.
    Macro-F1 is over the classes that are held out (those with two or more examples), the same list for every
    fold and both models: scikit-learn's default would average over the classes either model predicted.

    Few labels: ``n_splits`` becomes ``min(n_splits, smallest class count)`` (at least 2), counting only
    classes with two or more examples, so every held-out fold has each of them and every training fold keeps
    each of them. A class with a single example cannot be held out without vanishing from training, so its
    row stays in training in every fold (listed in ``kept_in_training``) and is never scored. When no class
    has two examples (one label per class), or ``y_l`` has one class, no CV is possible and the result is
    ``{"possible": False, "reason": ...}``. With ``groups`` (one id per labelled row, e.g.
    :func:`~shoestring.tasks.classify.folds.duplicate_groups`) the rows of one group are held out together, as in
    :func:`~shoestring.tasks.classify.folds.stratified_folds` (repeat ``r`` shuffled with ``random_state + r``):
    a held-out row whose copy is in training would be scored by memory.

    Returns ``{"possible": True, "method", "n_splits", "n_repeats", "kept_in_training", "supervised":
    {accuracy, macro_f1}, "semi": {...}, "gain": {...}, "gain_se": {...}, "helps": gain["macro_f1"] > 0,
    "folds": [{"n_train",
    "n_test", "supervised", "semi"}, ...]}``; ``n_repeats > 1`` repeats the CV with other shuffles
    (``RepeatedStratifiedKFold``) and averages over all ``n_splits * n_repeats`` folds; ``seconds`` is the
    time it took.

    ``max_seconds`` bounds the time: after each fold, if the folds left would take (at the mean time per fold
    so far) past it, the cross-validation stops and returns ``{"possible": False, "reason": ...}`` - a
    partial estimate would be even noisier than a full one. With a pool of more than ``CALIBRATION_ROWS``
    rows, the method is first timed on that many of them (one fold's training rows), and the folds' time on
    the whole pool extrapolated linearly in the rows: if that is past ``max_seconds`` no full fold is run (a
    first fold alone can take longer than allowed). Before either, the first fold's supervised model is fitted
    and timed: each fold fits the supervised model and the method, which fits at least once more on those rows
    and pool rows, so if ``2 * folds - 1`` more such fits would not fit the time, nothing more runs (a costly
    model - a stack, a blend of two - is refused for the price of one fit, not of a calibration; that first
    model is the first fold's, not fitted twice). A method that grows faster than linearly in the pool can
    still overshoot by its first fold.

    Two limits. The estimate is noisy: with 30 labelled rows (6 test rows a fold) one row moves a fold's
    accuracy by 0.17, and over 12 draws of the tests' planted task the macro-F1 gain of self-training ranged
    +0.03..+0.24 with a pool from the clusters and -0.15..+0.10 with a pool of pure noise - read ``folds``
    before trusting a small gain, and ask for a margin rather than ``> 0``. And it scores the method on rows
    like the labelled ones: if those are not a random sample of the task (e.g. all picked at cluster edges),
    the cross-validation cannot see what the pool would fix elsewhere.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    from shoestring.evaluation.metrics import paired_gain_se

    if isinstance(method, str):
        if method not in _METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {sorted(_METHODS)} or a callable")
        name, fn = method, _METHODS[method]
        kwargs = {"random_state": random_state}
    else:
        name = getattr(getattr(method, "func", method), "__name__", type(method).__name__)  # partial -> func
        fn, kwargs = method, {}
    X_l, y_l, X_u = _check(X_l, y_l, X_u)
    classes, counts = np.unique(y_l, return_counts=True)
    if len(classes) < 2:
        return {"possible": False, "method": name, "reason": "the labelled rows have a single class"}
    multi = counts >= 2
    if not multi.any():
        return {"possible": False, "method": name,
                "reason": "every class has a single labelled example: holding one out would remove its class "
                          "from training, so cross-validation cannot score the method"}
    scored = np.flatnonzero(multi)  # the classes held out, by index into ``classes``
    s = max(2, min(int(n_splits), int(counts[multi].min())))
    in_cv = np.isin(y_l, classes[multi])
    cv_rows, fixed_rows = np.flatnonzero(in_cv), np.flatnonzero(~in_cv)
    folds, held_out = [], []
    total, t0 = s * max(1, int(n_repeats)), time.perf_counter()
    if max_seconds is not None and max_seconds <= 0:
        return {"possible": False, "method": name, "seconds": 0.0, "reason": "no time left for it"}
    if groups is None:
        splitter = RepeatedStratifiedKFold(n_splits=s, n_repeats=max(1, int(n_repeats)), random_state=random_state)
        splits = [(np.concatenate([cv_rows[tr], fixed_rows]), cv_rows[te])
                  for tr, te in splitter.split(np.zeros(len(cv_rows)), y_l[cv_rows])]
    else:
        from shoestring.tasks.classify.folds import stratified_folds

        codes, groups = np.searchsorted(classes, y_l), np.asarray(groups)
        if len(groups) != len(y_l):
            raise ValueError(f"one group per labelled row: {len(y_l)} rows, {len(groups)} groups")
        splits = [fold for r in range(max(1, int(n_repeats)))
                  for fold in stratified_folds(codes, s, random_state + r, groups)]

    def over_time(spent: float, why: str) -> dict:
        """The answer when the folds would not fit ``max_seconds``, ``spent`` seconds in."""
        return {"possible": False, "method": name, "seconds": round(spent, 2),
                "reason": f"{why}, over the {max_seconds:.1f} s allowed"}

    first_sup = None  # the first fold's supervised model, when fitted (and timed) before the folds
    if max_seconds is not None:
        train = splits[0][0]
        t = time.perf_counter()
        first_sup = make_model().fit(X_l[train], y_l[train])
        sup_seconds = time.perf_counter() - t
        spent = time.perf_counter() - t0
        if spent + (2 * total - 1) * sup_seconds > max_seconds:
            return over_time(spent, f"{total} folds need at least {2 * total} model fits of ~{sup_seconds:.1f} s "
                                    "each (the supervised one's)")
    if max_seconds is not None and X_u.shape[0] > CALIBRATION_ROWS:
        # a first fold on the whole pool can by itself take longer than allowed, and the check below needs one
        # finished fold: time the method on a sample of the pool first and extrapolate (linearly in the rows)
        sample = np.random.default_rng(random_state).choice(X_u.shape[0], CALIBRATION_ROWS, replace=False)
        t = time.perf_counter()
        fn(make_model, X_l[train], y_l[train], X_u[np.sort(sample)], **kwargs)
        small = sup_seconds + time.perf_counter() - t
        per_fold = small * (len(train) + X_u.shape[0]) / (len(train) + CALIBRATION_ROWS)
        spent = time.perf_counter() - t0
        if spent + per_fold * total > max_seconds:
            return over_time(spent, f"{total} folds would take ~{per_fold * total:.0f} s (from a {small:.1f} s fit "
                                    f"on {CALIBRATION_ROWS} of the {X_u.shape[0]} pool rows)")
    for i, (train, test) in enumerate(splits):
        spent = time.perf_counter() - t0
        if max_seconds is not None and folds and spent + spent / len(folds) * (total - len(folds)) > max_seconds:
            return over_time(spent, f"{total} folds would take ~{spent / len(folds) * total:.0f} s")
        X_tr, y_tr, X_te, y_te = X_l[train], y_l[train], X_l[test], y_l[test]
        sup = first_sup if (i == 0 and first_sup is not None) else make_model().fit(X_tr, y_tr)
        semi = fn(make_model, X_tr, y_tr, X_u, **kwargs)
        semi = semi[0] if isinstance(semi, tuple) else semi
        # integer codes (indices into ``classes``), for the scores here and the bootstrap below
        t, p_sup, p_semi = (np.searchsorted(classes, v) for v in (y_te, sup.predict(X_te), semi.predict(X_te)))
        held_out.append((t, p_sup, p_semi))
        folds.append({"n_train": int(len(train)), "n_test": int(len(test)),
                      "supervised": _scores(t, p_sup, len(classes), scored),
                      "semi": _scores(t, p_semi, len(classes), scored)})
    mean = {side: {m: float(np.mean([f[side][m] for f in folds])) for m in ("accuracy", "macro_f1")}
            for side in ("supervised", "semi")}
    gain = {m: mean["semi"][m] - mean["supervised"][m] for m in ("accuracy", "macro_f1")}
    y_all, sup_all, semi_all = (np.concatenate(p) for p in zip(*held_out))
    se = paired_gain_se(y_all, semi_all, sup_all, len(classes), random_state, scored)
    return {"possible": True, "method": name, "n_splits": s, "n_repeats": max(1, int(n_repeats)),
            "seconds": round(time.perf_counter() - t0, 2), "kept_in_training": [_key(c) for c in classes[~multi]],
            "supervised": mean["supervised"], "semi": mean["semi"], "gain": gain,
            "gain_se": {"accuracy": se[0], "macro_f1": se[1]}, "helps": bool(gain["macro_f1"] > 0), "folds": folds}
