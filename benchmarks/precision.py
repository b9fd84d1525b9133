"""bfloat16 against float32 for the few-label recipe's encoder: fine-tuning steps and embedding speed.

The recipe (``--precision auto``) runs all-MiniLM-L6-v2's matrix products in bfloat16 under ``torch.autocast``
where the CPU multiplies bf16 natively (AVX512-BF16 or AMX; ``training/precision.py``). This script measures
what that buys on this machine, in one process and one thread (as ``bench fewshot --threads 1`` runs), each
measurement taken ``--repeats`` times with the two precisions alternating, so that a busy machine slows both:

- contrastive fine-tuning of the offline MiniLM on ``--texts`` labelled rows, one epoch (batches of 16 anchors
  + 16 positives, texts cut at 128 tokens, as in the recipe): seconds per step;
- embedding ``--embed`` other rows with the untuned MiniLM (texts cut at 256 tokens, as the recipe's view):
  texts per second, and the cosine of each text's bf16 vector to its float32 one.

    python benchmarks/precision.py --data ../shared/data/ag_news --clean html --json docs/results/precision.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a dataset folder with train.jsonl.gz (e.g. ag_news)")
    ap.add_argument("--clean", nargs="*", default=[])
    ap.add_argument("--texts", type=int, default=96, help="labelled texts fine-tuned on (one epoch: texts / 16 steps)")
    ap.add_argument("--embed", type=int, default=500, help="texts embedded")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)

    from pathlib import Path

    import numpy as np

    from shoestring.bench.baselines import _minilm_path
    from shoestring.bench.fewshot import load_split
    from shoestring.learners.contrastive.config import ContrastiveConfig
    from shoestring.learners.contrastive.labels import fit_contrastive
    from shoestring.registry import load_embedder
    from shoestring.tasks.classify.views import EmbeddingView
    from shoestring.training.precision import native_bf16
    from shoestring.training.threads import cpu_threads

    texts, labels = load_split(Path(a.data), "train", a.clean)
    lm = load_embedder(_minilm_path())
    rows = {"fp32": [], "bf16": []}
    vectors = {}
    with cpu_threads(a.threads):
        for r in range(a.repeats):
            for precision in ("fp32", "bf16"):
                tuned = fit_contrastive(lm, texts[:a.texts], labels[:a.texts],
                                        ContrastiveConfig(max_epochs=1, seed=0, progress=False, precision=precision))
                t = time.perf_counter()
                X = EmbeddingView(lm, "encoder", cache=False, precision=precision).transform(
                    texts[a.texts:a.texts + a.embed])
                seconds = time.perf_counter() - t
                vectors[precision] = X
                tr = tuned.training_
                rows[precision].append({"seconds_per_step": tr["seconds"] / max(tr["steps"], 1),
                                        "embed_texts_per_second": a.embed / seconds})
                print(f"repeat {r + 1}, {precision}: {rows[precision][-1]['seconds_per_step']:.2f} s/step, "
                      f"{rows[precision][-1]['embed_texts_per_second']:.1f} texts/s embedded", flush=True)
    cos = np.sum(vectors["fp32"] * vectors["bf16"], 1)  # both L2-normalized by the view
    summary = {p: {k: float(np.mean([x[k] for x in v])) for k in v[0]} for p, v in rows.items()}
    summary["step_speedup"] = summary["fp32"]["seconds_per_step"] / summary["bf16"]["seconds_per_step"]
    summary["embed_speedup"] = summary["bf16"]["embed_texts_per_second"] / summary["fp32"]["embed_texts_per_second"]
    summary["cosine_bf16_to_fp32"] = {"min": float(cos.min()), "mean": float(cos.mean())}
    print(f"bf16: fine-tuning steps {summary['step_speedup']:.2f}x, embedding {summary['embed_speedup']:.2f}x as "
          f"fast as fp32; vectors at cosine {cos.mean():.6f} (min {cos.min():.6f}) to fp32's; native bf16 on this "
          f"CPU: {native_bf16('cpu')}")
    if a.json:
        from shoestring.artifacts import cpu_name, write_json

        meta = {"bench": "precision", "data": a.data, "texts": a.texts, "embed": a.embed, "threads": a.threads,
                "repeats": a.repeats, "native_bf16": native_bf16("cpu"), "cpus": os.cpu_count(), "cpu": cpu_name(),
                "machine": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M")}
        write_json(a.json, {"meta": meta, "runs": rows, "summary": summary})


if __name__ == "__main__":
    main()
