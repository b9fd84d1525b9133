"""Topics as a reader sees them: each topic's top words with its NPMI and size, and the topic diversity."""

from __future__ import annotations

import sys

import numpy as np


def print_topics(vae, reference=None, n: int = 10, file=None, limit: int | None = None):
    """Print a VAMPIRE's topics, most coherent first (at most ``limit``), then the mean NPMI and the topic
    diversity; returns ``(table, mean NPMI, diversity)``."""
    from shoestring.evaluation.npmi import topic_diversity

    file = file or sys.stdout
    table = vae.topic_table(reference, top_n=n)
    order = sorted(table, key=lambda t: -np.nan_to_num(t["npmi"], nan=-9))
    for t in order[:limit]:
        print(f"topic {t['id']:3d}  NPMI {t['npmi']:+.3f}  size {100 * t['size']:4.1f}%  {' '.join(t['words'])}",
              file=file)
    npmi = float(np.nanmean([t["npmi"] for t in table])) if any(np.isfinite(t["npmi"]) for t in table) else \
        float("nan")
    div = topic_diversity(vae.model_.topics(25))
    print(f"mean NPMI {npmi:.4f} over {len(table)} topics; topic diversity (top 25) {div:.3f}", file=file)
    return table, npmi, div
