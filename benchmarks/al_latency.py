"""Active learning's step cost on a 20k-document pool: retraining after one new label, and choosing the next
document, p50/p95 in milliseconds per strategy (the issue's target: p95 under 200 ms on 2 cores).

    python benchmarks/al_latency.py --data ../shared/data/ag_news --model bench-work/ag_news/vampire \
        --json docs/results/al_latency.json

The pool's features are computed once (as the labeling app does); then, from 20 random labels, each step labels
the strategy's pick with its gold label, retrains the warm-started head, and asks for the next document.
Steps 20-220 and 500-600 labels are timed (the head's cost grows with the labels)."""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pool", type=int, default=20000)
    ap.add_argument("--strategies", nargs="+",
                    default=["random", "margin", "entropy", "kcenter", "kmeanspp", "cluster_margin", "badge"])
    ap.add_argument("--clean", nargs="*", default=["html"])
    ap.add_argument("--json")
    a = ap.parse_args()

    from shoestring.bench.fewshot import load_split
    from shoestring.registry import load_embedder
    from shoestring.tasks.active.learner import ActiveLearner
    from shoestring.tasks.classify.views import EmbeddingView

    from pathlib import Path

    texts, labels = load_split(Path(a.data), "train", a.clean)
    rows = np.random.default_rng(0).choice(len(texts), min(a.pool, len(texts)), replace=False)
    texts, y = [texts[i] for i in rows], np.asarray(labels)[rows]
    model = load_embedder(a.model)
    t0 = time.perf_counter()
    X = EmbeddingView(model, "embedder").transform(texts)
    embed_s = time.perf_counter() - t0
    out = {"data": a.data, "model": a.model, "pool": len(texts), "dim": int(X.shape[1]),
           "embed_seconds": round(embed_s, 2), "machine": f"{platform.machine()}, {platform.processor() or ''}",
           "date": time.strftime("%Y-%m-%d"), "strategies": {}}
    for s in a.strategies:
        al = ActiveLearner(X, s, seed=0)
        first = np.random.default_rng(0).choice(len(y), 20, replace=False)
        al.teach(first, list(y[first]))
        retrain, query = {"20-220": [], "500-600": []}, {"20-220": [], "500-600": []}
        while al.n_labelled < 600:
            n = al.n_labelled
            window = "20-220" if n < 220 else "500-600" if n >= 500 else None
            t0 = time.perf_counter()
            q = al.query(1)
            tq = time.perf_counter() - t0
            t0 = time.perf_counter()
            al.teach(q, [str(y[q[0]])])
            tr = time.perf_counter() - t0
            if window is None:  # 220-500: labelled in batches of 20, not timed
                more = al.query(19)
                al.teach(more, list(y[more]))
                continue
            retrain[window].append(tr * 1e3)
            query[window].append(tq * 1e3)
        out["strategies"][s] = {w: {"retrain_ms_p50": float(np.percentile(retrain[w], 50)),
                                    "retrain_ms_p95": float(np.percentile(retrain[w], 95)),
                                    "query_ms_p50": float(np.percentile(query[w], 50)),
                                    "query_ms_p95": float(np.percentile(query[w], 95)), "steps": len(retrain[w])}
                                for w in retrain}
        r = out["strategies"][s]
        print(f"{s:16s} retrain p95 {r['20-220']['retrain_ms_p95']:6.1f} / {r['500-600']['retrain_ms_p95']:6.1f} ms"
              f"   query p95 {r['20-220']['query_ms_p95']:6.1f} / {r['500-600']['query_ms_p95']:6.1f} ms"
              "   (at 20-220 / 500-600 labels)", flush=True)
    if a.json:
        from shoestring.artifacts import write_json

        write_json(a.json, out)
    print(json.dumps({k: v for k, v in out.items() if k != "strategies"}))


if __name__ == "__main__":
    main()
