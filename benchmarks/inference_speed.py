"""Inference speed of the few-label classifiers: documents per second on test texts no cache has seen.

    python benchmarks/inference_speed.py --data ../shared/data/chemprot --labels 200 --docs 2000 \
        --json docs/results/inference_chemprot.json

Each method is fitted once on N labelled rows (the protocol's draw, seed 0). MiniLM + LR fits and predicts in
one call (``run_baseline``), so its inference time is the difference between predicting ``--docs`` test texts
and predicting one (the same fit in both, measured side by side); TF-IDF + LR and GloVe + LR, whose inference
takes milliseconds, are timed directly (their features of the test texts and the predict); the recipe (`auto`, `auto_own`) is
fitted with a ``--minutes`` budget (its inference cost depends on the views it keeps, not on how long it
trained) and its ``predict`` is timed on the test texts outside any cache. VAMPIRE comes from the
``bench fewshot`` workdir (pre-trained once per dataset), the domain word vectors are fitted here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--clean", nargs="*", default=[])
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=3.0, help="the recipe's fit budget")
    ap.add_argument("--methods", nargs="+", default=["tfidf_lr", "glove_lr", "minilm_lr", "auto", "auto_own"])
    ap.add_argument("--workdir", default="bench-work")
    ap.add_argument("--json")
    a = ap.parse_args()

    from shoestring.bench.baselines import _minilm_path, run_baseline
    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import draw_labelled, load_split, pretrain_vampire
    from shoestring.learners.vectors.ppmi import WordVectors
    from shoestring.tasks.classify.recipe import FewLabelClassifier

    folder = Path(a.data)
    tr_texts, tr_labels = load_split(folder, "train", a.clean)
    te_texts, _ = load_split(folder, "test", a.clean)
    test = [te_texts[i] for i in np.random.default_rng(1).choice(len(te_texts), min(a.docs, len(te_texts)),
                                                                  replace=False)]
    idx = draw_labelled(len(tr_texts), a.labels, a.seed)
    x, y = [tr_texts[i] for i in idx], [tr_labels[i] for i in idx]
    chosen = set(idx.tolist())
    unlabelled = [t for i, t in enumerate(tr_texts) if i not in chosen]
    out = {"data": a.data, "n_labels": a.labels, "seed": a.seed, "test_docs": len(test),
           "date": time.strftime("%Y-%m-%d"), "methods": {}}
    vae = wv = None
    for m in a.methods:
        if m in ("auto", "auto_own"):
            if vae is None:
                vae, _ = pretrain_vampire(FewshotConfig(data=a.data, workdir=a.workdir), tr_texts, folder.name)
                wv = WordVectors().fit(tr_texts)
            clf = FewLabelClassifier(vampire=vae, word_vectors=wv, encoder=_minilm_path() if m == "auto" else None,
                                     seed=a.seed, minutes=a.minutes)
            t0 = time.perf_counter()
            clf.fit(x, y, unlabeled=unlabelled)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            clf.predict(test)
            pred_s = time.perf_counter() - t0
            extra = {"chosen": clf.training_["chosen"], "contrastive": clf.training_["contrastive"]["used"]}
        elif m in ("tfidf_lr", "glove_lr"):  # milliseconds: a difference of two fits would be noise, so the
            # baseline's own features and a fitted logistic regression are timed on the test texts directly
            from sklearn.feature_extraction.text import TfidfVectorizer

            from shoestring.bench import baselines as B
            from shoestring.tasks.classify.linear import logistic_regression

            t0 = time.perf_counter()
            if m == "tfidf_lr":
                vec = TfidfVectorizer(ngram_range=B.NGRAM_RANGE, sublinear_tf=True, min_df=2).fit(x)
                featurize = vec.transform
            else:
                featurize = B._glove_features
            lr = logistic_regression(1.0, a.seed).fit(featurize(x), y)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            lr.predict(featurize(test))
            pred_s, extra = time.perf_counter() - t0, {"timed": "features of the test texts + predict"}
        else:
            t0 = time.perf_counter()
            run_baseline(m, x, y, test[:1], unlabeled_texts=unlabelled, seed=a.seed)
            one = time.perf_counter() - t0
            t0 = time.perf_counter()
            run_baseline(m, x, y, test, unlabeled_texts=unlabelled, seed=a.seed)
            full = time.perf_counter() - t0
            fit_s, pred_s, extra = one, max(full - one, 1e-9), {"timed": "fit + predict N test texts minus "
                                                                            "fit + predict one"}
        out["methods"][m] = {"fit_seconds": round(fit_s, 2), "predict_seconds": round(pred_s, 3),
                             "docs_per_second": round(len(test) / pred_s, 1), **extra}
        print(f"{m:10s} fit {fit_s:7.1f} s   predict {len(test)} docs {pred_s:7.2f} s   "
              f"{len(test) / pred_s:9.1f} docs/s   {extra}", flush=True)
    if a.json:  # an existing file of the same data keeps its other methods (re-run one with --methods)
        from shoestring.artifacts import write_json

        old = json.loads(Path(a.json).read_text()) if Path(a.json).exists() else {}
        if old.get("data") == a.data and old.get("test_docs") == out["test_docs"]:
            out["methods"] = {**old.get("methods", {}), **out["methods"]}
        write_json(a.json, out)


if __name__ == "__main__":
    main()
