"""Which tokens to corrupt and which to predict: m_corr and m_pred set separately (Wettig et al. 2023).

Given a batch of token ids, :func:`mask_tokens` picks the *predicted* set P (a fraction m_pred of the
maskable tokens) and the *corrupted* set C (a fraction m_corr), nested so that the smaller lies inside the
larger: with m_corr <= m_pred every corrupted token is predicted and the rest of P is predicted from its
uncorrupted self; with m_corr > m_pred some corrupted tokens are not predicted. Corrupted tokens become
[MASK], or with the 80-10-10 rule 80% [MASK], 10% a random token, 10% unchanged. Special tokens ([CLS],
[SEP], [PAD]) are never chosen.

Selection units:

- ``uniform``: tokens independently, exactly round(m * n) per batch (random scores, lowest n chosen);
- ``whole_word``: all pieces of a word share one score, so a word is chosen whole (BERT's whole-word masking);
- ``span``: contiguous spans whose lengths are geometric with mean ``span_mean`` (SpanBERT), until the
  budget round(m * n) is reached.

Every draw comes from a numpy ``Generator`` the caller seeds (by step), so batches are reproducible and a
resumed run masks exactly as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Masked:
    inputs: np.ndarray      # (B, T) corrupted ids
    predict: np.ndarray     # (B, T) bool: the loss is computed here (P)
    corrupt: np.ndarray     # (B, T) bool: the input was chosen for corruption (C)
    targets: np.ndarray     # (n_P,) original ids at the predicted positions, row-major order


def _unit_scores(ids, maskable, unit, rng, word_start=None, span_mean=3.0):
    """A score per token; tokens are chosen lowest score first. Tokens of one unit share a score."""
    B, T = ids.shape
    if unit == "uniform":
        return rng.random((B, T))
    if unit == "whole_word":
        if word_start is None:
            raise ValueError("whole-word masking needs the tokenizer's word-start table")
        starts = word_start[ids] | ~maskable
        word = np.cumsum(starts.ravel()).reshape(B, T)  # unit id: increases at every word start
        return rng.random(word.max() + 1)[word]
    if unit == "span":
        # cut each row into spans of geometric length, score per span
        p = 1.0 / span_mean
        lengths = rng.geometric(p, size=B * T)
        ends = np.cumsum(lengths)
        ends = ends[: np.searchsorted(ends, B * T) + 1]
        span = np.zeros(B * T, np.int64)
        span[ends[ends < B * T]] = 1
        span = np.cumsum(span).reshape(B, T)
        return rng.random(span.max() + 1)[span]
    raise ValueError(f"unknown masking unit {unit!r}")


def _choose(scores, maskable, rate):
    """The round(rate * n) maskable positions with the lowest scores (a whole unit may overshoot by its tail)."""
    n = int(maskable.sum())
    k = max(1, int(round(rate * n))) if rate > 0 else 0  # never an empty loss
    chosen = np.zeros(scores.shape, bool)
    if k <= 0 or n == 0:
        return chosen
    s = np.where(maskable, scores, np.inf).ravel()
    if k >= n:
        return maskable.copy()
    threshold = np.partition(s, k - 1)[k - 1]
    chosen.ravel()[:] = s <= threshold
    return chosen & maskable


def mask_tokens(ids: np.ndarray, *, special: np.ndarray, m_corr: float, m_pred: float, mask_id: int,
                vocab_size: int, rng: np.random.Generator, replace_rule: bool = True, unit: str = "uniform",
                word_start: np.ndarray | None = None, span_mean: float = 3.0,
                random_low: int = 0) -> Masked:
    """Corrupt ``ids`` (B, T) for masked-LM training.

    ``special`` is a boolean table over the vocabulary (True for [CLS], [SEP], [PAD], ...: never chosen);
    random replacements are drawn from ids ``random_low .. vocab_size - 1`` that are not special.
    """
    maskable = ~special[ids]
    scores = _unit_scores(ids, maskable, unit, rng, word_start, span_mean)
    outer_rate, inner_rate = max(m_corr, m_pred), min(m_corr, m_pred)
    outer = _choose(scores, maskable, outer_rate)
    inner = _choose(scores, maskable, inner_rate) & outer  # nested: the lowest scores are in both
    if m_corr <= m_pred:
        corrupt, predict = inner, outer
    else:
        corrupt, predict = outer, inner
    inputs = ids.copy()
    if replace_rule:
        u = rng.random(ids.shape)
        to_mask = corrupt & (u < 0.8)
        to_random = corrupt & (u >= 0.8) & (u < 0.9)
    else:
        to_mask, to_random = corrupt, np.zeros_like(corrupt)
    inputs[to_mask] = mask_id
    n_random = int(to_random.sum())
    if n_random:
        pool = np.flatnonzero(~special[random_low:vocab_size]) + random_low
        inputs[to_random] = pool[rng.integers(0, len(pool), n_random)]
    return Masked(inputs=inputs, predict=predict, corrupt=corrupt, targets=ids[predict])
