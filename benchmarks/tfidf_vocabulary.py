"""Which n-grams the few-label recipe's TF-IDF view should keep: those of the unlabeled pool, or those the
labelled texts share. Cross-validated accuracy on the labels (what the recipe can see) and test accuracy
(what it cannot), N = 200, seeds 0-4, logistic regression with C from {0.1, 1, 10, 100} by 5-fold stratified
cross-validation on the labels, exactly the recipe's TF-IDF (its tokenizer, word 1-2 grams, sublinear tf,
min_df 2, L2 rows):

- ``pool``: vocabulary and IDF from the labelled texts + a seeded sample of 20,000 train texts (the view
  before 2026-12-05);
- ``labelled``: IDF from the same texts, vocabulary the n-grams at least two labelled texts share (the
  recipe's default since);
- ``labelled_idf``: vocabulary and IDF from the labelled texts alone (the ``tfidf_lr`` baseline's choice,
  with the recipe's tokenizer).

    python benchmarks/tfidf_vocabulary.py --data ../shared/data/debian_package_descriptions \\
        ../shared/data/chemprot ../shared/data/tweeteval_hate --json docs/results/tfidf_vocabulary.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--pool", type=int, default=20000)
    ap.add_argument("--json")
    a = ap.parse_args(argv)

    from shoestring.bench.fewshot import draw_labelled, drop_unseen_labels, load_split
    from shoestring.tasks.classify.linear import UsedColumnsLR, one_blas_thread
    from shoestring.tasks.classify.folds import stratified_folds as _folds
    from shoestring.tasks.classify.views import TfidfView

    out = {"machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d"),
           "labels": a.labels, "seeds": a.seeds, "results": {}}
    for folder in map(Path, a.data):
        texts, labels = load_split(folder, "train", [])
        test, test_labels = load_split(folder, "test", [])
        test, test_labels, _ = drop_unseen_labels(labels, test, test_labels)
        test_labels = np.asarray(test_labels)
        rng = np.random.default_rng(0)
        pool = [texts[i] for i in sorted(rng.choice(len(texts), min(a.pool, len(texts)), replace=False))]
        rows = {}
        for seed in a.seeds:
            idx = draw_labelled(len(texts), a.labels, seed)
            x = [texts[i] for i in idx]
            classes = sorted(set(labels[i] for i in idx))
            y = np.asarray([classes.index(labels[i]) for i in idx])
            folds = _folds(y, 5, seed)
            views = {"pool": TfidfView().fit(x + pool), "labelled": TfidfView().fit(x + pool, vocabulary_texts=x),
                     "labelled_idf": TfidfView().fit(x)}
            for name, view in views.items():
                X, T = view.transform(x), view.transform(test)
                with one_blas_thread():
                    cv = {C: np.mean([np.mean(UsedColumnsLR(C, seed).fit(X[tr], y[tr]).predict(X[va]) == y[va])
                                      for tr, va in folds]) for C in (0.1, 1.0, 10.0, 100.0)}
                    C = max(cv, key=cv.get)
                    pred = np.asarray(classes)[UsedColumnsLR(C, seed).fit(X, y).predict(T)]
                rows.setdefault(name, []).append({"seed": seed, "C": C, "cv_accuracy": float(cv[C]),
                                                  "test_accuracy": float(np.mean(pred == test_labels)),
                                                  "columns": view.dim})
            print(folder.name, seed, {k: f"cv {v[-1]['cv_accuracy']:.3f} test {v[-1]['test_accuracy']:.3f}"
                                      for k, v in rows.items()}, flush=True)
        out["results"][folder.name] = {k: {"cv_accuracy": float(np.mean([r["cv_accuracy"] for r in v])),
                                           "test_accuracy": float(np.mean([r["test_accuracy"] for r in v])),
                                           "runs": v} for k, v in rows.items()}
    print("\n| dataset | vocabulary | cross-validated accuracy | test accuracy |\n|---|---|---:|---:|")
    for ds, res in out["results"].items():
        for k, v in res.items():
            print(f"| {ds} | {k} | {100 * v['cv_accuracy']:.1f} | {100 * v['test_accuracy']:.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
