"""Jobs side by side on a small machine: torch's default threads against one thread per job.

The few-label benchmarks run two seeds side by side on a 2-core machine (``bench fewshot --threads 1``). Until
``cpu_threads`` (``training/threads.py``) the recipe's fine-tuning and every model's inference ignored that
setting and ran with torch's default, one OpenMP thread per core, whose idle workers spin: two jobs were four
busy threads on two cores. This script measures what that costs, on the recipe's heaviest phase: contrastive
fine-tuning of the offline all-MiniLM-L6-v2 on labelled texts (a fixed number of steps, batch 16 anchors + 16
positives, texts cut at 128 tokens as in the recipe), then embedding texts with the tuned encoder.

Each scenario starts ``--jobs`` processes at once, each with ``--threads`` (``default``: torch's choice), and
reports each job's seconds per step and texts embedded per second:

    python benchmarks/threads.py --data ../shared/data/ag_news --clean html --json docs/results/threads.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

SCENARIOS = [(1, "default"), (1, "1"), (2, "default"), (2, "1")]  # (jobs at once, threads of each)


def job(data: str, clean: list[str], texts: int, embed: int, threads: str) -> dict:
    """One process's work: fine-tune MiniLM contrastively on ``texts`` labelled rows (one epoch), then embed
    ``embed`` other rows with the tuned encoder."""
    from pathlib import Path

    from shoestring.bench.baselines import _minilm_path
    from shoestring.bench.fewshot import load_split
    from shoestring.learners.contrastive.config import ContrastiveConfig
    from shoestring.learners.contrastive.labels import fit_contrastive
    from shoestring.registry import load_embedder
    from shoestring.tasks.classify.views import EmbeddingView
    from shoestring.training.threads import cpu_threads

    n = None if threads == "default" else int(threads)
    all_texts, labels = load_split(Path(data), "train", clean)
    lm = load_embedder(_minilm_path())
    with cpu_threads(n):
        import torch

        torch_threads = torch.get_num_threads()
        tuned = fit_contrastive(lm, all_texts[:texts], labels[:texts],
                                ContrastiveConfig(max_epochs=1, seed=0, progress=False))
        t = time.perf_counter()
        EmbeddingView(tuned, "encoder", cache=False).transform(all_texts[texts:texts + embed])
        embed_seconds = time.perf_counter() - t
    tr = tuned.training_
    return {"threads": threads, "torch_threads": torch_threads, "steps": tr["steps"], "train_seconds": tr["seconds"],
            "seconds_per_step": tr["seconds"] / max(tr["steps"], 1), "embed_texts_per_second": embed / embed_seconds}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a dataset folder with train.jsonl.gz (e.g. ag_news)")
    ap.add_argument("--clean", nargs="*", default=[])
    ap.add_argument("--texts", type=int, default=96, help="labelled texts fine-tuned on (one epoch: texts / 16 steps)")
    ap.add_argument("--embed", type=int, default=500, help="texts embedded by the tuned encoder")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--job", help=argparse.SUPPRESS)  # internal: run one job with these threads, print JSON
    a = ap.parse_args(argv)
    if a.job:
        print(json.dumps(job(a.data, a.clean, a.texts, a.embed, a.job)))
        return
    results = []
    for jobs, threads in SCENARIOS:
        cmd = [sys.executable, __file__, "--data", a.data, "--texts", str(a.texts), "--embed", str(a.embed),
               "--job", threads] + (["--clean", *a.clean] if a.clean else [])
        t = time.perf_counter()
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
        outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        wall = time.perf_counter() - t
        row = {"jobs": jobs, "threads": threads, "wall_seconds": round(wall, 1), "runs": outs,
               "seconds_per_step": sum(o["seconds_per_step"] for o in outs) / jobs,
               "embed_texts_per_second": sum(o["embed_texts_per_second"] for o in outs) / jobs}
        results.append(row)
        print(f"{jobs} job(s) x threads {threads}: {row['seconds_per_step']:.2f} s/step, "
              f"{row['embed_texts_per_second']:.1f} texts/s embedded (each job), wall {wall:.0f} s", flush=True)
    if a.json:
        from shoestring.artifacts import cpu_name, write_json

        meta = {"bench": "threads", "data": a.data, "texts": a.texts, "embed": a.embed, "cpus": os.cpu_count(),
                "cpu": cpu_name(), "machine": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M")}
        write_json(a.json, {"meta": meta, "results": results})


if __name__ == "__main__":
    main()
