"""The active-learning tables of docs/benchmarks.md from `shoestring al simulate --json` files; with --plots,
the learning-curve SVG beside each JSON is drawn again from it (same name, .svg).

    python benchmarks/al_tables.py docs/results/al_*.json [--plots]
"""

from __future__ import annotations

import json
import sys

from shoestring.cli.active import summary_table


def main(paths, plots=False):
    for p in paths:
        r = json.load(open(p, encoding="utf-8"))
        if "summary" not in r:
            continue
        c = r["config"]
        model = r.get("model", "")
        model = "all-MiniLM-L6-v2" if "minilm" in model.lower() else model
        print(f"#### {r['data'].rstrip('/').split('/')[-1]}: {r['pool_size']:,} pool, {r['test_size']:,} test, "
              f"features {model} ({r.get('embedding_dim')}-d), {c['initial']} random labels then batches of "
              f"{c['batch']} to {c['budget']}, seeds {', '.join(map(str, c['seeds']))} (`{p}`)\n")
        print(summary_table(r))
        print()
        if plots:
            from shoestring.artifacts import write_text
            from shoestring.tasks.active.plot import learning_curves_svg

            title = (f"{r['data'].rstrip('/').split('/')[-1]}: {r['pool_size']:,} pool, {r['test_size']:,} test, "
                     f"b = {c['batch']}, {len(c['seeds'])} seeds, features {model}")
            write_text(p[: -len(".json")] + ".svg", learning_curves_svg(r["summary"], target=r["target_accuracy"],
                                                                         title=title))


if __name__ == "__main__":
    main([a for a in sys.argv[1:] if a != "--plots"], plots="--plots" in sys.argv)
