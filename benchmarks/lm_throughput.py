"""Whole-model training throughput of the bidirectional LSTM LM at V = 100k, one output layer at a time.

The same encoder (``LMConfig``'s defaults: 128-d word embeddings, 2 layers x 512 LSTM cells projected to h = 128,
separate forward and backward LSTMs), the same batch (64 windows of 35 tokens, read in both directions) and the
same vocabulary, with each output layer of :mod:`shoestring.learners.lm.outputs`:

- ``full``: the full softmax (V x (h + 1) weights; N x V logits per direction);
- ``adaptive``: the adaptive softmax, clusters from the corpus counts (80 / 95 / 99% coverage);
- ``sampled``: the sampled softmax, k = 8192 log-uniform candidates per batch, dense gradients and Adam;
- ``continuous``: ELMo-C's continuous output, cosine loss, d = 100 frozen targets (``--dim``);
- ``encoder``: no output layer (the loss is the mean top state): the encoder's own cost, the ceiling;
- optional (``--layers``): ``vmf`` and ``max_margin``, the continuous output's other losses.

Each runs in a fresh process: a training step is what the training loop does (batch, forward, backward, gradient
clipping at 1.0, fused Adam), timed ``--steps`` times after ``--warmup``. Reported: **tokens/s**, the window
positions per second of the median step (each position is a target of both directions), the fastest step
(``(min)``, what a busy machine disturbs least), the peak resident memory above the process's baseline, the
trainable parameters of the output layer and of the whole model, and each layer's speed-up over the full
softmax.

The text: IMDB train + unlabeled (75,000 reviews, 17.9M words, 137,307 distinct) from ``/work/shared/data``,
tokenized once by the LM's own data preparation (:mod:`shoestring.learners.lm.data`) into a ``uint32`` id stream
the runs memory-map. V = 100,000 is reached by the cap: the 99,998 most frequent words (down to words seen once)
plus ``<unk>`` and ``</s>``. IMDB train alone has 81,401 distinct words and AG News train (27,948 rows here)
37,522, too few. The continuous output's target table is random unit vectors: a step's cost does not depend on
their values, and fitting 100k domain vectors would take longer than the benchmark.

Threads: 2 (``--threads``) with ``OMP_WAIT_POLICY=PASSIVE``: on a 2-core machine shared with other jobs, OpenMP's
default spinning made one LSTM layer's forward and backward take 5.4 s instead of 0.11 s.

    python benchmarks/lm_throughput.py --json docs/results/lm_throughput.json   # the full run (not yet run)
    python benchmarks/lm_throughput.py --quick                                   # a smoke run: 2,000 reviews

``--quick`` reads the first 2,000 reviews (V = 24,347: every distinct word, below the cap), batch 16, 2 timed steps:
22 s on 2 busy cores. The full run is expected to take a few minutes, most of them the full softmax's steps
(extrapolated from ``--quick``, not measured).

The full softmax needs ~6 N V floats of logits, log-probabilities and gradients alive at once (two directions):
5.4 GB at N = 2240, V = 100k; configurations estimated above ``--memory-gb`` (default 60% of the memory
available) are skipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from output_layers import mem_available_gb, run_child, write_results  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPORA = [DATA / "imdb" / "train.jsonl.gz", DATA / "imdb" / "unlabeled.jsonl.gz"]
LAYERS = ("full", "adaptive", "sampled", "continuous", "encoder")
ALL_LAYERS = LAYERS + ("vmf", "max_margin")


def read_texts(paths, limit=None) -> list[str]:
    texts = []
    for p in paths:
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for line in f:
                texts.append(json.loads(line)["text"])
                if limit and len(texts) >= limit:
                    return texts
    return texts


def estimate_gb(layer: str, V: int, N: int, h: int, k: int) -> float:
    """Peak memory (float32) of what grows with V: the two directions' logits, their log-softmax and gradients,
    and the weights with Adam's state."""
    weights = V * (h + 1) * 4 * 4
    if layer == "full":
        return (2 * 3 * N * V * 4 + weights) / 2**30
    if layer == "sampled":
        return (2 * 3 * N * k * 4 + weights) / 2**30
    return 1.0


# ---------------------------------------------------------------------------------------------- one run (child)
def child(cfg: dict) -> dict:
    import numpy as np
    import torch

    from shoestring.data.vocab import Vocabulary
    from shoestring.learners.lm.config import LMConfig
    from shoestring.learners.lm.data import LMData
    from shoestring.learners.lm.learner import LMLearner
    from shoestring.learners.lm.model import build_model
    from shoestring.training.optim import adam

    torch.set_num_threads(cfg["threads"])
    work = Path(cfg["workdir"])
    vocab = Vocabulary.load(work / "vocab.json")
    stream = np.load(work / "stream.npy", mmap_mode="r")
    L, B = cfg["seq_len"], cfg["batch"]
    n = (len(stream) - 1) // L
    data = LMData(vocab, stream, L, np.arange(n - 1), np.array([n - 1]), {})
    layer = cfg["layer"]
    kind = {"vmf": "continuous", "max_margin": "continuous", "encoder": "continuous"}.get(layer, layer)
    extra = {"targets_dim": cfg["dim"]} if kind == "continuous" else {}
    if layer in ("vmf", "max_margin"):
        extra["loss"] = layer
    c = LMConfig(output_layer=kind, seq_len=L, batch_size=B, samples=cfg["samples"], **extra,
                 **cfg["encoder"]).validate()
    torch.manual_seed(0)
    table = None
    if kind == "continuous":
        table = torch.randn(len(vocab), cfg["dim"])
        table /= torch.linalg.vector_norm(table, dim=1, keepdim=True)  # unit rows: used without a copy
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = build_model(c, vocab, table).train()
    learner = LMLearner(model, data, c)
    params = [p for p in model.parameters() if p.requires_grad]
    if layer == "encoder":  # the output layer's projection is left out: nothing but the encoder trains
        params = [p for n_, p in model.named_parameters() if p.requires_grad and not n_.startswith("output.")]
    opt = adam(params, c.lr)
    rng = np.random.default_rng(0)
    times, loss = [], float("nan")
    for _ in range(cfg["warmup"] + cfg["steps"]):
        t = time.perf_counter()
        batch = learner.batch(rng.integers(0, learner.n_examples, B))
        opt.zero_grad(set_to_none=True)
        if layer == "encoder":
            fwd, _, bwd, _ = model.top_states(batch)
            value = (fwd.mean() + bwd.mean()) / 2
        else:
            value, _ = learner.loss(model, batch, None)
        value.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        times.append(time.perf_counter() - t)
        loss = float(value)
    timed = times[cfg["warmup"]:]
    counts = model.parameter_counts()
    if layer == "encoder":
        counts["total"] -= counts["output"]
        counts["output"] = 0
    return {"ms_median": round(1e3 * statistics.median(timed), 1), "ms_min": round(1e3 * min(timed), 1),
            "tokens_per_second": round(B * L / statistics.median(timed)),
            "peak_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_kb) / 1024, 1),
            "trainable_output": counts["output"], "trainable_total": counts["total"], "last_loss": round(loss, 4),
            **({"cutoffs": model.output.cutoffs} if kind == "adaptive" else {})}


# ---------------------------------------------------------------------------------------------- the runs
def prepare_data(texts, max_vocab: int, workdir: Path) -> dict:
    """Tokenize once; write the id stream and the vocabulary for the runs; say how V was reached."""
    import numpy as np

    from shoestring.learners.lm.data import SPECIALS, prepare

    t = time.perf_counter()
    data = prepare(texts, max_vocab=max_vocab, min_count=1, seq_len=2, valid_fraction=0.01, seed=0)
    distinct = data.stats["distinct_words"]
    np.save(workdir / "stream.npy", data.stream)
    data.vocab.save(workdir / "vocab.json")
    V = len(data.vocab)
    lowest = int(min(c for w, c in zip(data.vocab.tokens, data.vocab.counts) if w not in SPECIALS))
    how = (f"the {V - 2:,} most frequent of {distinct:,} distinct words (down to words seen {lowest} time"
           f"{'s' if lowest > 1 else ''}) + <unk> + </s>" if distinct > V - 2 else
           f"all {distinct:,} distinct words + <unk> + </s> (fewer than the cap of {max_vocab:,})")
    return {"documents": data.stats["documents"], "words": data.stats["tokens"], "stream_tokens": int(len(data.stream)),
            "distinct_words": distinct, "vocabulary": V, "how_V_was_reached": how,
            "prepare_seconds": round(time.perf_counter() - t, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", nargs="+", type=Path, default=CORPORA, help="JSONL(.gz) files with a text field")
    ap.add_argument("--vocab", type=int, default=100_000, help="V: the vocabulary cap (specials included)")
    ap.add_argument("--layers", nargs="+", default=list(LAYERS), choices=ALL_LAYERS)
    ap.add_argument("--batch", type=int, default=64, help="windows per step")
    ap.add_argument("--seq-len", type=int, default=35)
    ap.add_argument("--embedding-dim", type=int, default=128)
    ap.add_argument("--hidden-size", type=int, default=512)
    ap.add_argument("--projection-size", type=int, default=128)
    ap.add_argument("--layers-per-direction", type=int, default=2, dest="lstm_layers")
    ap.add_argument("--dim", type=int, default=100, help="d: the continuous output's target width")
    ap.add_argument("--samples", type=int, default=8192, help="k: the sampled softmax's candidates")
    ap.add_argument("--steps", type=int, default=3, help="timed steps (the median is reported)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--omp-wait-policy", default="PASSIVE", choices=("PASSIVE", "ACTIVE"))
    ap.add_argument("--memory-gb", type=float, default=None,
                    help="skip configurations estimated above this (default: 60%% of the memory available now)")
    ap.add_argument("--limit", type=int, default=None, help="read at most this many texts")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2,000 reviews, batch 16, 2 timed steps")
    ap.add_argument("--json", help="write the settings and results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(json.loads(a.child))))
        return
    if a.quick:
        a.limit, a.batch, a.steps, a.warmup = a.limit or 2000, 16, 2, 1
    budget = a.memory_gb if a.memory_gb is not None else round(0.6 * mem_available_gb(), 1)
    encoder = {"embedding_dim": a.embedding_dim, "hidden_size": a.hidden_size, "projection_size": a.projection_size,
               "layers": a.lstm_layers}
    settings = {"corpus": [str(p) for p in a.corpus], "limit": a.limit, "vocab_cap": a.vocab, "layers": a.layers,
                "batch": a.batch, "seq_len": a.seq_len, "encoder": encoder, "dim": a.dim, "samples": a.samples,
                "steps": a.steps, "warmup": a.warmup, "threads": a.threads, "omp_wait_policy": a.omp_wait_policy,
                "memory_budget_gb": budget, "load_average_at_start": round(os.getloadavg()[0], 2)}
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="lm_throughput_") as tmp:
        texts = read_texts(a.corpus, a.limit)
        corpus = prepare_data(texts, a.vocab, Path(tmp))
        del texts
        V, N = corpus["vocabulary"], a.batch * a.seq_len
        print(f"{corpus['documents']:,} documents, {corpus['words']:,} words; V = {V:,}: {corpus['how_V_was_reached']} "
              f"(prepared in {corpus['prepare_seconds']} s)")
        print(f"batch {a.batch} x {a.seq_len} = {N} positions, both directions; encoder {encoder}; d = {a.dim}, "
              f"k = {a.samples}; {a.threads} threads (OMP_WAIT_POLICY={a.omp_wait_policy}); load average "
              f"{settings['load_average_at_start']} on {os.cpu_count()} CPUs; memory budget {budget} GB")
        print(f"{'layer':<12}{'tokens/s':>10}{'ms/step':>10}{'(min)':>9}{'peak MB':>10}{'output params':>15}"
              f"{'all params':>13}{'vs full':>9}")
        results = []
        for layer in a.layers:
            row = {"layer": layer}
            need = estimate_gb(layer, V, N, a.projection_size or a.hidden_size, a.samples)
            if need > budget:
                row["skipped"] = f"needs ~{need:.1f} GB, budget {budget} GB (--memory-gb)"
            else:
                cfg = {**settings, "layer": layer, "workdir": tmp}
                row.update(run_child(__file__, cfg, a.threads, a.omp_wait_policy))
            results.append(row)
            full = next((x for x in results if x["layer"] == "full" and "ms_median" in x), None)
            if "ms_median" in row:
                if full:
                    row["speedup_vs_full"] = round(full["ms_median"] / row["ms_median"], 2)
                vs = f"{row['speedup_vs_full']:.2f}x" if full else "-"
                print(f"{layer:<12}{row['tokens_per_second']:>10,}{row['ms_median']:>10.0f}{row['ms_min']:>9.0f}"
                      f"{row['peak_mb']:>10.0f}{row['trainable_output']:>15,}{row['trainable_total']:>13,}{vs:>9}",
                      flush=True)
            else:
                print(f"{layer:<12}  {row.get('skipped') or row.get('error')}", flush=True)
    print(f"total {time.time() - t0:.0f} s")
    if a.json:
        write_results(a.json, {"settings": settings, "corpus": corpus, "results": results,
                               "seconds": round(time.time() - t0)})
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
