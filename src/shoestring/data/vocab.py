"""Vocabulary by document frequency, with stop words, min_df / max_df / max_size filters.

The vocabulary of a bag-of-words model is the list of words it counts. Words are ranked by corpus frequency
(as scikit-learn's ``CountVectorizer(max_features=V)`` does) after dropping stop words, words in fewer than
``min_df`` documents and words in more than a fraction ``max_df`` of documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from shoestring.errors import ArtifactError, InputError


class Vocabulary:
    """An ordered word list with its index, document frequencies and corpus counts."""

    def __init__(self, tokens: list[str], df=None, counts=None):
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("duplicate tokens in vocabulary")
        self.df = None if df is None else np.asarray(df, dtype=np.int64)
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def fingerprint(self) -> str:
        """A short hash of the word list: two models can only be combined when theirs agree."""
        import hashlib

        return hashlib.sha256("\n".join(self.tokens).encode()).hexdigest()[:16]

    @classmethod
    def from_counts(cls, words: list[str], df: np.ndarray, counts: np.ndarray, n_docs: int, *,
                    min_df: int = 1, max_df: float = 1.0, max_size: int | None = None,
                    stopwords: set[str] = frozenset(), source: str | None = None) -> tuple["Vocabulary", np.ndarray]:
        """Select words; return (vocabulary, array mapping each input word to its new id or -1)."""
        df = np.asarray(df)
        counts = np.asarray(counts)
        keep = (df >= min_df) & (df <= max_df * n_docs)
        if stopwords:
            keep &= np.fromiter((w not in stopwords for w in words), bool, len(words))
        cand = np.flatnonzero(keep)
        # most frequent first; ties broken alphabetically for a deterministic order
        order = sorted(cand.tolist(), key=lambda i: (-counts[i], words[i]))
        if max_size is not None:
            order = order[:max_size]
        if not order:
            raise InputError(
                f"the vocabulary is empty after filtering ({len(words)} distinct words, {n_docs} documents, "
                f"min_df={min_df}, max_df={max_df}, {len(stopwords)} stop words)", path=source,
                hint="lower --min-df, raise --max-df, use --stopwords none, or give more text")
        mapping = np.full(len(words), -1, dtype=np.int64)
        mapping[order] = np.arange(len(order))
        vocab = cls([words[i] for i in order], df[order], counts[order])
        return vocab, mapping

    def save(self, path: str | Path) -> None:
        data = {"tokens": self.tokens}
        if self.df is not None:
            data["df"] = self.df.tolist()
        if self.counts is not None:
            data["counts"] = self.counts.tolist()
        Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(data["tokens"], data.get("df"), data.get("counts"))
        except (OSError, ValueError, KeyError) as e:
            raise ArtifactError(f"cannot read the vocabulary: {e}", path=path) from None
