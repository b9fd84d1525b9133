"""``LanguageModel``: a word-level bidirectional LSTM LM (ELMo) with a choice of output layer, ELMo-C's continuous
output by default, as a scikit-learn-style estimator and an :class:`~shoestring.estimator.Embedder`.

Example::

    from shoestring.learners.lm.estimator import LanguageModel
    lm = LanguageModel(output_layer="continuous", loss="cosine", targets="domain", minutes=10,
                       random_state=0).fit(texts)             # a list of strings (or a path, or a list of Paths)
    X = lm.transform(["Oil prices rose on Monday ...", ...])   # n x lm.dim: mean contextual state per text
    lm.predict_words("Oil prices rose on Monday.")[3]           # ('on', ['on', 'wednesday', 'tuesday', ...]):
                                                                # the nearest next words (1 minute on AG News)
    lm.save_pretrained("models/news-lm")                        # shoestring.load("models/news-lm") reopens it

or ``shoestring pretrain lm texts.jsonl -o models/news-lm --minutes 10``, then ``shoestring embed models/news-lm
texts.jsonl -o X.npy``. Which output layer: :mod:`shoestring.learners.lm.outputs`; the model:
:mod:`shoestring.learners.lm.model`; the data: :mod:`shoestring.learners.lm.data`.

``transform`` reads each sentence of a text on its own (ELMo's unit; the LSTMs then run over about as many tokens
as the training windows hold, 35 by default) and pools ELMo's representation layers over the text's word tokens
(``</s>`` markers excluded): ``concat`` [x_t; →h_t^L; ←h_t^L] (E + 2h wide, the default), ``top``
[→h_t^L; ←h_t^L] (2h), or ``mix``, the mean of all L + 1 layers with x_t duplicated to 2h (ELMo's scalar mix at its
initial, equal weights). A text with no words gets a zero vector. The few-label recipe's ``EmbeddingView``, STS
and active learning L2-normalize rows themselves (``embed`` writes them as they are); ``transform(texts,
normalize=True)`` normalizes here.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from shoestring.artifacts import write_json
from shoestring.data.tokenizer import WORD_TOKENIZER, Tokenizer, TokenizerConfig
from shoestring.data.vocab import Vocabulary
from shoestring.errors import ArtifactError, InputError
from shoestring.estimator import Estimator
from shoestring.learners.lm.config import LMConfig
from shoestring.training.seed import seed_everything

KIND = "lm"
log = logging.getLogger(__name__)

_LAYER_NAMES = {"full": "full softmax", "adaptive": "adaptive softmax (Grave et al. 2017)",
                "sampled": "sampled softmax (Jean et al. 2015)",
                "continuous": "continuous output (ELMo-C, Li et al. 2019)"}


class LanguageModel(Estimator):
    """A bidirectional LSTM language model; ``transform`` gives one vector per text.

    Parameters are :class:`~shoestring.learners.lm.config.LMConfig`'s fields; ``random_state`` is an alias of
    ``seed``. ``target_embeddings``: a :class:`~shoestring.learners.lm.targets.TargetEmbeddings` to use as the
    continuous output's targets instead of ``targets`` (e.g. ``TargetEmbeddings(tokens, vectors)`` of your own
    vectors; its width must equal ``targets_dim`` when that is set; ``center_targets`` does not apply to it: pass
    ``center=True`` to it instead).

    Learned state: ``model_`` (:class:`~shoestring.learners.lm.model.BiLM`), ``vocab_`` (frequency-sorted, with
    ``<unk>`` and ``</s>``), ``tokenizer_config_``, ``targets_`` (where the target embeddings came from),
    ``history_``, ``training_`` (tokens/s, trainable parameters by part, the best evaluation's metrics).
    """

    kind = KIND
    config_class = LMConfig
    extra_params = ("target_embeddings",)

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None, *, checkpoint_dir=None, resume: bool = False, callbacks=None) -> "LanguageModel":
        """Train on ``X``: a list of texts, or a path (``str``/``Path``) or list of ``Path``s of text files in any
        format ``shoestring prepare`` reads. ``y`` is ignored.

        The continuous output's targets are fitted first (domain vectors: seconds; FastText: minutes); the
        ``minutes`` budget counts the training that follows, and ``training_`` records both times."""
        from shoestring.learners.lm.data import prepare
        from shoestring.learners.lm.learner import LMLearner
        from shoestring.learners.lm.model import build_model

        c = self.config
        texts = _as_texts(X)
        t0 = time.perf_counter()
        data = prepare(texts, max_vocab=c.max_vocab, min_count=c.min_count, seq_len=c.seq_len,
                       valid_fraction=c.valid_fraction, seed=c.seed)
        t_data = time.perf_counter() - t0
        table, self.targets_ = None, None
        if c.output_layer == "continuous":
            table, self.targets_ = self._target_table(texts, data)
        seed_everything(c.seed)  # after the targets: the model starts the same whichever were fitted
        model = build_model(c, data.vocab, table)
        learner = LMLearner(model, data, c)
        # what --resume must find unchanged: the data and the shapes
        signature = {"stream": data.fingerprint(), "vocabulary": len(data.vocab),
                     "vocabulary_fingerprint": data.vocab.fingerprint(), "windows": learner.n_examples,
                     "seq_len": c.seq_len, "output_layer": c.output_layer, "sizes": _sizes(c),
                     "targets": None if self.targets_ is None else self.targets_["name"]}
        state = self._run(learner, c, callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume,
                          signature=signature)
        self.model_ = model.cpu().eval()
        self.vocab_ = data.vocab
        self.tokenizer_config_ = WORD_TOKENIZER
        best = next((r for r in state.history if r.get(learner.monitor) == state.best), {})
        self.training_.update(
            output_layer=c.output_layer, tokens=state.tokens,
            tokens_per_second=round(state.tokens / max(state.elapsed, 1e-9)),
            parameters=model.parameter_counts(), validation={k: v for k, v in best.items() if k.startswith("valid_")},
            valid_targets_per_direction=learner.valid_targets, data_seconds=round(t_data, 2),
            **({"targets_seconds": self.targets_["seconds"]} if self.targets_ else {}))
        self.data_ = dict(data.stats)
        return self

    def _target_table(self, texts, data):
        """(the (V, d) target table for ``data``'s vocabulary, a record of where it came from)."""
        from shoestring.learners.lm.targets import TargetEmbeddings

        c = self.config
        t0 = time.perf_counter()
        source, dim = self.target_embeddings, c.targets_dim
        if source is None:
            dim = c.target_dim
            if c.target_source == "domain":
                from shoestring.learners.vectors.ppmi import WordVectors

                try:
                    wv = WordVectors(dim=dim, min_count=c.min_count, max_vocab=c.max_vocab, seed=c.seed).fit(texts)
                except InputError as e:
                    raise InputError(f"the domain target vectors (PPMI-SVD, d = {dim}) cannot be fitted: "
                                     f"{str(e).splitlines()[0]}",
                                     hint="lower --targets-dim or --min-count, give more text, or use --targets "
                                          "fasttext or glove") from None
                source = TargetEmbeddings.from_word_vectors(wv, center=c.center_targets)
            elif c.target_source == "glove":
                source = TargetEmbeddings.from_glove(center=c.center_targets)
            else:  # the LM's own tokens, so every vocabulary word is in FastText's table when it is frequent enough
                source = TargetEmbeddings.from_fasttext(data.documents(), dim=dim, min_count=c.min_count, workers=1,
                                                        random_state=c.seed, center=c.center_targets)
        table = source.build(data.vocab, dim=dim)
        info = {"name": table.name, "dim": int(table.embeddings.shape[1]), "sources": table.counts(),
                "summary": table.summary(), "seconds": round(time.perf_counter() - t0, 2)}
        log.info("target embeddings: %s", info["summary"])
        return table, info

    # ------------------------------------------------------------------ using it
    @property
    def dim(self) -> int:
        """Width of :meth:`transform`'s vectors."""
        c = self.config
        return (c.embedding_dim if c.representation == "concat" else 0) + 2 * c.output_size

    def _sentences(self, texts) -> tuple[list[int], list[list[str]], list[list[int]]]:
        """Every sentence of ``texts``: (the text it belongs to, its tokens ending in ``</s>``, their ids)."""
        from shoestring.learners.lm.data import UNK, tokenize_sentences

        tok = Tokenizer(self.tokenizer_config_)
        index, unk = self.vocab_.index, self.vocab_.index[UNK]
        owners, tokens, ids = [], [], []
        for i, t in enumerate(texts):
            for words in tokenize_sentences(t, tok):
                owners.append(i)
                tokens.append(words)
                ids.append([index.get(w, unk) for w in words])
        return owners, tokens, ids

    def _batches(self, tokens, ids, batch_size: int, *, by_length: bool = True):
        """(rows, padded ids (B, T), lengths, n-gram bags or None) over sequences of tokens, those of similar
        lengths together (less padding) when ``by_length``."""
        import torch

        from shoestring.learners.lm.data import BOUNDARY
        from shoestring.learners.lm.model import ngram_bags

        rows = sorted(range(len(ids)), key=lambda i: len(ids[i])) if by_length else list(range(len(ids)))
        pad = self.vocab_.index[BOUNDARY]
        buckets = self.config.subword_buckets
        for s in range(0, len(rows), batch_size):
            chunk = rows[s:s + batch_size]
            T = max(len(ids[i]) for i in chunk)
            batch = torch.full((len(chunk), T), pad, dtype=torch.long)
            flat = []
            for r, i in enumerate(chunk):
                batch[r, :len(ids[i])] = torch.tensor(ids[i])
                flat += tokens[i] + [BOUNDARY] * (T - len(ids[i]))
            bags = None
            if buckets:  # each token's own n-grams: a word outside the vocabulary is read from them
                indptr, bag_ids = ngram_bags(flat, buckets)
                bags = (torch.from_numpy(bag_ids), torch.from_numpy(indptr[:-1]))
            yield chunk, batch, torch.tensor([len(ids[i]) for i in chunk]), bags

    def _pool(self, layers):
        import torch

        rep = self.config.representation
        if rep == "concat":
            return torch.cat([layers[0], layers[-1]], dim=-1)
        if rep == "top":
            return layers[-1]
        return torch.stack([torch.cat([layers[0], layers[0]], -1)] + layers[1:]).mean(0)

    def transform(self, texts, *, batch_size: int = 64, normalize: bool = False) -> np.ndarray:
        """(n, :attr:`dim`) float32: the mean over each text's word tokens of its contextual representation (see
        the module docstring), each sentence read on its own; rows L2-normalized with ``normalize``."""
        import torch

        from shoestring.learners.lm.data import BOUNDARY

        self._check_fitted()
        if isinstance(texts, str):
            raise InputError("transform() takes a list of texts, not one string", hint="wrap it: [text]")
        texts = list(texts)
        owners, tokens, ids = self._sentences(texts)
        sums = np.zeros((len(texts), self.dim), np.float64)
        counts = np.zeros(len(texts), np.int64)
        boundary = self.vocab_.index[BOUNDARY]
        self.model_.eval()
        with torch.inference_mode():
            for chunk, batch, lengths, bags in self._batches(tokens, ids, batch_size):
                R = self._pool(self.model_.hidden_states(batch, lengths, bags))
                keep = (torch.arange(batch.shape[1])[None, :] < lengths[:, None]) & (batch != boundary)
                rows = np.asarray([owners[i] for i in chunk])
                np.add.at(sums, rows, (R * keep.unsqueeze(-1)).sum(1).double().numpy())
                np.add.at(counts, rows, keep.sum(1).numpy())
        out = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def predict_words(self, text: str, *, direction: str = "forward", k: int = 5) -> list[tuple[str, list[str]]]:
        """For each token of ``text`` (``</s>`` markers included; each sentence read on its own): the ``k`` words
        the LM ranks first as the next word (``direction="forward"``) or the previous one (``"backward"``). For the
        continuous output they are the nearest neighbours of the predicted embedding ê among the target
        embeddings; for a softmax, the most probable words."""
        import torch

        self._check_fitted()
        if direction not in ("forward", "backward"):
            raise InputError(f"direction must be 'forward' or 'backward', got {direction!r}")
        _, tokens, ids = self._sentences([text])
        h, words, out = self.model_.output_size, self.vocab_.tokens, []
        self.model_.eval()
        with torch.inference_mode():
            for chunk, batch, lengths, bags in self._batches(tokens, ids, 1, by_length=False):
                top = self.model_.hidden_states(batch, lengths, bags)[-1][0]
                states = top[:, :h] if direction == "forward" else top[:, h:]
                best = self.model_.output.scores(states).topk(min(k, len(words)), dim=1).indices
                out += [(t, [words[j] for j in row]) for t, row in zip(tokens[chunk[0]], best.tolist())]
        return out

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path, *, overwrite: bool = False) -> Path:
        """Write a self-describing folder: shoestring_config.json, model.safetensors (the continuous output's
        frozen target table included), vocab.json (with counts), tokenizer.json, targets.json, training_log.json,
        README.md and manifest.json."""
        return super().save_pretrained(path, overwrite=overwrite)

    def _save_files(self, tmp: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.model_.state_dict().items()}, str(tmp / "model.safetensors"),
                  metadata={"format": "pt", "model_type": "bilm"})
        self.vocab_.save(tmp / "vocab.json")
        write_json(tmp / "tokenizer.json", self.tokenizer_config_.to_dict())
        if self.targets_ is not None:
            write_json(tmp / "targets.json", self.targets_)

    def _config_extras(self) -> dict:
        out = {"vocab_size": len(self.vocab_), "model_type": "bilm"}
        cutoffs = getattr(self.model_.output, "cutoffs", None)
        if cutoffs is not None:
            out["cutoffs"] = list(cutoffs)
        return out

    def _card(self) -> dict:
        c, t = self.config, getattr(self, "training_", {})
        params = self.model_.parameter_counts()
        layer = _LAYER_NAMES[c.output_layer]
        if c.output_layer == "continuous":
            layer += f" with the {c.continuous_loss} loss against frozen {self.targets_['name']}"
        metrics = {"output layer": layer,
                   **({"target embeddings": self.targets_["summary"]} if self.targets_ else {}),
                   **{f"trainable parameters: {k}": f"{v:,}" for k, v in params.items()},
                   **{k.replace("_", " "): v for k, v in t.get("validation", {}).items()},
                   **{k.replace("_", " "): v for k, v in t.items()
                      if k not in ("validation", "parameters", "output_layer")}}
        return dict(
            title="Bidirectional LSTM language model" + (" (ELMo-C)" if c.output_layer == "continuous" else ""),
            summary=f"A word-level bidirectional LSTM language model (ELMo, Peters et al. 2018) pre-trained with "
                    f"shoestring: {c.layers} layer{'s' if c.layers > 1 else ''} per direction of {c.hidden_size} "
                    f"LSTM cells " + (f"projected to h = {c.projection_size}" if c.projection_size else
                                      "(no projection)") + f", {c.embedding_dim}-d word embeddings"
                    + (f" plus {c.subword_buckets:,} hashed n-gram buckets" if c.subword_buckets else "")
                    + f" over V = {len(self.vocab_):,} words, and a {layer}. {params['total']:,} trainable "
                    f"parameters, {params['output']:,} of them in the output layer. `transform` gives the "
                    f"{c.representation} representation ({self.dim} dimensions), averaged over a text's words.",
            usage="```python\nimport shoestring\nlm = shoestring.load('.')\nX = lm.transform(['some text'])\n"
                  "lm.predict_words('some text')\n```\n\nor `shoestring embed . texts.jsonl -o vectors.npy`",
            data=getattr(self, "data_", None), metrics=metrics)

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        from safetensors.torch import load_file

        from shoestring.learners.lm.model import build_model

        self.vocab_ = Vocabulary.load(path / "vocab.json")
        if len(self.vocab_) != meta.get("vocab_size"):
            raise ArtifactError("vocab.json does not match the saved config's vocab_size", path=path)
        self.tokenizer_config_ = TokenizerConfig.from_json(path / "tokenizer.json")
        self.targets_ = json.loads((path / "targets.json").read_text(encoding="utf-8")) \
            if (path / "targets.json").exists() else None
        state = load_file(str(path / "model.safetensors"))
        table = state.get("output.embeddings") if self.config.output_layer == "continuous" else None
        if self.config.output_layer == "continuous" and table is None:
            raise ArtifactError("model.safetensors has no target table (output.embeddings)", path=path,
                                hint="the folder is incomplete; re-create it")
        model = build_model(self.config, self.vocab_, table, cutoffs=meta.get("cutoffs"))
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise ArtifactError(f"model.safetensors does not fit the config: {str(e).splitlines()[0]}",
                                path=path) from None
        self.model_ = model.eval()


def _sizes(c: LMConfig) -> dict:
    return {k: getattr(c, k) for k in ("embedding_dim", "subword_buckets", "hidden_size", "projection_size", "layers")}


def _as_texts(X) -> list[str]:
    """A list of texts from texts, a path, or a list of paths."""
    if isinstance(X, (str, os.PathLike)):
        X = [Path(X)]
    if isinstance(X, (list, tuple)) and X and all(isinstance(x, os.PathLike) for x in X):
        from shoestring.data.readers import read_documents

        return [d.text for d in read_documents(list(X))]
    if isinstance(X, (list, tuple)) and all(isinstance(x, str) for x in X):
        return list(X)
    raise InputError("fit() takes a list of texts, a path of a text file, or a list of Paths",
                     hint="e.g. LanguageModel().fit(['first text', 'second text']) or .fit('corpus.jsonl')")
