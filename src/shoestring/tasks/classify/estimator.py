"""``TextClassifier``: few-label classification with or without a pre-trained VAMPIRE.

Example::

    from shoestring import TextClassifier, VAMPIRE
    vae = VAMPIRE.from_pretrained("models/news-vampire")
    clf = TextClassifier(vampire=vae, encoder="boe", random_state=0).fit(texts, labels)
    clf.predict(["Stocks fell as oil rose"])          # -> ['Business']
    clf.predict_proba(test_texts)                     # n x classes, columns in clf.classes_
    clf.evaluate(test_texts, test_labels)["accuracy"]
    clf.save_pretrained("models/news-classifier")

Without ``vampire`` it is the same network from random initialization: the baseline that shows what
pre-training buys. Early stopping uses ``dev_texts``/``dev_labels`` when given, else a seeded
``dev_fraction`` of the labelled examples (stratified when every class has at least two).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from shoestring.artifacts import write_json
from shoestring.data.labels import check_classes, normalize_label
from shoestring.data.tokenizer import WORD_TOKENIZER, Tokenizer, TokenizerConfig
from shoestring.data.vocab import Vocabulary
from shoestring.errors import ArtifactError, InputError
from shoestring.estimator import Estimator
from shoestring.tasks.classify.config import ClassifierConfig

PAD, UNK = "<pad>", "<unk>"


class _ClassifierLearner:
    nan_advice = "lower --lr or add --grad-clip 1.0"

    def __init__(self, model, tokens, bow, y, dev, config: ClassifierConfig):
        self.model, self.tokens, self.bow, self.y, self.dev, self.config = model, tokens, bow, y, dev, config
        self.monitor = "dev_score" if dev is not None else "train_eval_loss"
        self.mode = "max" if dev is not None else "min"

    @property
    def n_examples(self):
        return len(self.y)

    def batch(self, idx):
        import torch

        return _collate(self.tokens, self.bow, idx), torch.as_tensor(self.y[idx])

    def loss(self, model, batch, state):
        (tok, bow), y = batch
        out = model(tok, bow, y)
        return out["loss"], {}

    def evaluate(self, state):
        if self.dev is None:
            loss, _ = _predict_logits(self.model, self.tokens, self.bow, self.y)
            return {"train_eval_loss": loss}
        tokens, bow, y = self.dev
        loss, logits = _predict_logits(self.model, tokens, bow, y)
        acc = float((logits.argmax(1) == y).mean())
        # accuracy first; the (small) loss term only breaks ties between equally accurate epochs
        return {"dev_accuracy": acc, "dev_loss": loss, "dev_score": acc - 1e-4 * loss}


def _collate(tokens: list[np.ndarray], bow, idx):
    import torch

    from shoestring.learners.vampire.learner import bags

    seqs = [tokens[i] for i in idx]
    T = max(1, max(len(s) for s in seqs))
    arr = np.zeros((len(seqs), T), dtype=np.int64)
    for r, s in enumerate(seqs):
        arr[r, :len(s)] = s
    b = None
    if bow is not None:
        b = bags(bow[np.asarray(idx)], "cpu")[:3]
    return torch.from_numpy(arr), b


def _predict_logits(model, tokens, bow, y=None, batch_size: int = 256):
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(tokens), batch_size):
            idx = np.arange(s, min(s + batch_size, len(tokens)))
            tok, b = _collate(tokens, bow, idx)
            outs.append(model(tok, b)["logits"])
    model.train(was_training)
    logits = torch.cat(outs) if outs else torch.zeros(0, 1)
    loss = float(F.cross_entropy(logits, torch.as_tensor(y))) if y is not None and len(y) else float("nan")
    return loss, logits.numpy()


class LabelPredictor(Estimator):
    """The classifiers' shared part: label checks, the training run, ``predict`` and ``evaluate`` for any
    classifier with ``predict_proba`` and ``classes_``, and the metrics file beside the saved model."""

    @staticmethod
    def _check_labels(texts, labels, what="training"):
        if len(texts) != len(labels):
            raise InputError(f"{len(texts)} {what} texts but {len(labels)} labels")
        missing = [i for i, y in enumerate(labels) if y is None or (isinstance(y, float) and np.isnan(y))]
        if missing:
            raise InputError(f"{len(missing)} of {len(labels)} {what} examples have no label (first: row "
                             f"{missing[0] + 1})", hint="remove unlabelled rows or give them a label")

    def _train(self, learner, callbacks, n_dev: int):
        """Run the training loop on ``learner`` (whose model is ``self.model_``) and record the run."""
        state = self._run(learner, callbacks=callbacks, train_examples=learner.n_examples, dev_examples=n_dev)
        self.training_["best_" + learner.monitor] = state.best
        self.model_.eval()
        return self

    def save_pretrained(self, path, *, overwrite: bool = False, metrics: dict | None = None) -> Path:
        """Write the classifier's folder; ``metrics`` (e.g. dev scores) go into ``metrics.json`` and its card."""
        return super().save_pretrained(path, overwrite=overwrite, metrics=metrics)

    def _write_metrics(self, folder: Path, metrics: dict | None) -> None:
        if metrics:
            write_json(folder / "metrics.json", metrics)

    def _card_metrics(self, metrics: dict | None) -> dict:
        return {k: v for k, v in (metrics or self.training_).items() if not isinstance(v, (dict, list))}

    def predict(self, texts) -> list[str]:
        p = self.predict_proba(texts)
        return [self.classes_[i] for i in p.argmax(1)]

    def evaluate(self, texts, labels, *, unseen: str = "error") -> dict:
        """Accuracy, macro-F1, per-class report and confusion matrix on labelled ``texts``.

        ``unseen``: what to do with labels the classifier never saw in training: ``"error"`` (default) or
        ``"count"`` (score them as errors)."""
        from shoestring.evaluation.metrics import classification_metrics

        labels = _normalized(labels, "evaluation")
        self._check_labels(list(texts), labels, "evaluation")
        new = sorted(set(labels) - set(self.classes_))
        if new and unseen == "error":
            first = labels.index(new[0])
            raise InputError(f"label {new[0]!r} (row {first + 1}) was never seen in training"
                             + (f", nor {len(new) - 1} other label(s)" if len(new) > 1 else ""),
                             hint="drop those rows, or pass --unseen-labels count to score them as errors")
        pred = self.predict(texts)
        return classification_metrics(labels, pred, self.classes_ + new)


class TextClassifier(LabelPredictor):
    """A Seq2Vec classifier, optionally with a VAMPIRE representation concatenated (``vampire=``).

    Parameters are :class:`ClassifierConfig`'s fields; ``random_state`` is an alias of ``seed``.
    ``vampire``: a fitted :class:`~shoestring.learners.vampire.estimator.VAMPIRE` or the path of a saved one.
    ``word_vectors``: optional pre-trained word vectors to initialize the embeddings: a
    :class:`~shoestring.learners.vectors.ppmi.WordVectors`, the path of a saved one, or ``(tokens, matrix)``.
    """

    kind = "classifier"
    config_class = ClassifierConfig
    extra_params = ("vampire", "word_vectors")

    def _resolve(self):
        """The VAMPIRE and word vectors to train with: objects as given, or loaded from the given folders."""
        vampire, word_vectors = self.vampire, self.word_vectors
        if isinstance(vampire, (str, Path)):
            from shoestring.registry import load

            vampire = load(vampire, kinds=("vampire",))
        if isinstance(word_vectors, (str, Path)):
            from shoestring.registry import load

            word_vectors = load(word_vectors, kinds=("word-vectors",))
        if hasattr(word_vectors, "as_table"):
            word_vectors = word_vectors.as_table()
        return vampire, word_vectors

    # ------------------------------------------------------------------ data
    def _encode(self, texts) -> list[np.ndarray]:
        tok = Tokenizer(self.tokenizer_config_)
        index, L = self.vocab_.index, self.config.max_length
        return [np.asarray([index.get(w, 1) for w in tok(t)[:L]], dtype=np.int64) for t in texts]

    def _bow(self, texts):
        return None if self.vampire_ is None else self.vampire_.vectorize(texts).astype(np.float32)

    # ------------------------------------------------------------------ training
    def fit(self, texts, labels, *, dev_texts=None, dev_labels=None, unlabeled=None, callbacks=None):
        import torch

        from shoestring.tasks.classify.model import ClassifierNet
        from shoestring.training.seed import seed_everything

        c = self.config
        vampire, word_vectors = self._resolve()
        rng = np.random.default_rng(c.seed)
        texts, labels, dev_texts, dev_labels = split_dev(texts, labels, dev_texts, dev_labels, c.dev_fraction, rng)
        self.classes_ = sorted(set(labels))
        self.tokenizer_config_ = WORD_TOKENIZER
        self.vampire_ = vampire
        tok = Tokenizer(WORD_TOKENIZER)
        counts = Counter()
        for t in texts + list(unlabeled or []):
            counts.update(tok(t))
        vectors = None
        if word_vectors is not None:
            vtokens, vmat = word_vectors
            vindex = {w: i for i, w in enumerate(vtokens)}
            words = [w for w, _ in counts.most_common() if w in vindex][: c.max_vocab - 2]
            words += [w for w, _ in counts.most_common(c.max_vocab) if w not in vindex][: c.max_vocab - 2 - len(words)]
        else:
            words = [w for w, _ in counts.most_common(c.max_vocab - 2)]
        self.vocab_ = Vocabulary([PAD, UNK] + words)
        self.word_vectors_used_ = word_vectors is not None
        seed_everything(c.seed)
        if word_vectors is not None:
            vtokens, vmat = word_vectors
            vmat = np.asarray(vmat, dtype=np.float32)
            vectors = torch.from_numpy(rng.normal(0, float(vmat.std()), (len(self.vocab_), vmat.shape[1]))
                                       .astype(np.float32))
            vectors[0] = 0
            for i, w in enumerate(self.vocab_.tokens):
                j = vindex.get(w)
                if j is not None:
                    vectors[i] = torch.from_numpy(vmat[j])
        emb = self.vampire_.embedder(c.vampire_dropout) if self.vampire_ is not None else None
        label_index = {y: i for i, y in enumerate(self.classes_)}
        self.model_ = ClassifierNet(c, len(self.vocab_), len(self.classes_), emb, vectors)
        y = np.asarray([label_index[v] for v in labels])
        dev = None
        if dev_texts is not None and len(dev_texts):
            dev = (self._encode(dev_texts), self._bow(dev_texts), np.asarray([label_index[v] for v in dev_labels]))
        learner = _ClassifierLearner(self.model_, self._encode(texts), self._bow(texts), y, dev, c)
        learner.parameters = lambda: [p for p in self.model_.parameters() if p.requires_grad]
        return self._train(learner, callbacks, 0 if dev is None else len(dev[2]))

    # ------------------------------------------------------------------ predicting
    def predict_proba(self, texts) -> np.ndarray:
        import torch

        self._check_fitted()
        texts = list(texts)
        _, logits = _predict_logits(self.model_, self._encode(texts), self._bow(texts))
        return torch.softmax(torch.from_numpy(logits), -1).numpy() if len(texts) else np.zeros((0, len(self.classes_)))

    # ------------------------------------------------------------------ the fine-tuned VAMPIRE as an embedder
    @property
    def dim(self) -> int:
        self._check_fitted()
        if self.model_.vampire is None:
            raise ArtifactError("this classifier has no VAMPIRE representation to embed with")
        return self.model_.vampire.dim

    def transform(self, texts) -> np.ndarray:
        """The VAMPIRE representation of ``texts`` through this classifier's learned scalar mix (and its
        fine-tuned VAMPIRE encoder when it was trained with ``freeze_vampire=False``): n x :attr:`dim`."""
        dim = self.dim
        # VAMPIRE's own batched path (counts in chunks), through this classifier's mix instead of the initial one
        return self.vampire_._batched(list(texts), self.model_.vampire.eval(), dim, 4096)

    # ------------------------------------------------------------------ saving
    def _save_files(self, tmp: Path, metrics=None) -> None:
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in self.model_.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt", "model_type": "classifier"})
        self.vocab_.save(tmp / "vocab.json")
        if self.vampire_ is not None:
            # what reads texts into VAMPIRE's counts; its weights are in model.safetensors (vampire.*)
            self.vampire_.vocab_.save(tmp / "vampire_vocab.json")
            write_json(tmp / "vampire_tokenizer.json", self.vampire_.tokenizer_config_.to_dict())
        self._write_metrics(tmp, metrics)

    def _config_extras(self) -> dict:
        vamp = None
        if self.vampire_ is not None:
            vamp = {"vocab_fingerprint": self.vampire_.vocab_.fingerprint(), "vocab_size": len(self.vampire_.vocab_),
                    "config": self.vampire_.config.to_dict()}
        return {"classes": self.classes_, "vocab_size": len(self.vocab_), "vocab_fingerprint": self.vocab_.fingerprint(),
                "tokenizer": self.tokenizer_config_.to_dict(), "vampire": vamp,
                "word_vectors": self.word_vectors_used_, "embedding_dim": self.model_.embedding.embedding_dim}

    def _card(self, metrics=None) -> dict:
        vamp = self.vampire_ is not None
        return dict(
            title="Text classifier" + (" with VAMPIRE" if vamp else " (no pre-training)"),
            summary=f"A {self.config.encoder} encoder over {self.model_.embedding.embedding_dim}-d word embeddings"
                    + (", concatenated with a VAMPIRE document representation" if vamp else "")
                    + f", trained with shoestring on {self.training_.get('train_examples')} labelled examples. "
                    f"Classes: {', '.join(self.classes_[:30])}{' ...' if len(self.classes_) > 30 else ''}.",
            usage="```python\nimport shoestring\nclf = shoestring.load('.')\nclf.predict(['some text'])\n```\n\n"
                  "or `shoestring predict . texts.jsonl -o predictions.jsonl`",
            metrics=self._card_metrics(metrics))

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        from safetensors.torch import load_file

        from shoestring.learners.vampire.config import VampireConfig
        from shoestring.learners.vampire.estimator import VAMPIRE
        from shoestring.learners.vampire.model import VampireEmbedder, VampireVAE
        from shoestring.tasks.classify.model import ClassifierNet

        config = self.config
        self.classes_ = meta["classes"]
        self.vocab_ = Vocabulary.load(path / "vocab.json")
        if self.vocab_.fingerprint() != meta["vocab_fingerprint"] or len(self.vocab_) != meta["vocab_size"]:
            raise ArtifactError("vocab.json is not the vocabulary this classifier was trained with", path=path,
                                hint="restore the folder's original vocab.json")
        self.tokenizer_config_ = TokenizerConfig.from_dict(meta["tokenizer"])
        self.word_vectors_used_ = bool(meta.get("word_vectors", False))
        emb = None
        self.vampire_ = None
        if meta.get("vampire"):
            vm = meta["vampire"]
            legacy = path / "vampire"  # folders before 0.2 kept these files in a vampire/ sub-folder
            vocab_file = path / "vampire_vocab.json" if (path / "vampire_vocab.json").exists() else legacy / "vocab.json"
            tok_file = (path / "vampire_tokenizer.json" if (path / "vampire_tokenizer.json").exists()
                        else legacy / "tokenizer.json")
            vocab = Vocabulary.load(vocab_file)
            if vocab.fingerprint() != vm["vocab_fingerprint"]:
                raise ArtifactError(f"{vocab_file.relative_to(path)} is not the VAMPIRE vocabulary this classifier was "
                                    "trained with", path=path, hint="the VAMPIRE representation would read the wrong "
                                                                    "words; restore the folder's original file")
            vcfg = vm.get("config") or json.loads((legacy / "config.json").read_text(encoding="utf-8"))["config"]
            vae_cfg = VampireConfig.from_dict(vcfg)
            v = VAMPIRE(vae_cfg)
            v.vocab_, v.tokenizer_config_ = vocab, TokenizerConfig.from_json(tok_file)
            v.model_ = VampireVAE(vae_cfg, len(vocab))
            emb = VampireEmbedder(v.model_, config.vampire_dropout)
            self.vampire_ = self.vampire = v  # a refit uses it again, as the original did
        state = load_file(str(path / "model.safetensors"))
        # the embedding table's width is the word vectors' (not --embedding-dim) when they initialized it; a
        # placeholder table of that shape (overwritten below) also keeps it frozen as it was in training
        vectors = None
        if meta.get("word_vectors", "embedding.weight" in state and
                    state["embedding.weight"].shape[1] != config.embedding_dim):
            import torch

            vectors = torch.zeros(len(self.vocab_), int(state["embedding.weight"].shape[1]))
        self.model_ = ClassifierNet(config, len(self.vocab_), len(self.classes_), emb, vectors)
        try:
            self.model_.load_state_dict(state)
        except RuntimeError as e:
            raise ArtifactError(f"model.safetensors does not fit its config: {str(e)[:300]}", path=path) from None
        self.model_.eval()


def split_dev(texts, labels, dev_texts, dev_labels, fraction: float, rng):
    """Check the labels, and hold out a seeded stratified ``fraction`` as the dev split unless one is given.

    Returns ``(texts, labels, dev_texts, dev_labels)`` (the dev pair may be None)."""
    texts, labels = list(texts), _normalized(labels, "training")
    LabelPredictor._check_labels(texts, labels)
    check_classes(labels)
    if dev_texts is None and fraction > 0 and len(texts) >= 10:
        dev_idx = _stratified_holdout(labels, fraction, rng)
        keep = np.setdiff1d(np.arange(len(texts)), dev_idx)
        dev_texts, dev_labels = [texts[i] for i in dev_idx], [labels[i] for i in dev_idx]
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    if dev_labels is not None:
        dev_labels = _normalized(dev_labels, "dev")
        LabelPredictor._check_labels(dev_texts, dev_labels, "dev")
        unseen = sorted(set(dev_labels) - set(labels))
        if unseen:
            raise InputError(f"dev labels never seen in training: {', '.join(unseen[:5])}",
                             hint="every dev label must occur in the training data")
    return texts, labels, dev_texts, dev_labels


def _normalized(labels, what: str) -> list[str | None]:
    """Labels as classes (:func:`~shoestring.data.labels.normalize_label`: ``1`` and ``1.0`` are one class); a
    bad one is reported by its row."""
    out = []
    for i, y in enumerate(labels):
        try:
            out.append(normalize_label(y))
        except InputError as e:
            raise InputError(f"{what} example {i + 1}: {e}") from None
    return out


def _stratified_holdout(labels, fraction, rng) -> np.ndarray:
    """Indices of a seeded held-out set: ``fraction`` of each class with at least 2 examples (at least 1 each)."""
    labels = np.asarray(labels)
    out = []
    for lab in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == lab)
        if len(idx) < 2:
            continue
        k = max(1, int(round(fraction * len(idx))))
        out.extend(rng.choice(idx, min(k, len(idx) - 1), replace=False).tolist())
    return np.asarray(sorted(out), dtype=np.int64)
