"""Word vectors from the user's own text in seconds: PPMI + truncated SVD (Levy, Goldberg & Dagan, TACL 2015).

For words w and contexts c within a symmetric window, with co-occurrence counts #(w, c) weighted 1/distance::

    PPMI(w, c) = max(0, log( #(w, c) * sum_c' #(c')^alpha / (#(w) * #(c)^alpha) ))   context smoothing alpha = 0.75
    PPMI ~= U S V^T  (rank d, randomized SVD)        vectors W = U S^p  (eigenvalue weighting p = 0.5)

On corpora of a few million tokens this matches skip-gram with negative sampling (Levy et al.) at a fraction
of the cost, which makes it the right in-domain complement to VAMPIRE's document-level representation: the
few-label classifier starts from word vectors that already know which domain words are alike.

Example::

    wv = WordVectors(dim=100).fit(texts)
    wv.most_similar("goalkeeper")
    clf = TextClassifier(vampire=vae, word_vectors=wv)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shoestring.data.tokenizer import WORD_TOKENIZER, Tokenizer
from shoestring.data.vocab import Vocabulary
from shoestring.errors import InputError
from shoestring.estimator import Estimator
from shoestring.learners.vectors.config import WordVectorsConfig


class WordVectors(Estimator):
    """``fit(texts)`` learns ``vectors_`` (V x d, unit rows) over ``vocab_``."""

    kind = "word-vectors"
    config_class = WordVectorsConfig
    fitted_attribute = "vectors_"

    def fit(self, texts) -> "WordVectors":
        """Learn vectors for the words of ``texts`` (strings, split by shoestring's word tokenizer)."""
        tok = Tokenizer(WORD_TOKENIZER)
        return self.fit_tokens([tok(t) for t in texts], tokenizer_config=WORD_TOKENIZER)

    def fit_tokens(self, docs, *, tokenizer_config=None) -> "WordVectors":
        """Learn vectors from documents already split into tokens (lists of strings): a sub-word tokenizer's
        pieces, say. ``tokenizer_config``: the :class:`~shoestring.data.tokenizer.TokenizerConfig` that
        ``transform`` should split texts with (default: shoestring's word tokenizer)."""
        from sklearn.utils.extmath import randomized_svd

        c = self.config
        t0 = time.time()
        self.tokenizer_config_ = tokenizer_config or WORD_TOKENIZER
        counts = Counter(w for d in docs for w in d)
        words = [w for w, n in counts.most_common(c.max_vocab) if n >= c.min_count]
        if len(words) < c.dim + 1:
            raise InputError(f"only {len(words)} words occur at least {c.min_count} times; word vectors of width "
                             f"{c.dim} need more text", hint="lower --dim or --min-count, or give more text")
        index = {w: i for i, w in enumerate(words)}
        V = len(words)
        rows, cols, vals = [], [], []
        for d in docs:
            ids = np.fromiter((index.get(w, -1) for w in d), np.int64)
            ids = ids[ids >= 0]  # rare words are dropped before windowing ("dirty" subsampling, as word2vec)
            n = len(ids)
            for k in range(1, min(c.window, n - 1) + 1):
                a, b = ids[:-k], ids[k:]
                rows += [a, b]
                cols += [b, a]
                vals.append(np.full(2 * len(a), 1.0 / k, np.float32))
        if not rows:
            raise InputError("no word pairs co-occur within the window: the texts are too short")
        C = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(V, V)).tocsr()
        C.sum_duplicates()
        w_tot = np.asarray(C.sum(1)).ravel()
        c_tot = np.asarray(C.sum(0)).ravel() ** c.alpha
        C = C.tocoo()
        pmi = np.log(C.data) + np.log(c_tot.sum()) - np.log(w_tot[C.row]) - np.log(c_tot[C.col])
        keep = pmi > 0
        P = sp.csr_matrix((pmi[keep].astype(np.float32), (C.row[keep], C.col[keep])), shape=(V, V))
        U, S, _ = randomized_svd(P, n_components=c.dim, n_iter=5, random_state=c.seed)
        W = U * (S ** c.eig)
        W /= np.linalg.norm(W, axis=1, keepdims=True).clip(1e-8)
        self.vocab_ = Vocabulary(words, counts=[counts[w] for w in words])
        self.vectors_ = W.astype(np.float32)
        self.training_ = {"seconds": round(time.time() - t0, 2), "documents": len(docs),
                          "tokens": int(sum(counts.values())), "vocabulary": V, "ppmi_nonzeros": int(P.nnz)}
        return self

    @property
    def dim(self) -> int:
        return self.config.dim

    # sklearn-style: texts -> mean vector
    def transform(self, texts) -> np.ndarray:
        """The mean of the vectors of each text's known words (zeros for a text with none)."""
        self._check_fitted()
        tok = Tokenizer(self.tokenizer_config_)
        index = self.vocab_.index
        out = np.zeros((len(texts), self.vectors_.shape[1]), np.float32)
        for i, t in enumerate(texts):
            ids = [index[w] for w in tok(t) if w in index]
            if ids:
                out[i] = self.vectors_[ids].mean(0)
        return out

    def most_similar(self, word: str, n: int = 10) -> list[tuple[str, float]]:
        i = self.vocab_.index.get(word)
        if i is None:
            raise KeyError(f"{word!r} is not in the vocabulary")
        sims = self.vectors_ @ self.vectors_[i]
        best = np.argsort(-sims)[1:n + 1]
        return [(self.vocab_.tokens[j], float(sims[j])) for j in best]

    def as_table(self) -> tuple[list[str], np.ndarray]:
        """(tokens, matrix): the form ``TextClassifier(word_vectors=...)`` takes."""
        return self.vocab_.tokens, self.vectors_

    def _save_files(self, tmp: Path) -> None:
        from safetensors.numpy import save_file

        save_file({"vectors": np.ascontiguousarray(self.vectors_)}, str(tmp / "vectors.safetensors"))
        self.vocab_.save(tmp / "vocab.json")

    def _config_extras(self) -> dict:
        return {"method": "ppmi-svd", "tokenizer": self.tokenizer_config_.to_dict()}

    def _card(self) -> dict:
        probe = [w for w in self.vocab_.tokens[50:56]]
        lines = "\n".join(f"- **{w}**: " + ", ".join(x for x, _ in self.most_similar(w, 6)) for w in probe)
        return dict(title="Domain word vectors (PPMI + SVD)",
                    summary=f"{len(self.vocab_)} words x {self.vectors_.shape[1]} dimensions, learned with shoestring "
                            f"from {self.training_['tokens']} tokens (Levy, Goldberg & Dagan 2015).",
                    usage="```python\nimport shoestring\nwv = shoestring.load('.')\nwv.most_similar('word')\n```",
                    metrics=self.training_,
                    extra="## Nearest neighbours of a few frequent words\n\n" + lines)

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        from safetensors.numpy import load_file

        from shoestring.data.tokenizer import TokenizerConfig

        self.tokenizer_config_ = TokenizerConfig.from_dict(meta.get("tokenizer", {}))  # old folders: legacy rules
        self.vocab_ = Vocabulary.load(path / "vocab.json")
        self.vectors_ = load_file(str(path / "vectors.safetensors"))["vectors"]
        log = json.loads((path / "training_log.json").read_text(encoding="utf-8"))
        if "history" not in log:  # folders before 0.2 kept only the training record there
            self.training_ = log
