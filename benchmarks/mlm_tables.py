"""Render the JSON of ``benchmarks/mlm_quality.py`` as the Markdown tables of docs/benchmarks.md.

    python benchmarks/mlm_tables.py docs/results/mlm_quality_*.json docs/results/mlm_finetune_*.json
"""

from __future__ import annotations

import json
import sys


def render(res: dict, source: str = "") -> str:
    """The pre-training table and the methods x N table of one result (the JSON's content)."""
    meta = res["meta"]
    lines = [f"#### {meta['dataset']} ({meta['unlabeled_documents']} unlabelled documents, "
             f"{meta['tokens']['train_tokens'] / 1e6:.1f}M training tokens{'; ' + source if source else ''})", "",
             "| setting ([objective:]m_corr/m_pred) | tokens trained | tokens/s (per CPU-thread-second) | steps "
             "| epochs | validation loss at 15% (its objective's) | top-1 of masked tokens at 15% |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for p in res["pretraining"]:
        top1 = "-" if p.get("valid_top1") is None else f"{100 * p['valid_top1']:.1f}%"
        lines.append(f"| {p['setting']} ({p['budget_minutes']:g} min) | {p['tokens'] / 1e6:.1f}M | "
                     f"{p['tokens_per_second']:,} | {p['steps']:,} | {p['epochs']:.2f} | "
                     f"{p['best_valid_loss_at_15pct']:.3f} | {top1} |")
    return "\n".join(lines + [""] + fewshot_table(res["records"]))


def by_method(records: list[dict]) -> tuple[list[int], dict[str, dict[int, dict]]]:
    """(the N values, {method: {N: record}}) of ``bench fewshot`` records."""
    by: dict[str, dict[int, dict]] = {}
    for r in records:
        by.setdefault(r["method"], {})[r["n_labels"]] = r
    return sorted({r["n_labels"] for r in records}), by


def fewshot_table(records: list[dict], first: str = "method") -> list[str]:
    """The methods x N Markdown table of ``bench fewshot`` records: accuracy ± std / macro-F1 ± std, in %."""
    ns, by = by_method(records)
    lines = [f"| {first} | " + " | ".join(f"N = {n}: accuracy / macro-F1" for n in ns) + " |",
             "|---|" + "---:|" * len(ns)]
    for m, rs in by.items():
        cells = [f"{100 * rs[n]['accuracy_mean']:.1f} ± {100 * rs[n]['accuracy_std']:.1f} / "
                 f"{100 * rs[n]['macro_f1_mean']:.1f} ± {100 * rs[n]['macro_f1_std']:.1f}" if n in rs else "-"
                 for n in ns]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def main(paths):
    for path in paths:
        with open(path, encoding="utf-8") as f:
            print("\n" + render(json.load(f), path))


if __name__ == "__main__":
    main(sys.argv[1:])
