"""Views of a text: the feature blocks the few-label recipe combines (:mod:`~shoestring.tasks.classify.recipe`).

A *view* turns texts into one block of features, each from a different representation the user has:

- :class:`TfidfView`: sparse TF-IDF of word 1-2 grams, sublinear tf, ``min_df`` 2, with the IDF fitted on the
  user's unlabeled text as well as the labelled rows (the pool tells which words are rare in this domain) and,
  in the recipe, the vocabulary of the n-grams that labelled texts share;
  words come from shoestring's any-language tokenizer, so Thai or Chinese text gets character bigrams;
- :class:`EmbeddingView`: the vectors of any shoestring :class:`~shoestring.estimator.Embedder` - a VAMPIRE,
  domain word vectors, a compact BERT pre-trained on the user's text, or a Hugging Face BERT-family
  checkpoint such as all-MiniLM-L6-v2 (mean-pooled, as sentence-transformers does) - L2-normalized per row,
  so that blocks of different widths and scales sit side by side.

Every view is ``fit`` on texts (labelled plus unlabeled: no labels are read) and then ``transform``s texts;
``save``/``load`` keep it in a sub-folder of the recipe's saved folder (JSON + safetensors, and the embedding
model as its own saved shoestring folder).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shoestring.artifacts import read_json, write_json
from shoestring.errors import InputError

_CACHE: dict | None = None  # set inside caching(): fitted TF-IDF tables and embeddings, reused across fits


@contextlib.contextmanager
def caching():
    """Within this block, views reuse what they computed for the same texts and model: a benchmark that fits
    the recipe once per seed on one corpus embeds each text once, not once per seed."""
    global _CACHE
    outer = _CACHE
    _CACHE = {} if outer is None else outer
    try:
        yield
    finally:
        _CACHE = outer


def _key(*parts) -> str:
    import hashlib

    h = hashlib.sha1()
    for p in parts:
        h.update(repr(p).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class TfidfView:
    """TF-IDF of word n-grams: ``x_t = (1 + ln tf_t) * idf_t``, rows L2-normalized, ``idf_t = ln((1 + n) /
    (1 + df_t)) + 1`` (scikit-learn's smooth IDF) over the texts it was fitted on."""

    name = "tfidf"

    def __init__(self, ngrams: int = 2, min_df: int = 2, max_features: int = 200_000):
        self.ngrams, self.min_df, self.max_features = ngrams, min_df, max_features

    def _terms(self, text: str) -> list[str]:
        from shoestring.data.tokenizer import WORD_TOKENIZER, Tokenizer

        if not hasattr(self, "_tok"):
            self._tok = Tokenizer(getattr(self, "tokenizer_config_", WORD_TOKENIZER))
        words = self._tok(text)
        out = list(words)
        for n in range(2, self.ngrams + 1):
            out += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
        return out

    def fit(self, texts, vocabulary_texts=None) -> "TfidfView":
        """IDF over ``texts``; the vocabulary: the n-grams in at least ``min_df`` of ``vocabulary_texts`` (default:
        of ``texts``). The few-label recipe passes labelled + unlabeled ``texts`` and the labelled ones as
        ``vocabulary_texts``: an n-gram no two labelled texts share gets no useful weight from the labels, and
        in the row's L2 norm it only shrinks the n-grams that do (measured on chemprot and debian at 200 labels,
        5 seeds: the pool's vocabulary cost 4-16 points of cross-validated accuracy;
        ``benchmarks/tfidf_vocabulary.py``)."""
        from shoestring.data.tokenizer import WORD_TOKENIZER

        self.tokenizer_config_ = WORD_TOKENIZER
        key = (_key("tfidf", self.ngrams, self.min_df, self.max_features, texts, vocabulary_texts)
               if _CACHE is not None else None)
        if key in (_CACHE or {}):
            self.vocabulary_, self.idf_ = _CACHE[key]
            return self
        df = self._doc_freq(texts)
        vdf = df if vocabulary_texts is None else self._doc_freq(vocabulary_texts)
        n, nv = len(texts), len(texts if vocabulary_texts is None else vocabulary_texts)
        min_df = self.min_df if nv >= 10 * self.min_df else 1  # a tiny corpus keeps its rare words
        terms = [t for t, c in vdf.most_common() if c >= min_df][: self.max_features]
        if not terms:
            raise InputError("the texts have no words for TF-IDF", hint="check the text field")
        terms.sort()
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        dfs = np.fromiter((df[t] for t in terms), np.float64, len(terms))
        self.idf_ = (np.log((1.0 + n) / (1.0 + dfs)) + 1.0).astype(np.float32)
        if key is not None:
            _CACHE[key] = (self.vocabulary_, self.idf_)
        return self

    def _doc_freq(self, texts) -> Counter:
        df: Counter = Counter()
        for t in texts:
            df.update(set(self._terms(t)))
        return df

    @property
    def dim(self) -> int:
        return len(self.vocabulary_)

    def transform(self, texts) -> sp.csr_matrix:
        indptr, indices, data = [0], [], []
        vocab = self.vocabulary_
        for t in texts:
            tf = Counter(j for j in (vocab.get(w) for w in self._terms(t)) if j is not None)
            for j, c in sorted(tf.items()):
                indices.append(j)
                data.append((1.0 + np.log(c)) * self.idf_[j])
            indptr.append(len(indices))
        X = sp.csr_matrix((np.asarray(data, np.float32), np.asarray(indices, np.int64), np.asarray(indptr, np.int64)),
                          shape=(len(indptr) - 1, len(vocab)))
        norms = np.sqrt(np.asarray(X.multiply(X).sum(1)).ravel())
        return sp.diags(1.0 / np.maximum(norms, 1e-12)).astype(np.float32) @ X

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        terms = sorted(self.vocabulary_, key=self.vocabulary_.get)
        write_json(folder / "view.json", {"view": self.name, "ngrams": self.ngrams, "min_df": self.min_df,
                                          "max_features": self.max_features, "terms": terms,
                                          "tokenizer": self.tokenizer_config_.to_dict()})
        save_file({"idf": self.idf_}, str(folder / "idf.safetensors"))

    @classmethod
    def load(cls, folder: Path) -> "TfidfView":
        from safetensors.numpy import load_file

        from shoestring.data.tokenizer import TokenizerConfig

        meta = read_json(folder / "view.json")
        self = cls(meta["ngrams"], meta["min_df"], meta["max_features"])
        self.tokenizer_config_ = TokenizerConfig.from_dict(meta["tokenizer"])
        self.vocabulary_ = {t: i for i, t in enumerate(meta["terms"])}
        self.idf_ = load_file(str(folder / "idf.safetensors"))["idf"]
        return self


class EmbeddingView:
    """The L2-normalized vectors of a shoestring embedder (a fitted model, or a folder opened with
    :func:`shoestring.load`; a Hugging Face BERT-family folder opens as a masked LM, mean-pooled).
    ``precision``: the arithmetic of a BERT-family model's forward pass (:mod:`~shoestring.training.precision`;
    other embedders are small and stay in float32)."""

    def __init__(self, model, name: str, cache: bool = True, precision: str = "fp32"):
        # cache=False for a model made inside a fit (e.g. contrastively tuned): the cache is keyed by id(model),
        # which a later model can reuse once this one is freed
        self.model, self.name, self.cache, self.precision = model, name, cache, precision

    @staticmethod
    def open(source, name: str, precision: str = "fp32") -> "EmbeddingView":
        """A view of ``source``: a fitted embedder, a shoestring folder, or a Hugging Face checkpoint folder."""
        if isinstance(source, (str, Path)):
            from shoestring.registry import load_embedder

            source = load_embedder(source)  # a shoestring folder, or e.g. the offline all-MiniLM-L6-v2 checkpoint
        return EmbeddingView(source, name, precision=precision)

    def fit(self, texts) -> "EmbeddingView":
        return self  # the representation is pre-trained; nothing here is fitted on labels

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def transform(self, texts) -> np.ndarray:
        from shoestring.learners.mlm.estimator import MaskedLM

        texts = list(texts)
        cache = (None if _CACHE is None or not self.cache
                 else _CACHE.setdefault(("embedding", id(self.model), self.precision), {}))
        todo = texts if cache is None else list(dict.fromkeys(t for t in texts if t not in cache))
        if not todo:
            X = np.zeros((0, self.dim), np.float32)
        elif isinstance(self.model, MaskedLM):
            X = self.model.transform(todo, max_len=min(256, self.model.model_.sizes["positions"]),
                                     precision=self.precision)
        else:
            X = self.model.transform(todo)
        X = np.asarray(X, np.float32)
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        if cache is None:
            return X
        cache.update(zip(todo, X))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def save(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)

    @classmethod
    def load(cls, folder: Path, name: str, precision: str = "fp32") -> "EmbeddingView":
        from shoestring.registry import load

        return cls(load(folder), name, precision=precision)
