"""Semantic textual similarity: how well an embedder's cosine similarity ranks sentence pairs like people do.

The standard score (SentEval, SimCSE's tables) is Spearman's rank correlation x 100 between the cosine of the
two sentences' embeddings and the gold similarity (STS Benchmark: 0-5), over all pairs of a split. Beside it,
the two properties Wang & Isola (2020) show contrastive learning trades off, on L2-normalized embeddings f:

- **alignment** ``E ||f(x) - f(y)||^2`` over positive pairs (here: pairs with gold score >= 4 of 5, as SimCSE
  does), lower is better: paraphrases close together;
- **uniformity** ``log E exp(-2 ||f(x) - f(y)||^2)`` over pairs of different sentences, lower is better:
  embeddings spread over the sphere rather than crowded in a cone (masked-LM embeddings' anisotropy).

Any embedder works: ``embed(texts) -> array``; so do baselines given as such a function (TF-IDF, GloVe).
"""

from __future__ import annotations

import numpy as np


def read_sts(path) -> tuple[list[str], list[str], np.ndarray]:
    """``sentence1``, ``sentence2`` and ``score`` columns of a JSONL/CSV/TSV file (gzip allowed); a row without
    them is an error naming the file and line."""
    from shoestring.data.readers import read_records
    from shoestring.errors import InputError

    s1, s2, gold = [], [], []
    for line, row in read_records(path, ("sentence1", "sentence2", "score")):
        try:
            a, b, score = row["sentence1"], row["sentence2"], float(row["score"])
        except (TypeError, ValueError):
            raise InputError("an STS row needs sentence1, sentence2 and a numeric score", path=path, line=line,
                             hint='e.g. {"sentence1": "A man plays.", "sentence2": "A man is playing.", '
                                  '"score": 4.2}') from None
        if not np.isfinite(score):
            raise InputError(f"score {row['score']!r} is not a finite number", path=path, line=line)
        if not str(a).strip() or not str(b).strip():
            raise InputError("sentence1 or sentence2 is empty: an STS pair needs two sentences", path=path,
                             line=line, hint="drop the row")
        s1.append(str(a))
        s2.append(str(b))
        gold.append(score)
    if len(gold) < 2:
        raise InputError("an STS file needs at least two scored pairs", path=path)
    return s1, s2, np.asarray(gold)


def _normalized(X) -> np.ndarray:
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def alignment(A, B) -> float:
    """``E ||a - b||^2`` over rows of L2-normalized ``A`` and ``B`` (positive pairs)."""
    return float(np.mean(np.sum((A - B) ** 2, axis=1)))


def uniformity(X, *, max_rows: int = 2000, seed: int = 0) -> float:
    """``log E exp(-2 ||x - y||^2)`` over all pairs of distinct rows of L2-normalized ``X`` (a seeded sample of
    ``max_rows`` rows at most)."""
    X = np.asarray(X)
    if len(X) > max_rows:
        X = X[np.random.default_rng(seed).choice(len(X), max_rows, replace=False)]
    d2 = np.maximum(2.0 - 2.0 * (X @ X.T), 0.0)  # unit vectors: ||x - y||^2 = 2 - 2 x.y
    iu = np.triu_indices(len(X), k=1)
    v = -2.0 * d2[iu]
    return float(np.log(np.mean(np.exp(v - v.max()))) + v.max())


def sts_scores(embed, s1, s2, gold, *, positive_at: float | None = None) -> dict:
    """Spearman x 100 of cosine against ``gold``, Pearson x 100, alignment and uniformity. ``embed``: texts ->
    (n x d) array; ``positive_at``: the gold score from which a pair is a positive for alignment (default 80%
    of the scale's top, 4 on STS-B's 0-5)."""
    from scipy.stats import pearsonr, spearmanr

    gold = np.asarray(gold, dtype=np.float64)
    unique = list(dict.fromkeys(list(s1) + list(s2)))
    E = _normalized(embed(unique))
    row = {t: i for i, t in enumerate(unique)}
    A, B = E[[row[t] for t in s1]], E[[row[t] for t in s2]]
    cos = np.sum(A * B, axis=1)
    at = positive_at if positive_at is not None else gold.min() + 0.8 * (gold.max() - gold.min())
    pos = gold >= at
    constant = np.allclose(cos, cos[0])
    return {"spearman": float("nan") if constant else 100.0 * float(spearmanr(cos, gold).statistic),
            "pearson": float("nan") if constant else 100.0 * float(pearsonr(cos, gold).statistic),
            "alignment": alignment(A[pos], B[pos]) if pos.any() else float("nan"),
            "uniformity": uniformity(E), "pairs": int(len(gold)), "positive_pairs": int(pos.sum())}
