"""``VAMPIRE``: the scikit-learn-style estimator around the VAE, with Hugging-Face-style saving.

Example::

    from shoestring import VAMPIRE
    vae = VAMPIRE(latent_dim=81, random_state=0).fit("prepared/news")   # a folder from `shoestring prepare`
    X = vae.transform(["Oil prices rose on Monday ...", ...])          # n x 81 document representations
    for t in vae.topic_table(): print(t["npmi"], t["words"])
    vae.save_pretrained("models/news-vampire")
    vae = VAMPIRE.from_pretrained("models/news-vampire")

``fit`` also accepts a list of texts (prepared on the fly with default settings) or a
:class:`~shoestring.data.bow.BowCorpus`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shoestring.artifacts import write_json
from shoestring.data.bow import BowCorpus, vectorize
from shoestring.data.tokenizer import Tokenizer, TokenizerConfig
from shoestring.data.vocab import Vocabulary
from shoestring.errors import ArtifactError, InputError
from shoestring.estimator import Estimator
from shoestring.learners.vampire.config import VampireConfig
from shoestring.training.seed import seed_everything


class VAMPIRE(Estimator):
    """Bag-of-words VAE pre-training; ``transform`` gives the VAMPIRE document representation.

    Parameters are :class:`VampireConfig`'s fields (``latent_dim``, ``batch_size``, ``minutes``, ...);
    ``random_state`` is an alias of ``seed``. Learned state: ``model_``, ``vocab_``, ``history_``, ``npmi_``,
    and ``reference_`` (the held-out documents NPMI is scored on) with their ``reference_labels_``.
    """

    kind = "vampire"
    config_class = VampireConfig

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None, *, checkpoint_dir=None, resume: bool = False, callbacks=None) -> "VAMPIRE":
        import torch

        from shoestring.learners.vampire.learner import VampireLearner
        from shoestring.learners.vampire.model import VampireVAE

        corpus = self._as_corpus(X)
        if corpus.train.shape[0] < 2:
            raise InputError(f"VAMPIRE needs at least 2 training documents, got {corpus.train.shape[0]} (its decoder "
                             "batch-norm normalizes over a batch)", path=corpus.path, hint="give it more text")
        c = self.config
        if len(corpus.vocab) < max(2, c.npmi_top_n):
            raise InputError(f"the vocabulary has {len(corpus.vocab)} word(s): too few for topics of "
                             f"{c.npmi_top_n} words (npmi_top_n)", path=corpus.path,
                             hint="prepare the corpus with a larger --max-vocab or a lower --min-df")
        seed_everything(c.seed)
        model = VampireVAE(c, len(corpus.vocab), torch.from_numpy(corpus.background))
        learner = VampireLearner(model, corpus.train, corpus.reference, c)
        # what --resume must find unchanged: the data and the shapes
        signature = {"inputs": [i.get("sha256") for i in corpus.manifest.get("inputs", [])],
                     "vocabulary": len(corpus.vocab), "vocabulary_fingerprint": corpus.vocab.fingerprint(),
                     "train_documents": int(corpus.train.shape[0]), "latent_dim": c.latent_dim,
                     "hidden_dims": c.encoder_dims, "posterior_bn": c.posterior_bn}
        state = self._run(learner, callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume,
                          signature=signature)
        self.model_ = model.cpu().eval()
        self.vocab_ = corpus.vocab
        self.tokenizer_config_ = corpus.tokenizer_config
        self.npmi_ = state.best
        self.data_ = {"corpus": str(corpus.path) if corpus.path else "(in memory)",
                      **{k: v for k, v in corpus.manifest.get("counts", {}).items()
                         if k in ("train_documents", "reference_documents", "vocabulary", "train_tokens")},
                      "inputs": ", ".join(i["path"] for i in corpus.manifest.get("inputs", []))}
        self.reference_ = corpus.reference
        self.reference_labels_ = corpus.labels.get("reference")
        return self

    @staticmethod
    def _as_corpus(X) -> BowCorpus:
        if isinstance(X, BowCorpus):
            return X
        if isinstance(X, (str, Path)):
            return BowCorpus.load(X)
        if isinstance(X, (list, tuple)) and (not X or isinstance(X[0], str)):
            from shoestring.data.prepare import prepare

            with tempfile.TemporaryDirectory() as tmp:
                corpus = prepare(list(X) and _texts_file(X, Path(tmp)), Path(tmp) / "corpus", progress=False)
                corpus.path = None
                return corpus
        raise InputError("fit() takes a prepared corpus folder, a BowCorpus, or a list of texts")

    # ------------------------------------------------------------------ using it
    @property
    def dim(self) -> int:
        """Width of :meth:`transform`'s vectors."""
        self._check_fitted()
        return self.embedder().dim

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.tokenizer_config_)

    def vectorize(self, texts) -> sp.csr_matrix:
        """Word counts of ``texts`` over this model's vocabulary (words outside it are ignored)."""
        self._check_fitted()
        return vectorize(texts, self.tokenizer, self.vocab_)

    def embedder(self, dropout: float = 0.0):
        """A fresh :class:`VampireEmbedder` sharing this model's VAE (for a classifier to freeze or fine-tune)."""
        from shoestring.learners.vampire.model import VampireEmbedder

        self._check_fitted()
        return VampireEmbedder(self.model_, dropout)

    def _counts(self, X) -> sp.csr_matrix:
        Xc = self.vectorize(X) if isinstance(X, (list, tuple)) else sp.csr_matrix(X, dtype=np.float32)
        if Xc.shape[1] != len(self.vocab_):
            raise InputError(f"the count matrix has {Xc.shape[1]} columns but the vocabulary has {len(self.vocab_)}")
        return Xc

    def _batched(self, X, fn, width: int, batch_size: int) -> np.ndarray:
        """Apply ``fn(indices, offsets, weights) -> tensor`` to batches of documents (texts or counts)."""
        import torch

        from shoestring.learners.vampire.learner import bags

        self._check_fitted()
        Xc = self._counts(X)
        out = np.empty((Xc.shape[0], width), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, Xc.shape[0], batch_size):
                out[s:s + batch_size] = fn(*bags(Xc[s:s + batch_size], "cpu")[:3]).numpy()
        return out

    def transform(self, X, batch_size: int = 4096) -> np.ndarray:
        """The VAMPIRE representation (n x K) of texts (a list of str) or of a count matrix (n x V).

        It is the scalar mix of the encoder layers and theta at its initial weights, softmax([1, -20, 1]);
        a classifier trained with ``shoestring train classifier`` learns its own mix."""
        self._check_fitted()
        emb = self.embedder().eval()
        return self._batched(X, emb, emb.dim, batch_size)

    def theta(self, X, batch_size: int = 4096) -> np.ndarray:
        """Document-topic proportions theta = softmax(mu) (n x K)."""
        import torch

        self._check_fitted()
        return self._batched(X, lambda *b: torch.softmax(self.model_.encode(*b)[1], -1), self.config.latent_dim,
                             batch_size)

    def topics(self, top_n: int = 10) -> list[list[str]]:
        self._check_fitted()
        return [[self.vocab_.tokens[i] for i in t] for t in self.model_.topics(top_n)]

    def topic_table(self, reference: sp.spmatrix | None = None, top_n: int = 10) -> list[dict]:
        """Per topic: id, top words, NPMI on the reference documents, and size (share of the reference
        documents whose dominant topic it is)."""
        from shoestring.evaluation.npmi import topic_npmi

        self._check_fitted()
        ref = reference if reference is not None else getattr(self, "reference_", None)
        ids = self.model_.topics(top_n)
        npmi = topic_npmi(ids, ref) if ref is not None else np.full(len(ids), np.nan)
        size = np.full(len(ids), np.nan)
        if ref is not None and ref.shape[0]:
            dom = self.theta(ref).argmax(1)
            size = np.bincount(dom, minlength=len(ids)) / len(dom)
        return [{"id": k, "words": [self.vocab_.tokens[i] for i in t], "npmi": float(npmi[k]), "size": float(size[k])}
                for k, t in enumerate(ids)]

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path, *, overwrite: bool = False, reference: sp.spmatrix | None = None) -> Path:
        """Write a self-describing folder: shoestring_config.json, model.safetensors, vocab.json, tokenizer.json,
        reference.npz (for NPMI later), topics.json, training_log.json, README.md, manifest.json.
        ``reference``: score NPMI on these documents instead of the training corpus's reference split."""
        return super().save_pretrained(path, overwrite=overwrite, reference=reference)

    def _save_files(self, tmp: Path, reference=None) -> None:
        from safetensors.torch import save_file

        from shoestring.evaluation.npmi import topic_diversity

        ref = reference if reference is not None else getattr(self, "reference_", None)
        table = self.topic_table(ref)
        npmi = float(np.nanmean([t["npmi"] for t in table])) if ref is not None else None
        self._card_table = (table, npmi, topic_diversity(self.model_.topics(25)))
        save_file({k: v.contiguous() for k, v in self.model_.state_dict().items()}, str(tmp / "model.safetensors"),
                  metadata={"format": "pt", "model_type": "vampire"})
        self.vocab_.save(tmp / "vocab.json")
        write_json(tmp / "tokenizer.json", self.tokenizer_config_.to_dict())
        if ref is not None:
            sp.save_npz(tmp / "reference.npz", sp.csr_matrix(ref))
        write_json(tmp / "topics.json", {"npmi": npmi, "diversity": self._card_table[2], "topics": table})
        labels = getattr(self, "reference_labels_", None)
        if ref is not None and reference is None and labels and any(x is not None for x in labels):
            write_json(tmp / "reference_labels.json", labels)

    def _config_extras(self) -> dict:
        return {"vocab_size": len(self.vocab_)}

    def _card(self, reference=None) -> dict:
        table, npmi, diversity = self._card_table
        metrics = {"NPMI (reference split, top 10)": npmi, "topic diversity (top 25)": diversity,
                   **{k.replace("_", " "): v for k, v in getattr(self, "training_", {}).items()}}
        lines = "\n".join(f"| {t['id']} | {t['npmi']:.3f} | {' '.join(t['words'])} |"
                          for t in sorted(table, key=lambda t: -np.nan_to_num(t["npmi"], nan=-9))[:20])
        return dict(
            title="VAMPIRE document representation",
            summary="A bag-of-words variational auto-encoder (Gururangan et al., ACL 2019) pre-trained with "
                    f"shoestring. K = {self.config.latent_dim} latent dimensions over a vocabulary of V = "
                    f"{len(self.vocab_)} words.",
            usage="```python\nimport shoestring\nvae = shoestring.load('.')\nX = vae.transform(['some text'])\n"
                  "```\n\nor `shoestring topics .` / `shoestring embed . texts.jsonl -o vectors.npy`",
            data=getattr(self, "data_", None), metrics=metrics,
            extra="## Top topics by NPMI\n\n| topic | NPMI | top words |\n|---|---|---|\n" + lines)

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        import torch
        from safetensors.torch import load_file

        from shoestring.learners.vampire.model import VampireVAE

        self.vocab_ = Vocabulary.load(path / "vocab.json")
        if len(self.vocab_) != meta["vocab_size"]:
            raise ArtifactError("vocab.json does not match the saved config's vocab_size", path=path)
        self.tokenizer_config_ = TokenizerConfig.from_json(path / "tokenizer.json")
        model = VampireVAE(self.config, len(self.vocab_))
        try:
            model.load_state_dict(load_file(str(path / "model.safetensors")))
        except RuntimeError as e:
            raise ArtifactError(f"model.safetensors does not fit the config: {e}", path=path) from None
        self.model_ = model.eval()
        self.npmi_ = json.loads((path / "topics.json").read_text(encoding="utf-8"))["npmi"]
        if (path / "reference.npz").exists():
            self.reference_ = sp.load_npz(path / "reference.npz").tocsr()
        if (path / "reference_labels.json").exists():
            self.reference_labels_ = json.loads((path / "reference_labels.json").read_text(encoding="utf-8"))
        torch.set_grad_enabled(True)


def _texts_file(texts, folder: Path) -> Path:
    p = folder / "texts.jsonl"
    with open(p, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    return p
