"""The active learner: a pool of documents with cached features, the labels so far, a light head retrained in
milliseconds, and a query strategy that picks what to label next.

Features ``X`` (one row per pool document) come from any embedder - VAMPIRE, domain word vectors, a compact
BERT or sentence encoder - computed once; the model updated after every label is only a multinomial logistic
regression on those rows, warm-started from the previous solution, so one step costs milliseconds on a CPU
where fine-tuning a transformer would cost minutes. That is what makes labeling feel live::

    from shoestring.tasks.active.learner import ActiveLearner
    al = ActiveLearner(X, strategy="margin", seed=0)
    rows = al.query(k=10)                 # cold start: k-means++ seeding (no model yet)
    al.teach(rows, ["sports", "world", ...])
    al.query(k=1)                         # now: the document nearest a decision boundary

Thread safety: ``teach``, ``forget``, ``query`` and ``predict_proba`` may be called from request threads while
``retrain`` runs in a background thread: retraining fits a new head on a snapshot of the labels and swaps it
in with one assignment, so a reader sees the old head or the new one, never half of each.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from shoestring.errors import InputError
from shoestring.tasks.active.strategies import Pool, make_strategy
from shoestring.tasks.classify.linear import LinearHead


class _Head(LinearHead):
    """An immutable fitted head over ``classes``, with the version and seconds of the retrain that made it."""

    def __init__(self, coef, intercept, classes: list[str], version: int, seconds: float):
        super().__init__(coef, intercept, len(classes))
        self.classes, self.version, self.seconds = classes, version, seconds


class ActiveLearner:
    """Labels, head and strategy over a fixed pool ``X`` (``(n, d)``; rows are L2-normalized here).

    ``C``: the logistic regression's inverse regularisation (10 suits L2-normalized features of a few hundred
    labels; the few-label recipe's cross-validation picks 1 or 10 on most datasets). ``seed`` fixes the
    strategy's random draws and tie-breaks."""

    def __init__(self, X, strategy="margin", *, C: float = 10.0, seed: int = 0):
        X = np.asarray(X, np.float32)
        if X.ndim != 2 or not len(X):
            raise InputError(f"the pool's features must be a non-empty (n, d) array, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise InputError("the pool's features contain NaN or inf", hint="check the embedder")
        self.X_ = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        self.strategy = make_strategy(strategy)
        self.C, self.seed = float(C), seed
        self.rng = np.random.default_rng(seed)
        self.labels_: dict[int, str] = {}
        self._lock = threading.Lock()        # guards labels_ and the generator
        self._train_lock = threading.Lock()  # one retrain at a time (the warm start belongs to it)
        self._head: _Head | None = None
        self._lr, self._lr_classes = None, None  # the warm-started solver and the classes it was fitted on
        self._version = 0

    # ------------------------------------------------------------------ labels
    def _rows(self, idx) -> list[int]:
        rows = [int(i) for i in np.atleast_1d(idx)]
        bad = [i for i in rows if not 0 <= i < len(self.X_)]
        if bad:
            raise InputError(f"pool row {bad[0]} does not exist (the pool has {len(self.X_)} documents)")
        return rows

    def teach(self, idx, labels, *, retrain: bool = True) -> None:
        """Give (or change) the labels of pool rows ``idx``; retrain the head unless ``retrain=False``."""
        rows = self._rows(idx)
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != len(rows):
            raise InputError(f"{len(rows)} rows but {len(labels)} labels")
        if any(not isinstance(y, str) or not y for y in labels):
            raise InputError("labels must be non-empty strings")
        with self._lock:
            self.labels_.update(zip(rows, labels))
        if retrain:
            self.retrain()

    def forget(self, idx, *, retrain: bool = True) -> None:
        """Remove the labels of ``idx`` (undo)."""
        rows = self._rows(idx)
        with self._lock:
            for i in rows:
                self.labels_.pop(i, None)
        if retrain:
            self.retrain()

    @property
    def n_labelled(self) -> int:
        return len(self.labels_)

    # ------------------------------------------------------------------ the head
    def retrain(self) -> float:
        """Fit the head on the labels now (warm-started from the last fit when the classes are unchanged) and
        swap it in; returns the seconds it took. With fewer than two classes labelled there is no model."""
        from shoestring.tasks.classify.linear import logistic_regression, one_blas_thread

        with self._train_lock:
            t0 = time.perf_counter()
            with self._lock:
                snap = dict(self.labels_)
            classes = sorted(set(snap.values()))
            self._version += 1
            if len(classes) < 2:
                self._head, self._lr, self._lr_classes = None, None, None
                return time.perf_counter() - t0
            rows = np.fromiter(snap, np.int64, len(snap))
            y = np.array([classes.index(snap[i]) for i in rows])
            if self._lr is None or self._lr_classes != classes:  # a warm start needs the same classes
                self._lr = logistic_regression(self.C, self.seed, warm_start=True)
            self._lr_classes = classes
            with one_blas_thread():
                self._lr.fit(self.X_[rows], y)
            seconds = time.perf_counter() - t0
            self._head = _Head(self._lr.coef_, self._lr.intercept_, classes, self._version, seconds)
            return seconds

    @property
    def classes_(self) -> list[str]:
        head = self._head
        return list(head.classes) if head is not None else []

    @property
    def version(self) -> int:
        """Increments at every retrain: a client can tell whether the model changed."""
        return self._version

    @property
    def retrain_seconds(self) -> float | None:
        head = self._head
        return None if head is None else head.seconds

    def predict_proba(self, idx=None) -> np.ndarray | None:
        """``p(y | x)`` of pool rows ``idx`` (all rows by default), columns in ``classes_`` order; None while
        there is no model."""
        head = self._head
        if head is None:
            return None
        X = self.X_ if idx is None else self.X_[self._rows(idx)]
        return head.predict_proba(X)

    def posterior(self, idx=None) -> tuple[np.ndarray, list[str]] | None:
        """``(p(y | x), classes)`` of pool rows ``idx`` from one and the same head (a background retrain may
        add a class between a ``predict_proba`` and a ``classes_`` call); None while there is no model."""
        head = self._head
        if head is None:
            return None
        return head.predict_proba(self.X_ if idx is None else self.X_[self._rows(idx)]), list(head.classes)

    def predict(self, idx=None) -> list[str] | None:
        head = self._head
        if head is None:
            return None
        p = head.predict_proba(self.X_ if idx is None else self.X_[self._rows(idx)])
        return [head.classes[j] for j in p.argmax(1)]

    def predict_features(self, X) -> list[str] | None:
        """Labels of documents outside the pool, given their features (e.g. a test split's)."""
        head = self._head
        if head is None:
            return None
        X = np.asarray(X, np.float32)
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return [head.classes[j] for j in head.predict_proba(X).argmax(1)]

    # ------------------------------------------------------------------ choosing
    def query(self, k: int = 1, *, exclude=()) -> np.ndarray:
        """The ``k`` pool rows to label next, chosen by the strategy among the rows that are neither labelled
        nor in ``exclude`` (e.g. documents shown to another person right now)."""
        head = self._head
        with self._lock:
            labelled = np.fromiter(self.labels_, np.int64, len(self.labels_))
            mask = np.ones(len(self.X_), bool)
            mask[labelled] = False
            ex = [int(i) for i in exclude if 0 <= int(i) < len(self.X_)]
            mask[ex] = False
            cand = np.flatnonzero(mask)
            if not len(cand) or k <= 0:
                return np.zeros(0, np.int64)
            proba = None if head is None else head.predict_proba(self.X_[cand])
            return np.asarray(self.strategy.select(Pool(self.X_, cand, labelled, proba), k, self.rng), np.int64)

    # ------------------------------------------------------------------ how good is it
    def estimate_accuracy(self, folds: int = 5) -> dict | None:
        """Accuracy and macro-F1 of the head cross-validated on the labels so far (stratified folds; a class
        with one label stays in training). The labels were chosen by the strategy, not at random, so this
        estimate is biased (usually pessimistic: the strategy asks about hard documents); None until two
        classes have two labels each."""
        from shoestring.tasks.classify.linear import logistic_regression, one_blas_thread
        from shoestring.evaluation.metrics import accuracy_and_macro_f1
        from shoestring.tasks.classify.folds import stratified_folds as _folds

        with self._lock:
            snap = dict(self.labels_)
        classes = sorted(set(snap.values()))
        if len(classes) < 2:
            return None
        rows = np.fromiter(snap, np.int64, len(snap))
        y = np.array([classes.index(snap[i]) for i in rows])
        if (np.bincount(y) >= 2).sum() < 2:
            return None
        split = _folds(y, folds, self.seed)
        pred = np.full(len(y), -1)
        with one_blas_thread():
            for tr, te in split:
                if len(set(y[tr])) < 2:
                    continue
                lr = logistic_regression(self.C, self.seed).fit(self.X_[rows[tr]], y[tr])
                pred[te] = lr.classes_[lr.predict_proba(self.X_[rows[te]]).argmax(1)]
        scored = pred >= 0
        acc, f1 = accuracy_and_macro_f1(y[scored], pred[scored], len(classes))
        return {"accuracy": acc, "macro_f1": f1, "folds": len(split), "n": int(scored.sum())}

    # ------------------------------------------------------------------ a model folder
    def to_classifier(self, embedder, *, name: str = "embedder"):
        """The current head with ``embedder`` (the model that made ``X``) as a fitted
        :class:`~shoestring.tasks.classify.recipe.FewLabelClassifier`: ``save_pretrained`` writes a folder that
        ``shoestring.load`` opens and ``predict`` uses on new texts."""
        from shoestring.tasks.classify.config import RecipeConfig
        from shoestring.tasks.classify.recipe import FewLabelClassifier
        from shoestring.tasks.classify.views import EmbeddingView

        head = self._head
        if head is None:
            raise InputError("there is no model yet: label documents of at least two classes first")
        # fp32: the arithmetic the pool's features X were embedded in, so that the folder predicts as the head learnt
        clf = FewLabelClassifier(RecipeConfig(tfidf=False, c_grid=[self.C], seed=self.seed, precision="fp32"))
        clf.views_ = [EmbeddingView(embedder, name, precision="fp32")]
        if clf.views_[0].dim != self.X_.shape[1]:
            raise InputError(f"the embedder gives {clf.views_[0].dim}-d vectors, the pool's features are "
                             f"{self.X_.shape[1]}-d", hint="pass the model that computed the pool's features")
        clf.classes_ = list(head.classes)
        clf.head_ = LinearHead(head.coef, head.intercept, len(head.classes))
        clf.C_ = self.C
        cv = self.estimate_accuracy()
        clf.cv_ = {f"{name} C={self.C:g}": {"accuracy": cv["accuracy"], "macro_f1": cv["macro_f1"]}} if cv else {}
        n = len(self.labels_)
        clf.history_ = []
        clf.training_ = {
            "chosen": name, "C": self.C, "train_examples": n, "unlabeled": len(self.X_) - n,
            "why": f"active learning ({self.strategy.name}), head version {head.version}",
            "contrastive": {"used": False, "why": "not part of active learning"},
            "semi_supervised": {"used": None, "why": "not part of active learning"},
            "views": [name], "stop_reason": "fitted", "epochs": 1, "best_epoch": 1,
            "cv_accuracy": cv["accuracy"] if cv else None}
        return clf
