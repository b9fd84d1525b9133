"""Settings of the PPMI + SVD word vectors (``shoestring pretrain vectors``)."""

from __future__ import annotations

import dataclasses

from shoestring.config import Config, param


@dataclasses.dataclass
class WordVectorsConfig(Config):
    dim: int = param(100, "d: vector width (SVD rank)", min=2)
    window: int = param(5, "context words on each side", min=1)
    min_count: int = param(3, "ignore words seen fewer times", min=1)
    max_vocab: int = param(50000, "keep at most this many words", min=2)
    alpha: float = param(0.75, "context distribution smoothing exponent", min=0.0, max=1.0)
    eig: float = param(0.5, "p in W = U S^p (0: U only, 1: U S)", min=0.0, max=1.0)
    seed: int = param(0, "seed of the randomized SVD")
