"""Which VAMPIRE recipe: decoder batch-norm kept (VAMPIRE) or annealed away (Scholar), posterior batch-norm on
or off. For each recipe: pre-train on the unlabelled train text with the same budget, record the best NPMI and
when it was reached, then train the few-label classifier (200 labels, 5 seeds) with that VAMPIRE.

    python benchmarks/vampire_recipes.py --data ../shared/data/ag_news --clean html --json recipes.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RECIPES = {
    "keep + posterior BN (default)": {},
    "anneal + posterior BN": {"decoder_bn": "anneal"},
    "keep, no posterior BN": {"posterior_bn": False},
    "reference optimizer (lr 1e-3, batch 64)": {"lr": 1e-3, "batch_size": 64},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--clean", nargs="*", default=[])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES))
    ap.add_argument("--json")
    a = ap.parse_args(argv)

    from shoestring.bench.baselines import glove_table
    from shoestring.bench.fewshot import draw_labelled, load_split
    from shoestring.data.config import PrepareConfig
    from shoestring.data.prepare import prepare
    from shoestring.evaluation.metrics import classification_metrics
    from shoestring.learners.vampire.estimator import VAMPIRE
    from shoestring.tasks.classify.estimator import TextClassifier

    folder = Path(a.data)
    tr_texts, tr_labels = load_split(folder, "train", a.clean)
    te_texts, te_labels = load_split(folder, "test", a.clean)
    tmp = Path(tempfile.mkdtemp())
    with open(tmp / "u.jsonl", "w", encoding="utf-8") as f:
        for t in tr_texts:
            f.write(json.dumps({"text": t}) + "\n")
    corpus = prepare(tmp / "u.jsonl", tmp / "prep", PrepareConfig(workers=2), progress=False)
    glove = glove_table()
    records = []
    for name in a.recipes:
        t0 = time.time()
        vae = VAMPIRE(minutes=a.minutes, seed=0, progress=False, **RECIPES[name]).fit(corpus)
        best = max(vae.history_, key=lambda h: h["npmi"])
        rec = {"recipe": name, "settings": RECIPES[name], "best_npmi": vae.npmi_, "best_epoch": best["epoch"],
               "seconds_to_best": round(best["elapsed"], 1), "epochs": len(vae.history_),
               "seconds_per_epoch": round(float(np.median([h["seconds"] for h in vae.history_])), 2),
               "pretrain_seconds": round(time.time() - t0, 1), "npmi_curve": [round(h["npmi"], 4) for h in vae.history_]}
        for method, wv in (("vampire", None), ("vampire_glove", glove)):
            accs, f1s = [], []
            for seed in a.seeds:
                idx = draw_labelled(len(tr_texts), a.labels, seed)
                clf = TextClassifier(vampire=vae, word_vectors=wv, seed=seed, progress=False)
                clf.fit([tr_texts[i] for i in idx], [tr_labels[i] for i in idx], unlabeled=tr_texts)
                m = classification_metrics(te_labels, clf.predict(te_texts), sorted(set(tr_labels)))
                accs.append(m["accuracy"])
                f1s.append(m["macro_f1"])
            rec[f"{method}_accuracy_mean"] = float(np.mean(accs))
            rec[f"{method}_accuracy_std"] = float(np.std(accs, ddof=1))
            rec[f"{method}_macro_f1_mean"] = float(np.mean(f1s))
        records.append(rec)
        print(json.dumps(rec), flush=True)
    meta = {"machine": platform.platform(), "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
            "dataset": folder.name, "labels": a.labels, "seeds": a.seeds, "minutes": a.minutes}
    if a.json:
        Path(a.json).write_text(json.dumps({"meta": meta, "records": records}, indent=2))


if __name__ == "__main__":
    main()
