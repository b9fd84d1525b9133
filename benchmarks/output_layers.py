"""Output-layer cost against vocabulary size: the full, adaptive and sampled softmax and ELMo-C's continuous output.

For each vocabulary size V (30k, 100k, 400k, 800k) and each output layer, one training step on N = 64 x 32 =
2048 positions of hidden size h = 512 (random hidden states that require a gradient, as an encoder's would;
Zipf-distributed target ids, P(w) ~ 1/(w + 1), redrawn every step): forward, backward and an optimizer step.
Reported side by side:

- **ms/step**: the median wall time of ``--steps`` steps after ``--warmup`` (and the fastest, which a busy
  machine disturbs least);
- **peak MB**: the peak resident set size of the run above its baseline. Each (layer, V) runs in a fresh
  process; the baseline is ``getrusage(RUSAGE_SELF).ru_maxrss`` once torch is imported and the batch is built,
  the peak is the same counter after the last step. It counts everything the layer needs: parameters, optimizer
  state, activations, and the continuous output's frozen table (V x 300 float32);
- **trainable**: the parameters the optimizer updates (``trainable_parameters()``).

Layers: ``full`` (Linear h->V + cross-entropy, Adam), ``adaptive`` (``nn.AdaptiveLogSoftmaxWithLoss``, cutoffs
20k/40k/200k below V, div_value 4, Adam), ``sampled`` (k = 8192 log-uniform samples, sparse gradients +
``SparseAdam``, as ELMo's reference updates only the touched rows), ``sampled_dense`` (the same with dense
gradients and Adam: every step then updates all V x h weights), ``cosine`` and ``vmf`` (the continuous output to
d = 300 targets, Adam on the projection; vMF with the exact log C_m(κ), computed on the CPU). ``max_margin`` and
``vmf_approx`` can be added with ``--layers``. 2 threads (``--threads``), with ``OMP_WAIT_POLICY=PASSIVE``
(``--omp-wait-policy``): on a 2-core machine shared with other jobs, OpenMP's default spinning made a 9 ms step
take 270 ms (each parallel region waits for a thread the kernel has descheduled); passive waiting costs
microseconds per region on an idle machine. The load average at the start is printed and saved.

A configuration whose estimated memory exceeds ``--memory-gb`` (default: 60% of the memory available now) is
skipped, not run: the full softmax at V = 800k needs ~24 GiB (three N x V float32 buffers of logits, their
log-softmax and gradient, plus weights and Adam state). Each child also runs under an address-space limit of its
baseline plus that budget, so a wrong estimate ends in an "out of memory" row, not in a swapping machine.

    python benchmarks/output_layers.py --json docs/results/output_layers.json      # the full sweep (see below)
    python benchmarks/output_layers.py --quick                                      # smoke run, ~1 minute

The full sweep's time is dominated by the full softmax (6 N h V flops a step: ~630 GFLOP at V = 100k, about 10 s
a step on 2 shared cores by extrapolation from ``--quick``) and by ``sampled_dense``'s Adam over V x h. With the
default budget on a 23 GB machine the full softmax is skipped from V = 400k (~12 GiB); expect roughly 5-10 minutes
(estimated, not yet run), more with ``--memory-gb 16`` (V = 400k full softmax: ~40 s a step).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

VOCABS = (30_000, 100_000, 400_000, 800_000)
LAYERS = ("full", "adaptive", "sampled", "sampled_dense", "cosine", "vmf")
ALL_LAYERS = LAYERS + ("max_margin", "vmf_approx")


def estimate_bytes(layer: str, V: int, N: int, h: int, d: int, k: int) -> int:
    """A rough peak-memory estimate (float32), to skip what cannot fit before trying it."""
    params_adam = 4 * 4  # weight, its gradient and Adam's two moments
    if layer == "full":
        return 3 * N * V * 4 + V * (h + 1) * params_adam
    if layer == "sampled_dense":
        return V * (h + 1) * params_adam + 3 * N * k * 4
    if layer == "sampled":
        return V * (h + 1) * 4 * 3 + 3 * N * k * 4  # weights + SparseAdam's two dense moments
    if layer == "adaptive":
        return 3 * N * min(V, 20_000) * 4 + 25_000_000 * params_adam
    return V * d * 4 + N * k * 4 + h * d * params_adam  # the frozen table dominates


def mem_available_gb() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 8.0


def run_child(script: str, cfg: dict, threads: int, wait_policy: str) -> dict:
    """Run ``script --child CFG`` in a fresh process (so each measurement has its own peak memory) and return the
    JSON it prints last, or ``{"error": its last stderr line}``."""
    r = subprocess.run([sys.executable, script, "--child", json.dumps(cfg)], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": wait_policy})
    if r.returncode:
        return {"error": (r.stderr.strip().splitlines() or ["killed"])[-1][:200]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_results(path, payload: dict) -> None:
    """Write a benchmark's results as JSON with the machine they were measured on."""
    import torch

    from shoestring.artifacts import cpu_name

    machine = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
               "cpus": os.cpu_count(), "cpu": cpu_name()}
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**payload, "machine": machine}, f, indent=2)


# ---------------------------------------------------------------------------------------------- one run (child)
def build(layer: str, V: int, h: int, d: int, k: int):
    import torch

    from shoestring.learners.lm.outputs import AdaptiveSoftmax, ContinuousOutput, FullSoftmax, SampledSoftmax

    if layer == "full":
        out = FullSoftmax(h, V)
    elif layer == "adaptive":
        out = AdaptiveSoftmax(h, V)
    elif layer in ("sampled", "sampled_dense"):
        out = SampledSoftmax(h, V, num_samples=min(k, V), sparse=layer == "sampled")
    else:
        E = torch.randn(V, d)
        E /= torch.linalg.vector_norm(E, dim=1, keepdim=True)  # in place: unit rows are taken without a copy
        loss = {"cosine": "cosine", "max_margin": "max_margin", "vmf": "vmf", "vmf_approx": "vmf"}[layer]
        out = ContinuousOutput(h, E, loss, log_normalizer="approx" if layer == "vmf_approx" else "exact")
    if layer == "sampled":
        opt = torch.optim.SparseAdam(list(out.parameters()), lr=1e-3)
    else:
        opt = torch.optim.Adam([p for p in out.parameters() if p.requires_grad], lr=1e-3)
    return out, opt


def child(cfg: dict) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    V, N, h = cfg["vocab"], cfg["batch"] * cfg["seq"], cfg["hidden"]
    rng = np.random.default_rng(0)
    steps = cfg["warmup"] + cfg["steps"]
    # Zipf targets: the log-uniform inverse CDF, P(w) = log((w + 2)/(w + 1)) / log(V + 1) ~ 1/(w + 1)
    targets = [torch.from_numpy(np.minimum(np.floor(np.exp(rng.random(N) * np.log(V + 1))).astype(np.int64) - 1,
                                           V - 1)) for _ in range(steps)]
    hidden = torch.randn(N, h, requires_grad=True)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    limit = _vm_size() + int(cfg["budget_gb"] * 2**30)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass
    try:
        out, opt = build(cfg["layer"], V, h, cfg["dim"], cfg["samples"])
        out.train()
        times, loss = [], float("nan")
        for i in range(steps):
            t = time.perf_counter()
            loss = out(hidden, targets[i])
            opt.zero_grad(set_to_none=True)
            hidden.grad = None
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
    except (MemoryError, RuntimeError) as err:
        if isinstance(err, RuntimeError) and "alloc" not in str(err).lower():
            raise
        return {"error": "out of memory under the budget", "detail": str(err)[:200]}
    timed = times[cfg["warmup"]:]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"ms_median": round(1e3 * statistics.median(timed), 1), "ms_min": round(1e3 * min(timed), 1),
            "peak_mb": round((peak_kb - base_kb) / 1024, 1), "trainable": out.trainable_parameters(),
            "last_loss": round(loss.item(), 4)}


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------------------------------------- the sweep
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, nargs="+", default=list(VOCABS), help="vocabulary sizes V")
    ap.add_argument("--layers", nargs="+", default=list(LAYERS), choices=ALL_LAYERS)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=512, help="h, the encoder's hidden size")
    ap.add_argument("--dim", type=int, default=300, help="d, the continuous output's target dimension")
    ap.add_argument("--samples", type=int, default=8192, help="k, the sampled softmax's samples (and max_margin's)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--omp-wait-policy", default="PASSIVE", choices=("PASSIVE", "ACTIVE"),
                    help="OMP_WAIT_POLICY of the runs (PASSIVE: threads sleep at barriers instead of spinning)")
    ap.add_argument("--memory-gb", type=float, default=None,
                    help="skip configurations estimated above this (default: 60%% of the memory available now)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: V 5k and 20k, small batch, 2 timed steps")
    ap.add_argument("--json", help="write the settings and results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(json.loads(a.child))))
        return
    if a.quick:
        a.vocab, a.batch, a.steps, a.warmup, a.samples = [5_000, 20_000], 16, 2, 1, 1024
    budget = a.memory_gb if a.memory_gb is not None else round(0.6 * mem_available_gb(), 1)
    settings = {k: getattr(a, k) for k in ("vocab", "layers", "batch", "seq", "hidden", "dim", "samples", "steps",
                                           "warmup", "threads", "omp_wait_policy")}
    settings["memory_budget_gb"] = budget
    load = os.getloadavg()[0]
    settings["load_average_at_start"] = round(load, 2)
    N = a.batch * a.seq
    print(f"N = {a.batch} x {a.seq} = {N} positions, h = {a.hidden}, d = {a.dim}, k = {a.samples}, "
          f"{a.threads} threads (OMP_WAIT_POLICY={a.omp_wait_policy}), memory budget {budget} GB, "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    if load > (os.cpu_count() or 1) - a.threads + 0.5:
        print("warning: the machine is busy; times are inflated and noisy (the fastest step, '(min)', suffers least)")
    print(f"{'V':>9}  {'layer':<14}{'ms/step':>10}{'(min)':>9}{'peak MB':>10}{'trainable':>14}")
    results = []
    t0 = time.time()
    for V in a.vocab:
        for layer in a.layers:
            row = {"vocab": V, "layer": layer}
            need = estimate_bytes(layer, V, N, a.hidden, a.dim, a.samples) / 2**30
            if need > budget:
                row["skipped"] = f"needs ~{need:.1f} GB, budget {budget} GB (--memory-gb)"
            else:
                cfg = {**settings, "vocab": V, "layer": layer, "budget_gb": budget}
                row.update(run_child(__file__, cfg, a.threads, a.omp_wait_policy))
            results.append(row)
            if "ms_median" in row:
                print(f"{V:>9,}  {layer:<14}{row['ms_median']:>10.1f}{row['ms_min']:>9.1f}{row['peak_mb']:>10.1f}"
                      f"{row['trainable']:>14,}", flush=True)
            else:
                print(f"{V:>9,}  {layer:<14}  {row.get('skipped') or row.get('error')}", flush=True)
    print(f"total {time.time() - t0:.0f} s")
    if a.json:
        write_results(a.json, {"settings": settings, "results": results, "seconds": round(time.time() - t0)})
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
