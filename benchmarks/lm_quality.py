"""Quality of the bidirectional LSTM LM's output layers at equal CPU time: few-label accuracy and word ranks.

ELMo-C's claim (Li et al. 2019) is that the continuous output trains several times faster than a softmax with
comparable downstream results. Here the same LM (``LMConfig``'s defaults: 128-d inputs, 2 layers x 512 LSTM
cells projected to h = 128, windows of 35 tokens, batch 64) is trained on the dataset's unlabelled text (the
train split's texts, labels never read, plus any ``unlabeled`` split) once per output layer (``--layers``,
default ``continuous full``) for the same budget counted in CPU time per thread (``--clock cpu``: other jobs
on a shared machine do not change how much training each layer gets). Then:

- **intrinsic**: the rank of the true next (forward) / previous (backward) word among all V under the model's
  own scores, on held-out windows: for the continuous output the nearest neighbours of the predicted vector ê
  among the target embeddings (cosine), for a softmax the most probable words. Mean rank, top-1 and top-10 at
  the best evaluation (``LMConfig.eval_tokens`` targets per direction).
- **few-label**: each model's ``transform`` features (ELMo's [x; ->h; <-h] averaged over a text's tokens) with
  logistic regression (C by 5-fold CV on the N labels, ``bench fewshot``'s ``embedder_lr``), N labels x 5 seeds,
  the protocol of ``../shared/data/README.md``; TF-IDF + LR beside them (``--baselines``) for scale.

    python benchmarks/lm_quality.py --data ../shared/data/ag_news --clean html --layers continuous full adaptive \\
        --minutes 10 --threads 1 --json docs/results/lm_quality_ag_news.json
    python benchmarks/lm_quality.py --data ../shared/data/20newsgroups --clean email --minutes 10 --threads 1 \\
        --json docs/results/lm_quality_20newsgroups.json

Trained models are kept in ``--workdir`` and reused by a later run with the same settings. Tables (the files of
one dataset merged): ``python benchmarks/lm_quality.py --render docs/results/lm_quality_*.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="dataset folder with train.jsonl.gz and test.jsonl.gz")
    ap.add_argument("--clean", nargs="*", default=[])
    ap.add_argument("--layers", nargs="+", default=["continuous", "full"],
                    help="output layers to compare (continuous, full, adaptive, sampled)")
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget per output layer")
    ap.add_argument("--clock", default="cpu", choices=("cpu", "wall"))
    ap.add_argument("--threads", type=int, default=1, help="torch threads for training and features")
    ap.add_argument("--labels", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--baselines", nargs="*", default=["tfidf_lr"])
    ap.add_argument("--workdir", default="bench-work")
    ap.add_argument("--json")
    ap.add_argument("--render", nargs="+", metavar="JSON", help="only print the tables of these result files")
    a = ap.parse_args(argv)
    if a.render:  # files of one dataset (e.g. another output layer trained later) are shown as one
        merged: dict[str, dict] = {}
        for path in a.render:
            res = json.loads(Path(path).read_text())
            m = merged.setdefault(res["meta"]["dataset"], {"meta": res["meta"], "pretraining": [], "records": [],
                                                            "sources": []})
            m["pretraining"] += res["pretraining"]
            m["records"] += res["records"]
            m["sources"].append(path)
        for res in merged.values():
            print("\n" + render(res, ", ".join(res.pop("sources"))))
        return
    if not a.data:
        ap.error("--data is required (or --render)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import torch

    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import load_split, run_fewshot
    from shoestring.learners.lm.estimator import LanguageModel

    torch.set_num_threads(a.threads)
    folder = Path(a.data)
    work = Path(a.workdir) / folder.name
    work.mkdir(parents=True, exist_ok=True)
    texts = load_split(folder, "train", a.clean)[0] + (load_split(folder, "unlabeled", a.clean) or ([], []))[0]

    pretraining, records, models = [], [], {}
    for layer in a.layers:
        out = work / f"lm-{layer}-{a.minutes:g}min-{a.clock}-t{a.threads}"
        if not out.exists():
            lm = LanguageModel(output_layer=layer, minutes=a.minutes, clock=a.clock, threads=a.threads,
                               max_epochs=1000, seed=0, progress=False).fit(texts)
            lm.save_pretrained(out)
        lm = LanguageModel.from_pretrained(out)
        t, v = lm.training_, lm.training_.get("validation", {})
        rec = {"layer": layer, "budget_minutes": a.minutes, "clock": a.clock, "threads": a.threads,
               "vocabulary": len(lm.vocab_), "tokens": t["tokens"], "tokens_per_second": t["tokens_per_second"],
               "steps": t["steps"], "stop_reason": t["stop_reason"],
               # each training token is a target of both directions; a window gives seq_len - 1 of them
               "epochs": t["tokens"] / (lm.data_["train_windows"] * (lm.data_["seq_len"] - 1)),
               "trainable_parameters": t["parameters"], "targets_seconds": t.get("targets_seconds"),
               "data_seconds": t.get("data_seconds"), "valid_targets_per_direction": t["valid_targets_per_direction"],
               **{k: v[k] for k in ("valid_mean_rank", "valid_top1", "valid_top10", "valid_perplexity") if k in v},
               "targets": getattr(lm, "targets_", None)}
        pretraining.append(rec)
        print(json.dumps(rec), flush=True)
        models[layer] = out

    common = dict(data=str(folder), labels=a.labels, seeds=a.seeds, clean=a.clean, workdir=a.workdir,
                  threads=a.threads)
    for layer, path in models.items():
        for r in run_fewshot(FewshotConfig(methods=["embedder_lr"], embedder=str(path), **common)):
            r["method"] = f"lm [{layer}]"
            records.append(r)
    if a.baselines:
        records += run_fewshot(FewshotConfig(methods=a.baselines, **common))
    from shoestring.artifacts import cpu_name

    meta = {"machine": platform.platform(), "cpu": cpu_name(), "date": time.strftime("%Y-%m-%d"),
            "command": " ".join(sys.argv), "dataset": folder.name, "unlabeled_documents": len(texts)}
    result = {"meta": meta, "pretraining": pretraining, "records": records}
    if a.json:
        from shoestring.artifacts import write_json

        write_json(a.json, result)
    print("\n" + render(result, a.json or ""))


def render(res: dict, source: str = "") -> str:
    """The pre-training table (throughput, ranks) and the few-label table of one result, and the continuous
    output's accuracy against each softmax layer's."""
    meta, pre = res["meta"], res["pretraining"]
    lines = [f"#### {meta['dataset']} ({meta['unlabeled_documents']:,} unlabelled documents"
             f"{'; ' + source if source else ''})", "",
             "| output layer | budget | V | tokens trained | tokens/s | epochs | trainable output parameters "
             "| valid mean rank | top-1 | top-10 |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in pre:
        lines.append(f"| {p['layer']} | {p['budget_minutes']:g} min {p['clock']}, {p['threads']} thread(s) | "
                     f"{p['vocabulary']:,} | {p['tokens'] / 1e6:.2f}M | {p['tokens_per_second']:,} | "
                     f"{p['epochs']:.2f} | {p['trainable_parameters']['output']:,} | "
                     f"{p['valid_mean_rank']:,.0f} | {100 * p['valid_top1']:.1f}% | {100 * p['valid_top10']:.1f}% |")
    sys.path.insert(0, str(Path(__file__).parent))
    from mlm_tables import by_method, fewshot_table

    lines += [""] + fewshot_table(res["records"], "features + LR")
    ns, by = by_method(res["records"])
    cont = by.get("lm [continuous]")
    for softmax in [p["layer"] for p in pre if p["layer"] != "continuous"]:
        ref = by.get(f"lm [{softmax}]")
        if not (cont and ref):
            continue
        lines.append("")
        for n in ns:
            if n in cont and n in ref:
                d = 100 * (cont[n]["accuracy_mean"] - ref[n]["accuracy_mean"])
                verdict = "within 1 point of or above" if d >= -1 else "MORE than 1 point below"
                lines.append(f"N = {n}: continuous {100 * cont[n]['accuracy_mean']:.1f} vs {softmax} "
                             f"{100 * ref[n]['accuracy_mean']:.1f} ({d:+.1f}): {verdict} the {softmax} softmax model.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
