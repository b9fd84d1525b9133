"""``shoestring prepare``: raw text in, a compact bag-of-words corpus out (see :mod:`shoestring.data.bow`).

One streaming pass over the input: documents are read in shards of ``shard_docs``, each shard is tokenized
and counted (in parallel with ``workers > 1``) against its own local word list, and shards are merged into
one sparse matrix over a provisional vocabulary. The vocabulary is then chosen from the training documents'
frequencies and the matrix re-indexed, so the corpus is read exactly once and never densified. Memory is
about 8 bytes per distinct (document, word) pair: AG News (120k documents) needs tens of MB, not the ~29 GB
of a dense int64 matrix.

Example::

    shoestring prepare news.jsonl.gz -o prepared/news --max-vocab 30000
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shoestring.artifacts import atomic_folder, check_writable, environment, gzip_text_writer
from shoestring.data import stopwords as sw
from shoestring.data.bow import BowCorpus
from shoestring.data.config import PrepareConfig
from shoestring.data.readers import ReadStats, read_documents, sha256_files
from shoestring.data.tokenizer import Tokenizer, TokenizerConfig
from shoestring.data.vocab import Vocabulary
from shoestring.errors import InputError

log = logging.getLogger(__name__)


def _count_shard(args):
    """Tokenize and count one shard against a local word list (runs in a worker process)."""
    texts, tok_config = args
    tok = Tokenizer(tok_config)
    local: dict[str, int] = {}
    indptr, indices, values = [0], [], []
    for text in texts:
        c = Counter(tok(text))
        for w, n in c.items():
            indices.append(local.setdefault(w, len(local)))
            values.append(n)
        indptr.append(len(indices))
    return (list(local), np.asarray(indptr, np.int64), np.asarray(indices, np.int64),
            np.asarray(values, np.int32))


class _Merger:
    """Accumulates shards into one CSR over a growing provisional word list."""

    def __init__(self):
        self.word_id: dict[str, int] = {}
        self.indptr = [np.zeros(1, np.int64)]
        self.indices: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.nnz = 0

    def add(self, shard) -> None:
        words, indptr, indices, values = shard
        wid = self.word_id
        remap = np.fromiter((wid.setdefault(w, len(wid)) for w in words), np.int64, len(words))
        self.indices.append(remap[indices].astype(np.int32))
        self.values.append(values)
        self.indptr.append(indptr[1:] + self.nnz)
        self.nnz += len(indices)

    def matrix(self) -> sp.csr_matrix:
        indptr = np.concatenate(self.indptr)
        indices = np.concatenate(self.indices) if self.indices else np.zeros(0, np.int32)
        values = np.concatenate(self.values) if self.values else np.zeros(0, np.int32)
        return sp.csr_matrix((values, indices, indptr), shape=(len(indptr) - 1, len(self.word_id)))


def _shards(docs, size):
    batch, meta = [], []
    for d in docs:
        batch.append(d.text)
        meta.append(d)
        if len(batch) == size:
            yield batch, meta
            batch, meta = [], []
    if batch:
        yield batch, meta


def prepare(inputs, out, config: PrepareConfig | None = None, tokenizer: TokenizerConfig | None = None, *,
            reference=None, overwrite: bool = False, progress: bool = True) -> BowCorpus:
    """Read ``inputs`` (files/folders), build the vocabulary, write the prepared corpus to ``out``.

    ``reference``: optional files whose documents form the NPMI reference split; otherwise a seeded random
    ``reference_fraction`` of the input documents is held out from training.
    """
    config = (config or PrepareConfig()).validate()
    tokenizer = (tokenizer or TokenizerConfig()).validate()
    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    refs = [Path(p) for p in ([reference] if isinstance(reference, (str, os.PathLike)) else (reference or []))]
    check_writable(out, overwrite)

    merger = _Merger()
    metas: list[dict] = []
    # labels are metadata here: a malformed one makes its row unlabelled (counted), not the corpus unreadable
    stats = {"train": ReadStats(strict_labels=False), "reference": ReadStats(strict_labels=False)}
    n_from = {}
    read_kw = config.read_kw()

    pool = None
    if config.workers > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        pool = ctx.Pool(config.workers)
    try:
        for split, paths in (("train", inputs), ("reference", refs)):
            if not paths:
                continue
            start = len(metas)
            docs = read_documents(paths, stats=stats[split], progress=f"prepare {split}" if progress else False,
                                  **read_kw)
            shards = _shards(docs, config.shard_docs)
            if pool is None:
                results = ((_count_shard((texts, tokenizer)), meta) for texts, meta in shards)
            else:
                # keep the metadata in this process, send only texts to the workers, in order
                pending = []

                def gen():
                    for texts, meta in shards:
                        pending.append(meta)
                        yield texts, tokenizer

                results = ((r, pending.pop(0)) for r in pool.imap(_count_shard, gen()))
            for shard, meta in results:
                merger.add(shard)
                metas.extend({"split": split, "label": d.label, "source": d.source, "line": d.line, **d.extra}
                             for d in meta)
            n_from[split] = len(metas) - start
    finally:
        if pool is not None:
            pool.close()
            pool.join()

    where = ", ".join(map(str, inputs))
    if n_from.get("train", 0) == 0:
        st = stats["train"]
        raise InputError(f"the corpus has no documents ({st.skipped_empty} empty or whitespace-only skipped)",
                         path=where, hint="check the file and --text-field/--format")
    if refs and n_from.get("reference", 0) == 0:
        raise InputError("the reference files have no documents", path=", ".join(map(str, refs)))

    X = merger.matrix()
    split = np.array([m["split"] == "train" for m in metas])
    ref_note = "given files"
    if not refs:
        n = int(split.sum())
        n_ref = min(config.reference_max, int(round(config.reference_fraction * n)))
        if n_ref >= 1 and n - n_ref >= 1:
            held = np.random.default_rng(config.seed).choice(n, n_ref, replace=False)
            split[held] = False
            for i in held:
                metas[i]["split"] = "reference"
            ref_note = f"{n_ref} documents held out at random (seed {config.seed})"
        else:
            ref_note = "the training documents (corpus too small to hold any out)"
    X_train, X_ref_raw = X[split], X[~split]
    if X_ref_raw.shape[0] == 0:
        X_ref_raw = X_train

    # vocabulary from the training documents only
    df = np.bincount(X_train.indices, minlength=X.shape[1])
    counts = np.bincount(X_train.indices, weights=X_train.data, minlength=X.shape[1]).astype(np.int64)
    words = list(merger.word_id)
    norm = Tokenizer(dataclasses.replace(tokenizer, min_token_len=1, max_token_len=10_000))
    if config.stopwords == "auto":
        top = [words[i] for i in np.argsort(-counts, kind="stable")[:200]]
        lang, stop = sw.detect(top, norm)
        log.info("stop words: detected %s", lang)
    else:
        lang, stop = config.stopwords, sw.get_stopwords(config.stopwords, norm)
    vocab, mapping = Vocabulary.from_counts(words, df, counts, X_train.shape[0], min_df=config.min_df,
                                            max_df=config.max_df, max_size=config.max_vocab, stopwords=stop,
                                            source=where)

    def reindex(M: sp.csr_matrix) -> sp.csr_matrix:
        M = M.tocoo()
        new = mapping[M.col]
        keep = new >= 0
        R = sp.csr_matrix((M.data[keep].astype(np.int32), (M.row[keep], new[keep])), shape=(M.shape[0], len(vocab)))
        R.sort_indices()
        return R

    train, ref = reindex(X_train), reindex(X_ref_raw)
    total = float(train.sum())
    background = np.log(np.maximum(np.asarray(train.sum(0)).ravel(), 0.5) / total).astype(np.float32)
    empty_after = int((np.diff(train.indptr) == 0).sum())

    counts_info = {
        "train_documents": int(train.shape[0]), "reference_documents": int(ref.shape[0]),
        "skipped_empty": stats["train"].skipped_empty + stats["reference"].skipped_empty,
        "first_skipped": stats["train"].first_empty or stats["reference"].first_empty,
        "empty_after_vocabulary": empty_after,
        "malformed_labels": stats["train"].bad_labels + stats["reference"].bad_labels, "labeled": stats["train"].labeled + stats["reference"].labeled,
        "distinct_words_seen": len(words), "vocabulary": len(vocab), "train_tokens": int(total),
        "nonzeros": int(train.nnz),
    }
    info = {
        "inputs": [{"path": str(p), "sha256": sha256_files(p)} for p in inputs],
        "reference_inputs": [{"path": str(p), "sha256": sha256_files(p)} for p in refs],
        "reference": ref_note, "stopwords_used": lang,
        "settings": {"prepare": config.to_dict(), "tokenizer": tokenizer.to_dict()},
        "counts": counts_info, "environment": environment(),
    }
    with atomic_folder(out, "bow-corpus", overwrite=overwrite, info=info) as tmp:
        vocab.save(tmp / "vocab.json")
        sp.save_npz(tmp / "train.npz", train)
        sp.save_npz(tmp / "reference.npz", ref)
        np.save(tmp / "background.npy", background)
        # training rows first, then reference rows, each in corpus order, as in the matrices
        order = [m for m in metas if m["split"] == "train"] + [m for m in metas if m["split"] == "reference"]
        with gzip_text_writer(tmp / "docs.jsonl.gz") as f:
            for m in order:
                f.write(json.dumps(m, ensure_ascii=False) + "\n")
    if stats["train"].skipped_empty:
        log.warning("skipped %d empty or whitespace-only documents (first at %s)",
                    counts_info["skipped_empty"], counts_info["first_skipped"])
    return BowCorpus.load(out)
