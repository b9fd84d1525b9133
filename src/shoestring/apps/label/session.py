"""A labeling session: the corpus, the embedder, the pool's features, the active learner and the label store,
with the background threads that keep the page responsive. No web code: :mod:`.server` only routes to here.

What happens, in order:

1. at construction (errors here stop the command before anything is served): the corpus is read and hashed,
   the label database opened or made (:class:`~shoestring.tasks.active.store.LabelStore`), the strategy checked;
2. :meth:`LabelSession.start` runs the slow part in a thread while the page is already served: open the
   model (``--model``), or reuse the VAMPIRE pre-trained at an earlier start, or pre-train one on the corpus
   within ``minutes`` (progress reported to the page and the terminal); compute the features of every
   document once - ``EmbeddingView(model).transform(texts)``, L2-normalized float32 - or read them from the
   cache; build the :class:`~shoestring.tasks.active.learner.ActiveLearner` and teach it the stored labels;
   project a sample of the documents to 2-D for the map;
3. then every label is stored first (one fsynced transaction), taught to the learner, and a retraining
   thread picks it up: the next document comes from the current model at once, never waiting for the new one.

Files beside the database ``NAME.labels.db``: ``NAME.labels.vampire/`` (the pre-trained VAMPIRE, reused at the
next start), ``NAME.labels.features.safetensors`` (the features, keyed by the corpus sha256 and the model
folder's manifest hash) and ``NAME.labels.classifier/`` (the saved classifier)::

    s = LabelSession("news.jsonl", "news.labels.db", labels=["sports", "world"], model="models/vampire")
    s.start(); s.wait_ready()
    doc = s.next("tab-1"); s.label("tab-1", doc["id"], "sports")
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from pathlib import Path

import numpy as np

from shoestring.errors import ConfigError, InputError, ShoestringError
from shoestring.tasks.active.store import LEASE_SECONDS, LabelStore, StoreError

log = logging.getLogger("shoestring")

MAP_POINTS = 2000
_KEYS = "123456789abcdefghijklmnopqrtvwxyz"  # s and u are skip and undo


class NotReady(ShoestringError):
    """The model is still being pre-trained or the features computed (HTTP 503)."""

    status = 503


def shortcuts(labels: list[str]) -> dict[str, str]:
    """The keyboard key of each label: 1..9, then the letters without s (skip) and u (undo)."""
    if len(labels) > len(_KEYS):
        return {x: k for x, k in zip(labels, _KEYS)}  # the rest have buttons only
    return dict(zip(labels, _KEYS))


@dataclasses.dataclass
class Corpus:
    """The documents to label, in order: text, id (row number or ``id_field``), line in the file."""

    path: Path
    texts: list[str]
    ids: list[str]
    lines: list[int]
    sha256: str


def read_corpus(path, read_kw: dict | None = None, id_field: str | None = None) -> Corpus:
    from shoestring.data.readers import ReadStats, read_documents, sha256_files

    path = Path(path)
    texts, ids, lines = [], [], []
    stats = ReadStats(strict_labels=False)  # labels in the corpus are not used here; a malformed one is no error
    for d in read_documents([path], stats=stats, progress="reading the corpus", **(read_kw or {})):
        if id_field:
            if id_field not in d.extra:
                raise InputError(f"no {id_field!r} field", path=d.source, line=d.line, hint="check --id-field")
            ids.append(str(d.extra[id_field]))
        else:
            ids.append(str(len(texts)))
        texts.append(d.text)
        lines.append(d.line)
    if not texts:
        raise InputError("no documents to label", path=path, hint="check the file and --text-field")
    return Corpus(path, texts, ids, lines, sha256_files([path]))


def model_fingerprint(path) -> str:
    """A hash that changes when the model folder does: its manifest (which lists every file's sha256), or for
    a Hugging Face checkpoint folder without one, its files' names, sizes and modification times."""
    path = Path(path)
    h = hashlib.sha256()
    if (path / "manifest.json").is_file():
        h.update((path / "manifest.json").read_bytes())
    else:
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def read_cached_features(cache: Path, corpus_sha256: str, model_sha256: str, n: int) -> np.ndarray | None:
    """The cached features if they were computed for this corpus and model (else None)."""
    from safetensors import safe_open

    if not cache.is_file():
        return None
    try:
        with safe_open(str(cache), "np") as f:
            meta = f.metadata() or {}
            if meta.get("corpus_sha256") != corpus_sha256 or meta.get("model_sha256") != model_sha256:
                return None
            X = f.get_tensor("features")
    except Exception as e:  # a truncated or foreign file is recomputed, not fatal
        log.warning("%s: unreadable feature cache (%s); recomputing it", cache, e)
        return None
    return X if X.shape[0] == n else None


def write_cached_features(cache: Path, X: np.ndarray, corpus_sha256: str, model_sha256: str, model: str) -> None:
    import os
    import uuid

    from safetensors.numpy import save_file

    tmp = cache.with_name(f".{cache.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        save_file({"features": np.ascontiguousarray(X, np.float32)}, str(tmp),
                  metadata={"corpus_sha256": corpus_sha256, "model_sha256": model_sha256, "model": model})
        os.replace(tmp, cache)
    finally:
        tmp.unlink(missing_ok=True)


def corpus_map(X: np.ndarray, points: int = MAP_POINTS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a seeded sample of at most ``points`` documents and their 2-D PCA coordinates, scaled into
    [0, 1] with one factor for both axes (distances keep their proportions)."""
    from sklearn.decomposition import PCA

    n = len(X)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n, points), replace=False))
    if len(rows) < 3 or X.shape[1] < 2:
        xy = np.zeros((len(rows), 2), np.float32) + 0.5
        return rows, xy
    xy = PCA(2, random_state=seed).fit_transform(X[rows])
    lo, span = xy.min(0), np.ptp(xy, 0).max()
    xy = (xy - lo) / max(span, 1e-12)
    xy += (1.0 - xy.max(0)) / 2  # centre the shorter axis
    return rows, xy.astype(np.float32)


class _PretrainProgress:
    """A training-loop callback that reports VAMPIRE's epoch and ETA to the session (and so to the page)."""

    def __init__(self, session: "LabelSession"):
        self.session = session
        self._last = 0.0

    def on_fit_start(self, state) -> None:
        self._report(state)

    def on_step_end(self, state, loss) -> None:
        if time.monotonic() - self._last >= 0.5:
            self._report(state)

    def on_epoch_end(self, state, record) -> None:
        self._report(state)

    def on_fit_end(self, state) -> None: ...

    def _report(self, state) -> None:
        from shoestring.training.callbacks import duration, remaining_seconds

        self._last = time.monotonic()
        eta = remaining_seconds(state)
        epoch = min(state.epoch + 1, state.max_epochs)
        self.session._set_phase("pretraining", f"pre-training VAMPIRE: epoch {epoch}/{state.max_epochs}, ETA "
                                f"{duration(eta) if eta is not None else 'estimating'}",
                                {"epoch": epoch, "max_epochs": state.max_epochs,
                                 "eta_seconds": None if eta is None else round(eta, 1)}, quiet=True)


class LabelSession:
    """One labeling project (see the module docstring).

    ``corpus``: the file to label; ``db``: the label database (made if missing); ``labels``: the label set
    (None: the one recorded in ``db``); ``model``: an embedder folder (shoestring VAMPIRE, masked LM, sentence
    encoder, word vectors, or a Hugging Face checkpoint folder) or a fitted embedder; None pre-trains VAMPIRE
    for ``minutes`` (``pretrain``: more VAMPIRE settings). ``features``: precomputed ``(n, d)`` features of the
    corpus (then ``model`` is only used to save the classifier). ``progress``: progress bars in the terminal."""

    def __init__(self, corpus, db, *, labels=None, model=None, features=None, minutes: float = 2.0,
                 strategy: str = "margin", id_field: str | None = None, read_kw: dict | None = None,
                 force_new: bool = False, save_model_to=None, seed: int = 0, lease_seconds: float = LEASE_SECONDS,
                 pretrain: dict | None = None, progress: bool = True, map_points: int = MAP_POINTS):
        from shoestring.tasks.active.strategies import make_strategy

        make_strategy(strategy)  # an unknown strategy fails now, not after pre-training
        if minutes is not None and minutes <= 0:
            raise ConfigError(f"--minutes must be above 0, got {minutes:g}")
        if isinstance(model, (str, Path)) and not Path(model).is_dir():
            raise ConfigError("no such model folder", path=model,
                              hint="--model takes an embedder folder, or leave it out to pre-train VAMPIRE on the "
                                   "corpus")
        self.db = Path(db)
        base = self.db.with_suffix("") if self.db.suffix == ".db" else self.db
        self.vampire_dir = base.with_name(base.name + ".vampire")
        self.features_path = base.with_name(base.name + ".features.safetensors")
        self.save_model_to = Path(save_model_to) if save_model_to else base.with_name(base.name + ".classifier")
        self.read_kw = read_kw or {}
        self.corpus = read_corpus(corpus, self.read_kw, id_field)
        if features is not None and len(features) != len(self.corpus.texts):
            raise InputError(f"{len(features)} feature rows for {len(self.corpus.texts)} documents")
        self.store = LabelStore.create(self.db, corpus_path=self.corpus.path, corpus_sha256=self.corpus.sha256,
                                       ids=self.corpus.ids, texts=self.corpus.texts, lines=self.corpus.lines,
                                       labels=labels, id_field=id_field, force_new=force_new)
        self.model, self.features, self.minutes, self.strategy = model, features, minutes, strategy
        self.seed, self.lease_seconds, self.pretrain, self.progress = seed, lease_seconds, pretrain, progress
        self.map_points = map_points
        self.embedder = None if isinstance(model, (str, Path)) else model
        self.model_name = str(model) if isinstance(model, (str, Path)) else (type(model).__name__ if model else "")
        self.learner = None
        self.map_rows = self.map_xy = None
        self.phase, self.message, self.phase_progress = "starting", "starting", None
        self._info = {"version": 0, "retrain_seconds": None, "retrained_at": None, "accuracy": None,
                      "map_predictions": None}
        self._lock = threading.RLock()      # store + learner changes that belong together
        self._save_lock = threading.Lock()
        self._dirty = threading.Event()     # labels changed since the last retrain
        self._changes = 0                   # label changes taught so far ...
        self._trained = 0                   # ... and how many of them the current model has seen
        self._idle = threading.Condition()
        self._ready = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ start-up
    def start(self) -> "LabelSession":
        """Open or pre-train the model, compute the features and build the learner, in a background thread."""
        t = threading.Thread(target=self._startup, name="shoestring-label-startup", daemon=True)
        self._threads.append(t)
        t.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the learner is ready (raises the start-up error, or TimeoutError)."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the labeling session was not ready within {timeout} s ({self.message})")
        if self.phase == "error":
            raise self._error

    def wait_ready_quietly(self, timeout: float | None = None) -> bool:
        """Block until start-up has finished or failed (``phase`` says which); False on timeout."""
        return self._ready.wait(timeout)

    def _set_phase(self, phase: str, message: str, progress: dict | None = None, *, quiet: bool = False) -> None:
        self.phase, self.message, self.phase_progress = phase, message, progress
        if not quiet:
            log.info("%s", message)

    def _startup(self) -> None:
        try:
            self._open_model()
            X = self._compute_features()
            self._build_learner(X)
        except BaseException as e:
            self._error = e if isinstance(e, ShoestringError) else ShoestringError(f"{type(e).__name__}: {e}")
            self._set_phase("error", f"could not start: {e}")
            if not isinstance(e, ShoestringError):
                log.exception("start-up failed")
            self._ready.set()
            return
        worker = threading.Thread(target=self._retrain_loop, name="shoestring-label-retrain", daemon=True)
        self._threads.append(worker)
        worker.start()
        self._set_phase("ready", f"ready: {self.store.progress()['labelled']} of {len(self.corpus.texts)} "
                                 "documents labelled")
        self._ready.set()

    def _open_model(self) -> None:
        from shoestring.registry import load_embedder

        if isinstance(self.model, (str, Path)):
            self._set_phase("loading", f"opening the model {self.model}")
            self.embedder, self.model_path = load_embedder(self.model), Path(self.model)
        elif self.model is not None or self.features is not None:
            self.model_path = None
        elif (self.vampire_dir / "manifest.json").is_file() and \
                self.store.meta.get("vampire_corpus_sha256") == self.corpus.sha256:  # not one from before --force-new
            self._set_phase("loading", f"reusing the VAMPIRE pre-trained at an earlier start: {self.vampire_dir} "
                                       "(delete it to pre-train again)")
            self.embedder, self.model_path = load_embedder(self.vampire_dir), self.vampire_dir
            self.model_name = str(self.vampire_dir)
        else:
            self.embedder, self.model_path = self._pretrain(), self.vampire_dir
            self.model_name = str(self.vampire_dir)

    def _pretrain(self):
        import tempfile

        from shoestring.data.config import PrepareConfig
        from shoestring.data.prepare import prepare
        from shoestring.learners.vampire.estimator import VAMPIRE

        self._set_phase("preparing", f"no --model: preparing {self.corpus.path.name} to pre-train VAMPIRE "
                                     f"({self.minutes:g} min budget)")
        params = {"minutes": self.minutes, "seed": self.seed, "progress": self.progress, **(self.pretrain or {})}
        with tempfile.TemporaryDirectory(prefix="shoestring-label-") as tmp:
            corpus = prepare(self.corpus.path, Path(tmp) / "prepared", PrepareConfig(**self.read_kw),
                             progress=self.progress)
            self._set_phase("pretraining", "pre-training VAMPIRE: starting")
            vae = VAMPIRE(**params).fit(corpus, callbacks=[_PretrainProgress(self)])
        vae.save_pretrained(self.vampire_dir, overwrite=True)
        self.store.set_meta("vampire_corpus_sha256", self.corpus.sha256)
        log.info("VAMPIRE pre-trained in %.0f s (NPMI %.3f), saved to %s", vae.training_["seconds"], vae.npmi_,
                 self.vampire_dir)
        return vae

    def _compute_features(self) -> np.ndarray:
        from shoestring.tasks.classify.views import EmbeddingView

        if self.features is not None:
            X = np.asarray(self.features, np.float32)
            return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        n = len(self.corpus.texts)
        key = model_fingerprint(self.model_path) if self.model_path is not None else None
        if key is not None:
            X = read_cached_features(self.features_path, self.corpus.sha256, key, n)
            if X is not None:
                log.info("features of %d documents read from %s", n, self.features_path)
                return X
        self._set_phase("embedding", f"computing the features of {n:,} documents")
        t0 = time.perf_counter()
        X = EmbeddingView(self.embedder, "embedder").transform(self.corpus.texts)
        log.info("features: %d x %d in %.1f s", *X.shape, time.perf_counter() - t0)
        if key is not None:
            write_cached_features(self.features_path, X, self.corpus.sha256, key, str(self.model_path))
        return X

    def _build_learner(self, X: np.ndarray) -> None:
        from shoestring.tasks.active.learner import ActiveLearner

        self._set_phase("learner", "training the first model on the stored labels")
        learner = ActiveLearner(X, strategy=self.strategy, seed=self.seed)
        self.map_rows, self.map_xy = corpus_map(X, self.map_points, self.seed)
        with self._lock:
            stored = self.store.labelled()
            if stored:
                learner.teach(list(stored), list(stored.values()), retrain=False)
            self.learner = learner
        self._retrain_once()

    # ------------------------------------------------------------------ the background retrain
    def _retrain_loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._closing:
                return
            self._dirty.clear()
            try:
                self._retrain_once()
            except Exception:  # the page keeps the last model; the terminal shows why
                log.exception("retraining failed")

    def _changed(self) -> None:
        """Called (under ``_lock``) after the learner's labels changed: the retraining thread picks it up."""
        self._changes += 1
        self._dirty.set()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until the model has been retrained on every label given so far (for tests and scripts)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._trained >= self._changes or self.phase == "error", timeout):
                raise TimeoutError(f"retraining did not catch up within {timeout} s")

    def _retrain_once(self) -> None:
        learner = self.learner
        seen = self._changes  # read before the retrain snapshots the labels: it has seen at least these
        seconds = learner.retrain()
        preds = learner.predict(self.map_rows) if len(self.map_rows) else None
        info = dict(self._info, version=learner.version, retrain_seconds=round(seconds, 4),
                    retrained_at=time.time(), map_predictions=preds)
        if not self._dirty.is_set():  # cross-validation is the slow part: skip it when newer labels wait
            info["accuracy"] = learner.estimate_accuracy()
        self._info = info  # one assignment: a reader sees the old record or the new one
        with self._idle:
            self._trained = max(self._trained, seen)
            self._idle.notify_all()

    # ------------------------------------------------------------------ what a client does
    def _check_ready(self) -> None:
        if self.phase == "error":
            raise NotReady(self.message)
        if not self._ready.is_set():
            raise NotReady(f"the model is not ready yet ({self.message})")

    def document(self, row: int) -> dict:
        """A document as the page shows it: id, text, its label if it has one, the model's prediction."""
        d = self.store.doc(row)
        post = self.learner.posterior([row])  # probabilities and classes of one head, whatever retrains meanwhile
        pred = None
        if post is not None:
            p, classes = post
            j = int(p[0].argmax())
            pred = {"label": classes[j], "confidence": round(float(p[0, j]), 4),
                    "probabilities": {c: round(float(q), 4) for c, q in zip(classes, p[0])}}
        return {"id": d["id"], "row": row, "text": d["text"], "status": d["status"], "label": d["label"],
                "prediction": pred, "model_version": self._info["version"]}

    def next(self, client: str) -> dict | None:
        """The document ``client`` should label now (leased to it), or None when none is left. A client that
        already holds one gets the same one again (a reloaded page shows what it showed)."""
        self._check_ready()
        with self._lock:
            row = self.store.lease_of(client)
            if row is None:
                row = self._choose(client)
            elif not self.store.lease(row, client, self.lease_seconds):  # renew it
                row = self._choose(client)
            return None if row is None else self.document(row)

    def _choose(self, client: str) -> int | None:
        exclude = self.store.leased_to_others(client) | self.store.skipped() | set(self.store.labelled())
        for row in self.learner.query(4, exclude=exclude):
            if self.store.lease(int(row), client, self.lease_seconds):
                return int(row)
        return None

    def label(self, client: str, doc_id, label: str) -> dict:
        """Store a label (the last write wins), teach it, and let the retraining thread pick it up."""
        self._check_ready()
        if not isinstance(label, str):
            raise StoreError("'label' must be a string")
        with self._lock:
            row = self.store.row_of(doc_id)
            prev = self.store.label(row, label, client)
            self.learner.teach(row, label, retrain=False)
            self._changed()
        return {"id": str(doc_id), "label": label, "previous": prev}

    def skip(self, client: str, doc_id) -> dict:
        self._check_ready()
        with self._lock:
            row = self.store.row_of(doc_id)
            self.store.skip(row, client)
        return {"id": str(doc_id), "skipped": True}

    def undo(self, client: str) -> dict:
        """Revert ``client``'s last label or skip; the document it concerned is shown again (``next``)."""
        self._check_ready()
        with self._lock:
            r = self.store.undo(client)
            row = r["row"]
            if r["restored"]:
                if r["status"] == "labeled":
                    self.learner.teach(row, r["label"], retrain=False)
                    self._changed()
                elif row in self.learner.labels_:
                    self.learner.forget(row, retrain=False)
                    self._changed()
                if r["status"] == "open":
                    self.store.lease(row, client, self.lease_seconds)
            shown = self.document(row) if r["restored"] else self.next(client)
        d = self.store.doc(row)
        return {"undone": {"id": d["id"], "action": r["action"], "restored": r["restored"],
                           "status": r["status"], "label": r["label"]}, "next": shown}

    def state(self) -> dict:
        """What the page's live panel shows (polled every 1.5 s)."""
        info = self._info
        labels = self.store.labels
        out = {"phase": self.phase, "message": self.message, "progress": self.phase_progress, "labels": labels,
               "shortcuts": shortcuts(labels), "counts": self.store.counts(), **self.store.progress(),
               "accuracy": info["accuracy"], "strategy": self.strategy, "corpus": self.corpus.path.name,
               "model": {"name": self.model_name, "version": info["version"],
                         "retrain_seconds": info["retrain_seconds"], "retrained_at": info["retrained_at"],
                         "retraining": self._trained < self._changes},
               "save_model_to": str(self.save_model_to), "map": None}
        if self.learner is not None and self.map_rows is not None:
            index = {x: i for i, x in enumerate(labels)}
            with self._lock:
                known = dict(self.learner.labels_)
            preds = info["map_predictions"]
            colors, marked = [], []
            for k, row in enumerate(self.map_rows.tolist()):
                y = known.get(row)
                marked.append(1 if y is not None else 0)
                y = y if y is not None else (preds[k] if preds else None)
                colors.append(index.get(y, -1))
            out["map"] = {"colors": colors, "labelled": marked}
        return out

    def map_layout(self) -> dict:
        """The 2-D map's fixed part: rows and coordinates of the sampled documents (computed once)."""
        self._check_ready()
        return {"rows": self.map_rows.tolist(), "x": np.round(self.map_xy[:, 0], 4).tolist(),
                "y": np.round(self.map_xy[:, 1], 4).tolist()}

    def export(self, fmt: str) -> tuple[str, str]:
        """``(content, file name)`` of the labels in ``fmt`` (see :mod:`shoestring.tasks.active.formats`)."""
        from shoestring.tasks.active.formats import SUFFIXES, check_format, export_text

        check_format(fmt)
        stem = self.db.name.removesuffix(".db")
        return export_text(self.store.rows(), fmt, self.store.labels), f"{stem}{SUFFIXES[fmt][0]}"

    def save_model(self) -> dict:
        """Write the current classifier to ``save_model_to`` (replacing an earlier save): a folder that
        ``shoestring.load(path).predict(texts)`` opens."""
        self._check_ready()
        if self.embedder is None:
            raise ConfigError("this session has features but no embedder, so no classifier folder can be written",
                              hint="start it with --model")
        with self._save_lock:
            t0 = time.perf_counter()
            clf = self.learner.to_classifier(self.embedder)
            clf.save_pretrained(self.save_model_to, overwrite=True)
        log.info("classifier saved to %s", self.save_model_to)
        return {"path": str(self.save_model_to), "classes": list(clf.classes_),
                "labels": len(self.learner.labels_), "seconds": round(time.perf_counter() - t0, 3)}

    def close(self) -> None:
        """Stop the retraining thread and close the database (labels are already on disk)."""
        self._closing = True
        self._dirty.set()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5.0)
        self.store.close()
