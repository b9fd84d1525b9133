"""Render the JSON of ``benchmarks/mlm_quality.py`` as the Markdown tables of docs/benchmarks.md.

    python benchmarks/mlm_tables.py docs/results/mlm_quality_*.json docs/results/mlm_finetune_*.json
"""

from __future__ import annotations

import json
import sys


def main(paths):
    for path in paths:
        res = json.load(open(path))
        meta = res["meta"]
        print(f"\n#### {meta['dataset']} ({meta['unlabeled_documents']} unlabelled documents, "
              f"{meta['tokens']['train_tokens'] / 1e6:.1f}M training tokens; {path})\n")
        print("| setting (m_corr/m_pred) | tokens trained | tokens/s (per CPU-thread-second) | steps | epochs "
              "| validation MLM loss at 15% |")
        print("|---|---:|---:|---:|---:|---:|")
        for p in res["pretraining"]:
            print(f"| {p['setting']} ({p['budget_minutes']:g} min) | {p['tokens'] / 1e6:.1f}M | "
                  f"{p['tokens_per_second']:,} | {p['steps']:,} | {p['epochs']:.2f} | "
                  f"{p['best_valid_loss_at_15pct']:.3f} |")
        recs = res["records"]
        ns = sorted({r["n_labels"] for r in recs})
        by: dict[str, dict[int, dict]] = {}
        for r in recs:
            by.setdefault(r["method"], {})[r["n_labels"]] = r
        print("\n| method | " + " | ".join(f"N = {n}" for n in ns) + " |")
        print("|---|" + "---:|" * len(ns))
        for m, rs in by.items():
            cells = [f"{100 * rs[n]['accuracy_mean']:.1f} ± {100 * rs[n]['accuracy_std']:.1f} / "
                     f"{100 * rs[n]['macro_f1_mean']:.1f}" if n in rs else "-" for n in ns]
            print(f"| {m} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
