"""VAMPIRE training speed against the machine's own matmul peak, and embedding throughput.

    python benchmarks/vampire_speed.py --corpus ../shared/data/ag_news/train.jsonl.gz --json speed.json

The decoder costs one (B x K) @ (K x V) product forward and two of the same size backward per batch, so an
epoch over N documents needs at least 3 * 2 N K V floating-point operations: at the machine's measured dense
matmul throughput (same process, same threads, same shapes) that is the epoch-time floor, and
floor / measured epoch time is the fraction of the machine's dense matmul throughput the training achieves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def matmul_gflops(B: int, K: int, V: int, repeats: int = 20) -> float:
    import torch

    a, b = torch.randn(B, K), torch.randn(K, V)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * B * K * V * repeats / (time.perf_counter() - t) / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="a JSONL(.gz) corpus, e.g. ../shared/data/ag_news/train.jsonl.gz")
    ap.add_argument("--max-vocab", type=int, default=30000)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 512])
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per batch size (the first is a warm-up)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args(argv)

    import torch

    from shoestring.data.cleanup import clean
    from shoestring.data.config import PrepareConfig
    from shoestring.data.prepare import prepare
    from shoestring.data.readers import read_documents
    from shoestring.learners.vampire.estimator import VAMPIRE

    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    corpus = prepare(a.corpus, tmp / "prep", PrepareConfig(max_vocab=a.max_vocab, min_df=1, max_df=0.5, workers=2),
                     progress=False)
    prep_s = time.perf_counter() - t0
    N, V = corpus.train.shape
    records = []
    for bs in a.batch_sizes:
        vae = VAMPIRE(batch_size=bs, max_epochs=a.epochs, patience=0, progress=False).fit(corpus)
        K = vae.config.latent_dim
        epoch_s = float(np.median([h["seconds"] for h in vae.history_[1:]] or [vae.history_[0]["seconds"]]))
        peak = matmul_gflops(bs, K, V)
        floor = 3 * 2 * N * K * V / (peak * 1e9)
        rec = {"method": "vampire-train", "batch_size": bs, "documents": N, "vocabulary": V, "K": K,
               "seconds_per_epoch": round(epoch_s, 3), "matmul_gflops_same_shape": round(peak, 1),
               "epoch_floor_seconds": round(floor, 3), "fraction_of_matmul_peak": round(floor / epoch_s, 3),
               "threads": torch.get_num_threads()}
        records.append(rec)
        print(json.dumps(rec))
    texts = [clean(d.text, ["html"]) for d in read_documents(a.corpus)]
    t = time.perf_counter()
    vae.transform(texts)
    emb_s = time.perf_counter() - t
    X = vae.vectorize(texts)
    t = time.perf_counter()
    vae.transform(X)
    emb_counts_s = time.perf_counter() - t
    records.append({"method": "vampire-embed", "documents": len(texts),
                    "docs_per_second_from_text": round(len(texts) / emb_s), "docs_per_second_from_counts":
                    round(len(texts) / emb_counts_s), "prepare_seconds": round(prep_s, 2)})
    print(json.dumps(records[-1]))
    from shoestring.artifacts import cpu_name

    meta = {"machine": platform.platform(), "cpu": cpu_name(), "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
    if a.json:
        Path(a.json).write_text(json.dumps({"meta": meta, "records": records}, indent=2))


if __name__ == "__main__":
    main()
