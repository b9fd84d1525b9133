"""``MaskedLM``: pre-train a compact BERT on domain text, from scratch or from a BERT checkpoint, and export it
as a folder that Hugging Face ``transformers`` loads without shoestring.

Example::

    from shoestring import MaskedLM
    from shoestring.data.tokens import TokenCorpus
    corpus = TokenCorpus("tokens/news")                 # from `shoestring tokenize`
    lm = MaskedLM(preset="mini", minutes=30, m_corr=0.2, m_pred=0.4, random_state=0).fit(corpus)
    X = lm.transform(["Oil prices rose on Monday ...", ...])   # n x H mean-pooled features
    lm.save_pretrained("models/news-mini")
    # elsewhere: transformers.AutoModelForMaskedLM.from_pretrained("models/news-mini")

Continued pre-training (BioBERT-style) starts from a checkpoint instead of a preset; the corpus must have been
tokenized with that checkpoint's tokenizer (``shoestring tokenize --tokenizer CHECKPOINT``)::

    lm = MaskedLM(init_from="path/to/bert-checkpoint", minutes=30).fit(TokenCorpus("tokens/news-bert"))
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from shoestring.artifacts import write_json
from shoestring.errors import ArtifactError, InputError
from shoestring.training.seed import seed_everything
from shoestring.estimator import Estimator
from shoestring.learners.mlm.config import MLMConfig

KIND = "mlm"
log = logging.getLogger(__name__)


def _round_up(n: int, multiple: int = 64) -> int:
    return -(-n // multiple) * multiple


class MaskedLM(Estimator):
    """A compact BERT pre-trained with masked-LM. Parameters are :class:`MLMConfig`'s fields; ``init_from``
    names a BERT-family checkpoint folder to continue from; ``random_state`` is an alias of ``seed``.

    Learned state: ``model_`` (:class:`~shoestring.learners.mlm.model.CompactBert`), ``tokenizer_``,
    ``special_``, ``history_``, ``training_`` (tokens/s, steps, stop reason, best validation loss).
    """

    kind = KIND
    config_class = MLMConfig
    extra_params = ("init_from",)
    reads_kinds = (KIND, "bert-classifier")  # a fine-tuned classifier's encoder reads as a masked LM

    # ------------------------------------------------------------------ building
    def _build(self, corpus):
        from shoestring.data.tokens import load_tokenizer
        from shoestring.learners.mlm.export import load_hf_weights, read_hf_config
        from shoestring.learners.mlm.model import CompactBert

        c = self.config
        seed_everything(c.seed)
        if self.init_from is None:
            s = c.sizes()
            return CompactBert(_round_up(corpus.vocab_size), s["layers"], s["hidden"], s["heads"], s["ffn"],
                               c.max_positions, c.dropout), "from scratch"
        folder = Path(self.init_from)
        hf = read_hf_config(folder)
        if c.seq_len > hf["positions"]:
            raise InputError(f"--seq-len {c.seq_len} exceeds the checkpoint's {hf['positions']} positions",
                             path=folder)
        theirs = None
        try:
            theirs = load_tokenizer(folder)
        except InputError:
            pass
        if theirs is not None and theirs.get_vocab() != corpus.tokenizer.get_vocab():
            raise InputError("the corpus was tokenized with another tokenizer than the checkpoint's "
                             f"({corpus.vocab_size} vs {theirs.get_vocab_size()} tokens)", path=corpus.path,
                             hint=f"re-run `shoestring tokenize ... --tokenizer {folder}`")
        if corpus.vocab_size > hf["vocab"]:
            raise InputError(f"the corpus's tokenizer has {corpus.vocab_size} tokens but the checkpoint's model "
                             f"only {hf['vocab']} embeddings", path=folder,
                             hint=f"tokenize with the checkpoint's tokenizer: --tokenizer {folder}")
        model = CompactBert(hf["vocab"], hf["layers"], hf["hidden"], hf["heads"], hf["ffn"], hf["positions"],
                            c.dropout)
        info = load_hf_weights(model, folder)
        head = "with its MLM head" if not any(k.startswith("cls.") for k in info["missing"]) else \
            "new MLM head"
        return model, f"continued from {folder} ({head})"

    # ------------------------------------------------------------------ training
    def fit(self, corpus, y=None, *, checkpoint_dir=None, resume: bool = False, callbacks=None) -> "MaskedLM":
        from shoestring.data.tokens import TokenCorpus
        from shoestring.learners.mlm.learner import MLMLearner

        if isinstance(corpus, (str, Path)):
            corpus = TokenCorpus(corpus)
        c = self.config
        model, origin = self._build(corpus)
        learner = MLMLearner(model, corpus, c)
        if learner.n_examples == 0:
            raise InputError(f"the corpus's {corpus.n_tokens:,} training tokens ({corpus.n_docs} documents) are too "
                             f"few for one sequence of --seq-len {c.seq_len}", path=corpus.path,
                             hint="add text or lower --seq-len")
        if learner.n_examples < c.batch_size:
            # a smaller batch than asked: say so, do not fail (tiny corpora are for trying things out); the
            # settings the user gave stay as given, the batch this run used is in training_
            small = max(c.grad_accum, learner.n_examples // c.grad_accum * c.grad_accum)
            log.warning("the corpus packs into %d sequences of %d tokens, fewer than --batch-size %d: using batches "
                        "of %d", learner.n_examples, c.seq_len, c.batch_size, small)
            c = c.replace(batch_size=small)
            learner.config = c
        # what --resume must find unchanged: the data and the shapes
        signature = {"inputs": [i.get("sha256") for i in corpus.manifest.get("inputs", [])],
                     "vocab_size": corpus.vocab_size, **{k: v for k, v in corpus.counts.items()
                                                         if k.endswith(("_documents", "_tokens"))},
                     "packed_sequences": learner.n_examples, "sizes": dict(model.sizes), "seq_len": c.seq_len,
                     "objective": c.objective, "init_from": None if self.init_from is None else str(self.init_from)}
        state = self._run(learner, c, callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume,
                          signature=signature)
        self.model_ = model.cpu().eval()
        # what save_pretrained writes, and the objective's fitted attributes (ELECTRA: discriminator_head_)
        self.export_ = learner.objective.export(learner.model)
        for name, value in self.export_.attributes.items():
            setattr(self, name, value)
        self.tokenizer_ = corpus.tokenizer
        self.special_ = corpus.special
        self.training_.update(
            origin=origin, epochs=round(state.epoch + state.batch / max(state.steps_per_epoch, 1), 3),
            tokens=state.tokens, tokens_per_second=round(state.tokens / max(state.elapsed, 1e-9)),
            best_valid_loss=state.best, best_at_epoch=state.best_epoch, parameters=model.num_parameters(),
            batch_size=c.batch_size, **learner.objective.record)
        self.data_ = {"corpus": str(corpus.path), **corpus.counts, "sequence_length": c.seq_len,
                      "packed_sequences": learner.n_examples}
        return self

    # ------------------------------------------------------------------ using it
    def _encode_texts(self, texts, max_len: int):
        sp = self.special_
        ids = []
        for enc in self.tokenizer_.encode_batch(list(texts), add_special_tokens=False):
            ids.append([sp.cls, *enc.ids[: max_len - 2], sp.sep])
        return ids

    @property
    def dim(self) -> int:
        """Width of :meth:`transform`'s features (H)."""
        self._check_fitted()
        return self.model_.sizes["hidden"]

    def transform(self, texts, *, batch_size: int = 64, max_len: int | None = None,
                  pooling: str = "mean", precision: str = "fp32") -> np.ndarray:
        """Document features (n x H): the mean of the last layer's token states (``pooling="mean"``) or the
        [CLS] state (``"cls"``). Texts longer than ``max_len`` tokens (default: the training sequence length)
        are cut. ``precision``: ``"bf16"`` or ``"auto"`` runs the matrix products in bfloat16
        (:mod:`~shoestring.training.precision`: 1.75x as fast where the CPU has AVX512-BF16, vectors at cosine
        0.99997 or more to float32's)."""
        import torch

        from shoestring.learners.mlm.model import mean_pool, padded_batches
        from shoestring.training.precision import autocast

        self._check_fitted()
        max_len = max_len or self.config.seq_len
        ids = self._encode_texts(texts, max_len)
        out = np.zeros((len(ids), self.model_.sizes["hidden"]), np.float32)
        device = next(self.model_.parameters()).device  # the CPU, or the GPU a caller moved the model to
        with torch.inference_mode(), autocast(precision, device):
            for chunk, batch, pad in padded_batches(ids, self.special_.pad, batch_size):
                batch, pad = batch.to(device), pad.to(device)
                h = self.model_.encode(batch, pad=pad)
                out[chunk] = (h[:, 0] if pooling == "cls" else mean_pool(h, pad)).float().cpu().numpy()
        return out

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path, *, overwrite: bool = False) -> Path:
        """A Hugging Face ``BertForMaskedLM`` folder (config.json, model.safetensors, tokenizer files; an
        ``ElectraForPreTraining`` one after ELECTRA) plus shoestring's config, training log, model card and
        manifest."""
        return super().save_pretrained(path, overwrite=overwrite)

    def _export(self):
        from shoestring.learners.mlm.objectives import get_objective

        # the fitted objective decides the export; an encoder alone (from_pretrained) is exported as its
        # objective exports one (a masked-LM BERT, but for the continuous objective, which trains no MLM head)
        return getattr(self, "export_", None) or get_objective(self.config.objective, self.config).export(None)

    def _save_files(self, tmp: Path) -> None:
        from safetensors.torch import save_file

        from shoestring.data.tokens import save_hf_tokenizer
        from shoestring.learners.mlm.export import hf_config

        m, ex = self.model_, self._export()
        write_json(tmp / "config.json", hf_config(m, pad_token_id=self.special_.pad, kind=ex.hf_config))
        save_file(ex.state_dict(m), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_hf_tokenizer(self.tokenizer_, tmp, model_max_length=m.sizes["positions"])

    def _config_extras(self) -> dict:
        return {"model_type": "compact-bert", "init_from": None if self.init_from is None else str(self.init_from)}

    def _card(self) -> dict:
        m, ex, c, t = self.model_, self._export(), self.config, getattr(self, "training_", {})
        s = m.sizes
        return dict(
            title="Compact BERT pre-trained with " + ex.title,
            summary=f"A BERT encoder with L = {s['layers']} layers, H = {s['hidden']}, {s['heads']} heads, FFN "
                    f"{s['ffn']} and a {s['vocab']}-row vocabulary ({m.num_parameters():,} parameters), pre-trained "
                    f"with shoestring ({t.get('origin', '')}): {ex.description}, {c.masking} masking, sequences of "
                    f"{c.seq_len} tokens.",
            usage="```python\nfrom transformers import AutoModel, AutoTokenizer\n"
                  "tok = AutoTokenizer.from_pretrained('.')\nmodel = AutoModel.from_pretrained('.')\n```\n\n"
                  + ex.usage + "\n\nor with shoestring: `shoestring.load('.').transform(texts)`",
            data=getattr(self, "data_", None), metrics={k.replace("_", " "): v for k, v in t.items()})

    @classmethod
    def from_pretrained(cls, path) -> "MaskedLM":
        """Load a folder saved by :meth:`save_pretrained` (or a fine-tuned classifier's encoder), or any
        BERT-family Hugging Face checkpoint folder (weights in safetensors) with its tokenizer."""
        from shoestring.artifacts import read_manifest

        path = Path(path)
        if (path / "manifest.json").exists():
            if read_manifest(path, cls.reads_kinds, verify=False)["kind"] == KIND:  # checked in full below
                return super().from_pretrained(path)
            # a fine-tuned classifier's folder: its encoder and tokenizer, under the default pre-training settings
            read_manifest(path, cls.reads_kinds)
        self = cls()
        self._load_files(path, {}, {})
        return self

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        from shoestring.data.tokens import load_tokenizer, special_ids
        from shoestring.learners.mlm.export import load_hf_weights, read_hf_config
        from shoestring.learners.mlm.model import CompactBert

        hf = read_hf_config(path)
        model = CompactBert(hf["vocab"], hf["layers"], hf["hidden"], hf["heads"], hf["ffn"], hf["positions"])
        load_hf_weights(model, path)
        self.model_ = model.eval()
        self.tokenizer_ = load_tokenizer(path)
        self.special_ = special_ids(self.tokenizer_)
        if self.tokenizer_.get_vocab_size() > hf["vocab"]:
            raise ArtifactError(f"the tokenizer has {self.tokenizer_.get_vocab_size()} tokens but the model only "
                                f"{hf['vocab']} embeddings: they do not belong together", path=path)
