"""A prepared bag-of-words corpus: the artifact ``shoestring prepare`` writes and VAMPIRE trains on.

Folder layout (all compact, nothing dense)::

    prepared/
      manifest.json       kind "bow-corpus": inputs and their sha256, settings, counts, file hashes
      vocab.json          the V words, with document frequencies and counts
      train.npz           N x V document-term counts, scipy CSR (int32)
      reference.npz       held-out documents, counted with the same vocabulary, for NPMI
      background.npy      log-frequency of each word in the training documents (the decoder bias)
      docs.jsonl.gz       one row per document: split, label, source file and line, extra fields

Documents stay sparse end to end: a batch goes to torch as ``(indices, offsets, weights)``, the input format
of ``torch.nn.functional.embedding_bag``, so memory grows with the number of non-zeros, not with N x V.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shoestring.artifacts import read_json, read_manifest
from shoestring.data.tokenizer import Tokenizer, TokenizerConfig
from shoestring.data.vocab import Vocabulary


class BowCorpus:
    """Load with ``BowCorpus.load(folder)``; fields ``train``/``reference`` (CSR), ``vocab``, ``background``."""

    def __init__(self, train: sp.csr_matrix, reference: sp.csr_matrix, vocab: Vocabulary, background: np.ndarray,
                 labels: dict[str, list], tokenizer_config: TokenizerConfig, manifest: dict | None = None,
                 path: Path | None = None):
        self.train = train
        self.reference = reference
        self.vocab = vocab
        self.background = background
        self.labels = labels
        self.tokenizer_config = tokenizer_config
        self.manifest = manifest or {}
        self.path = path

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.tokenizer_config)

    @classmethod
    def load(cls, path, *, verify: bool = True) -> "BowCorpus":
        path = Path(path)
        manifest = read_manifest(path, "bow-corpus", verify=verify)
        vocab = Vocabulary.load(path / "vocab.json")
        train = sp.load_npz(path / "train.npz").tocsr()
        reference = sp.load_npz(path / "reference.npz").tocsr()
        background = np.load(path / "background.npy", allow_pickle=False)
        labels = {"train": [], "reference": []}
        with gzip.open(path / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                labels[row["split"]].append(row.get("label"))
        tok = TokenizerConfig.from_dict(manifest["settings"]["tokenizer"], source=str(path / "manifest.json"))
        return cls(train, reference, vocab, background, labels, tok, manifest, path)

    def docs(self):
        """Iterate the per-document metadata rows (split, label, source, line, extra fields)."""
        with gzip.open(self.path / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)

    def __repr__(self) -> str:
        return (f"BowCorpus({self.train.shape[0]} train + {self.reference.shape[0]} reference documents, "
                f"V={len(self.vocab)}, {self.train.nnz} non-zeros)")


def vectorize(texts, tokenizer: Tokenizer, vocab: Vocabulary) -> sp.csr_matrix:
    """Count ``texts`` with a fixed vocabulary (words outside it are ignored) -> CSR (n x V, float32)."""
    indptr, indices = [0], []
    index = vocab.index
    for t in texts:
        ids = [index[w] for w in tokenizer(t) if w in index]
        indices.extend(ids)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    X = sp.csr_matrix((data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
                      shape=(len(indptr) - 1, len(vocab)))
    X.sum_duplicates()
    return X


def to_bags(X: sp.csr_matrix):
    """CSR rows -> torch ``(indices, offsets, weights)`` for ``F.embedding_bag(..., mode='sum')``."""
    import torch

    X = X.tocsr()
    return (torch.from_numpy(X.indices.astype(np.int64)), torch.from_numpy(X.indptr[:-1].astype(np.int64)),
            torch.from_numpy(X.data.astype(np.float32)))


def corpus_meta(path) -> dict:
    return read_json(Path(path) / "manifest.json")
