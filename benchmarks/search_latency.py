"""Semantic search at scale: build an index of ``--docs`` texts with an embedder, then time single queries
(embedding the query included) with exact numpy search and, when faiss-cpu is installed, the HNSW index;
recall@10 of HNSW against exact search; index build time and memory.

    python benchmarks/search_latency.py --model bench-work/sts/simcse-mean-15min --docs 100000 \\
        --json docs/results/search_latency.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--sources", nargs="+", default=["imdb/unlabeled", "imdb/train", "ag_news/train", "imdb/test"])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json")
    a = ap.parse_args(argv)

    import numpy as np

    from shoestring.bench.fewshot import load_split
    from shoestring.tasks.search.index import Index, _has_faiss

    texts = []
    for src in a.sources:
        name, split = src.split("/")
        texts += load_split(Path(a.data) / name, split, ["html"])[0]
        if len(texts) >= a.docs:
            break
    texts = texts[: a.docs]
    queries = [t.split(".")[0][:200] for t in load_split(Path(a.data) / "ag_news", "test", [])[0][: a.queries]]
    t0 = time.perf_counter()
    index = Index.build(a.model, texts, backend="exact", progress=True)
    build = time.perf_counter() - t0
    out = {"machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d"),
           "model": a.model, "docs": len(texts), "dim": int(index.vectors.shape[1]),
           "build_seconds": round(build, 1), "docs_per_second": round(len(texts) / build, 1),
           "vectors_mb": round(index.vectors.nbytes / 2**20, 1)}

    def latency(idx) -> dict:
        idx.search(queries[0], k=10)  # warm-up
        times = []
        for q in queries:
            t = time.perf_counter()
            idx.search(q, k=10)
            times.append(1000 * (time.perf_counter() - t))
        embed = []
        for q in queries[:50]:
            t = time.perf_counter()
            idx.model.transform([q])
            embed.append(1000 * (time.perf_counter() - t))
        return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2),
                "query_embedding_p50_ms": round(float(np.percentile(embed, 50)), 2)}

    out["exact"] = latency(index)
    if _has_faiss():
        approx = Index(index.model, index.model_path, index.vectors, index.rows, index.probes, backend="faiss")
        t = time.perf_counter()
        approx._faiss_index()
        out["faiss_hnsw_build_seconds"] = round(time.perf_counter() - t, 1)
        out["faiss_hnsw"] = latency(approx)
        ex, ap_ = index.search(queries, 10), approx.search(queries, 10)
        out["faiss_hnsw"]["recall_at_10"] = float(np.mean([len({h.id for h in x} & {h.id for h in y}) / 10
                                                           for x, y in zip(ex, ap_)]))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
