"""``SentenceEncoder``: a BERT trained with SimCSE into a sentence embedder, saved as a folder that loads in
Hugging Face ``transformers`` and in ``sentence-transformers`` without shoestring.

Example::

    from shoestring.learners.contrastive.encoder import SentenceEncoder
    enc = SentenceEncoder(init_from="models/news-mini", minutes=20, split="sentences", random_state=0)
    enc.fit(corpus_texts)                        # unsupervised SimCSE: dropout views of each sentence
    enc.fit(pairs=[("a man plays", "a man is playing", "nobody plays"), ...])   # supervised rows
    enc.transform(["Oil prices rose", "Crude climbed"])     # n x H, for cosine similarity
    SentenceEncoder(init_from="models/news-mini", whiten=True).fit(corpus_texts)  # + whitening on the corpus
    enc.save_pretrained("models/news-simcse")
    # elsewhere: sentence_transformers.SentenceTransformer("models/news-simcse")

``init_from``: a compact BERT from ``shoestring pretrain mlm``, an earlier ``SentenceEncoder`` folder, or any
BERT-family checkpoint folder (such as the offline all-MiniLM-L6-v2 package).

With ``whiten=True`` the pooled vectors are whitened after training (:mod:`~shoestring.learners.contrastive.
whitening`): an affine map estimated on a sample of the training texts, saved beside the weights
(``whitening.safetensors``) and exported to sentence-transformers as a ``Dense`` layer, so that both give the
same vectors. The Hugging Face ``transformers`` view of the folder is the encoder alone, without it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from shoestring.artifacts import write_json
from shoestring.errors import ConfigError, InputError
from shoestring.learners.contrastive.config import SimCSEConfig
from shoestring.learners.mlm.estimator import MaskedLM

KIND = "sentence-encoder"
WHITENING = "whitening.safetensors"
log = logging.getLogger(__name__)


class SentenceEncoder(MaskedLM):
    """A SimCSE sentence encoder (see the module docstring). Parameters: :class:`SimCSEConfig`'s fields and
    ``init_from``. A :class:`MaskedLM` in every other respect (``model_``, ``tokenizer_``, ``transform``)."""

    kind = KIND
    config_class = SimCSEConfig
    extra_params = ("init_from",)
    reads_kinds = (KIND,)

    def _start(self):
        if self.init_from is None:
            raise ConfigError("SimCSE starts from a pre-trained BERT: give init_from= (--init-from)",
                              hint="a `shoestring pretrain mlm` folder or a BERT-family checkpoint such as "
                                   "all-MiniLM-L6-v2; from random weights SimCSE does not learn")
        if isinstance(self.init_from, MaskedLM):
            return self.init_from
        path = Path(self.init_from)
        from shoestring.artifacts import read_manifest

        if (path / "manifest.json").exists() and read_manifest(path, verify=False).get("kind") == KIND:
            return SentenceEncoder.from_pretrained(path)
        return MaskedLM.from_pretrained(path)

    def fit(self, texts=None, y=None, *, pairs=None, dev=None, checkpoint_dir=None, resume: bool = False,
            callbacks=None) -> "SentenceEncoder":
        """Unsupervised SimCSE on ``texts`` (split as ``split`` says), or supervised on ``pairs``: rows of
        (anchor, positive) or (anchor, positive, hard negative). ``dev``: (sentences1, sentences2, gold scores)
        of an STS split to select the best step by Spearman (every ``eval_every`` steps). With ``whiten``, the
        whitening is then estimated on a sample of the training texts."""
        import copy

        from shoestring.data.sentences import split_texts
        from shoestring.learners.contrastive.simcse import SimCSELearner
        from shoestring.training.seed import seed_everything

        c = self.config
        if (texts is None) == (pairs is None):
            raise InputError("give texts (unsupervised SimCSE) or pairs (supervised), not both or neither")
        start = self._start()
        if c.whiten and c.whiten_dims is not None and c.whiten_dims > start.model_.sizes["hidden"]:
            raise ConfigError(f"--whiten-dims {c.whiten_dims} is more than the encoder's "
                              f"{start.model_.sizes['hidden']} dimensions")
        seed_everything(c.seed)
        self.whitening_ = None
        self.tokenizer_, self.special_ = start.tokenizer_, start.special_
        self.model_ = copy.deepcopy(start.model_).train()
        rng = np.random.default_rng(c.seed)
        if pairs is None:
            units = split_texts(texts, c.split, window=c.window)
            if c.max_texts and len(units) > c.max_texts:
                units = [units[i] for i in sorted(rng.choice(len(units), c.max_texts, replace=False))]
            if len(units) < 2:
                raise InputError(f"{len(units)} training text(s) after --split {c.split}: SimCSE needs at least two")
            rows = self._encode_texts(units, c.seq_len)
            mode = "unsupervised"
        else:
            pairs = [tuple(p) for p in pairs]
            widths = {len(p) for p in pairs}
            if not pairs or widths - {2, 3} or len(widths) > 1:
                raise InputError("supervised rows must all be (anchor, positive) or all (anchor, positive, "
                                 f"negative); got widths {sorted(widths)}" if pairs else "no pairs given")
            cols = [self._encode_texts([p[k] for p in pairs], c.seq_len)
                    for k in range(widths.pop())]
            rows = list(zip(*cols))
            units = pairs
            mode = "supervised"
        if len(rows) < 2:
            raise InputError("SimCSE needs at least two training rows")
        texts_seen = units if pairs is None else [t for p in pairs for t in p]
        sample = [texts_seen[i] for i in sorted(rng.choice(len(texts_seen), min(c.whiten_texts, len(texts_seen)),
                                                           replace=False))] if c.whiten else []
        run = c
        if len(rows) < c.batch_size:
            log.warning("%d training rows, fewer than --batch-size %d: using batches of %d", len(rows),
                        c.batch_size, len(rows))
            run = c.replace(batch_size=len(rows) - len(rows) % c.grad_accum or c.grad_accum)
        dev_data = None
        if dev is not None:
            s1, s2, gold = dev
            dev_data = (list(s1), list(s2), np.asarray(gold, dtype=np.float64),
                        (lambda t: self._whitened(t, sample)) if c.whiten else self.transform)
        learner = SimCSELearner(self.model_, rows, run, self.special_.pad, dev=dev_data)
        signature = {"mode": mode, "rows": len(rows), "sizes": dict(self.model_.sizes),
                     "init_from": str(self.init_from), "split": c.split, "seq_len": c.seq_len}
        state = self._run(learner, run, callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume,
                          signature=signature)
        self.model_ = self.model_.cpu().eval()
        if c.whiten:
            self.whitening_ = self._fit_whitening(sample)
        self.training_.update(origin=f"{mode} SimCSE from {self._origin()}", mode=mode, training_rows=len(rows),
                              tokens=state.tokens, texts_per_second=round(
                                  state.step * run.batch_size * (1 if mode == "supervised" else 2)
                                  / max(state.elapsed, 1e-9), 1), batch_size=run.batch_size)
        if c.whiten:
            self.training_.update(whitening_texts=len(sample), whitened_dims=int(self.whitening_[1].shape[1]))
        self.data_ = {"rows": len(rows), "mode": mode, "split": c.split}
        return self

    # ------------------------------------------------------------------ whitening
    def _pooled(self, texts, batch_size: int = 64, max_len: int | None = None, pooling: str | None = None,
                precision: str = "fp32"):
        return super().transform(texts, batch_size=batch_size, max_len=max_len or self.config.seq_len,
                                 pooling=pooling or self.config.pooling, precision=precision)

    def _fit_whitening(self, sample) -> tuple[np.ndarray, np.ndarray]:
        from shoestring.learners.contrastive.whitening import fit_whitening

        if len(sample) <= self.model_.sizes["hidden"]:
            log.warning("whitening estimated on %d texts, no more than the %d dimensions: the covariance is "
                        "singular and some directions stay unscaled; more training texts (--whiten-texts) help",
                        len(sample), self.model_.sizes["hidden"])
        return fit_whitening(self._pooled(sample), self.config.whiten_dims)

    def _whitened(self, texts, sample):
        """Dev-split vectors under a whitening estimated now (the encoder is still training)."""
        from shoestring.learners.contrastive.whitening import whiten

        return whiten(self._pooled(texts), *self._fit_whitening(sample))

    def _origin(self) -> str:
        return type(self.init_from).__name__ if isinstance(self.init_from, MaskedLM) else str(self.init_from)

    def transform(self, texts, *, batch_size: int = 64, max_len: int | None = None, pooling: str | None = None,
                  precision: str = "fp32"):
        """Sentence vectors (n x H, or n x ``whiten_dims``), pooled as the model was trained (``pooling``
        overrides) and whitened if it was fitted with ``whiten``; ``precision`` as in
        :meth:`MaskedLM.transform`."""
        whitening = getattr(self, "whitening_", None)
        if whitening is not None and pooling not in (None, self.config.pooling):
            raise ConfigError(f"this encoder's whitening was estimated on {self.config.pooling}-pooled vectors, "
                              f"not {pooling}-pooled ones", hint="leave pooling at the model's own")
        X = self._pooled(texts, batch_size, max_len, pooling, precision)
        if whitening is None:
            return X
        from shoestring.learners.contrastive.whitening import whiten

        return whiten(X, *whitening)

    @property
    def dim(self) -> int:
        self._check_fitted()
        w = getattr(self, "whitening_", None)
        return self.model_.sizes["hidden"] if w is None else int(w[1].shape[1])

    # ------------------------------------------------------------------ saving
    def _save_files(self, tmp: Path) -> None:
        from safetensors.torch import save_file

        from shoestring.data.tokens import save_hf_tokenizer
        from shoestring.learners.contrastive.export import write_sentence_transformers
        from shoestring.learners.mlm.export import export_state_dict, hf_config

        m = self.model_
        write_json(tmp / "config.json", hf_config(m, pad_token_id=self.special_.pad))
        save_file(export_state_dict(m), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_hf_tokenizer(self.tokenizer_, tmp, model_max_length=m.sizes["positions"])
        w = getattr(self, "whitening_", None)
        if w is not None:
            from safetensors.numpy import save_file as save_arrays

            save_arrays({"mean": w[0], "matrix": w[1]}, str(tmp / WHITENING))
        write_sentence_transformers(tmp, dim=m.sizes["hidden"], pooling=self.config.pooling,
                                    max_seq_length=self.config.seq_len, whitening=w)

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        super()._load_files(path, meta, manifest)
        self.whitening_ = None
        if (path / WHITENING).exists():
            from safetensors.numpy import load_file

            w = load_file(str(path / WHITENING))
            self.whitening_ = (w["mean"], w["matrix"])

    def _config_extras(self) -> dict:
        return {"model_type": "sentence-encoder", "init_from": self._origin() if self.init_from is not None else None}

    def _card(self) -> dict:
        s, t = self.model_.sizes, getattr(self, "training_", {})
        return dict(
            title="Sentence encoder (SimCSE, shoestring)",
            summary=f"A BERT encoder (L = {s['layers']}, H = {s['hidden']}, {self.model_.num_parameters():,} "
                    f"parameters) trained with {t.get('origin', 'SimCSE')}: {self.config.pooling} pooling, "
                    f"temperature {self.config.temperature:g}, texts cut at {self.config.seq_len} tokens"
                    + ("" if getattr(self, "whitening_", None) is None else
                       f", then whitened to {self.dim} dimensions on {t.get('whitening_texts')} training texts "
                       f"({WHITENING}; a Dense layer in the sentence-transformers view, absent from the bare "
                       "transformers one)") + ". Compare sentences by the cosine of their vectors.",
            usage="```python\nfrom sentence_transformers import SentenceTransformer\n"
                  "model = SentenceTransformer('.')\nmodel.encode(['A sentence.', 'Another one.'])\n```\n\n"
                  "or with shoestring: `shoestring.load('.').transform(texts)`, `shoestring embed . texts.jsonl`",
            data=getattr(self, "data_", None), metrics={k.replace("_", " "): v for k, v in t.items()})

    @classmethod
    def from_pretrained(cls, path) -> "SentenceEncoder":

        return super(MaskedLM, cls).from_pretrained(path)  # a shoestring folder only (no HF-folder fallback)
