"""The active-learning tables of docs/benchmarks.md from `shoestring al simulate --json` files.

    python benchmarks/al_tables.py docs/results/al_*.json
"""

from __future__ import annotations

import json
import sys

from shoestring.cli.active import summary_table


def main(paths):
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


if __name__ == "__main__":
    main(sys.argv[1:])
