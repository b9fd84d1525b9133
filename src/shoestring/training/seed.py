"""One seeding helper: Python's, NumPy's global and torch's generators from one seed."""

from __future__ import annotations


def seed_everything(seed: int) -> None:
    """Seed ``random``, ``numpy.random`` (mod 2**32) and torch (all devices) with ``seed``."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
