"""Inference speed of the few-label classifiers: documents per second on test texts no cache has seen.

    python benchmarks/inference_speed.py --data ../shared/data/chemprot --labels 200 --docs 2000 --threads 1 \
        --json docs/results/inference_chemprot.json

Each method is fitted once on N labelled rows (the protocol's draw, seed 0), in one process with ``--threads``
CPU threads (1: a job per core, as ``bench fewshot --threads 1`` runs them), and its training time is recorded
beside its inference speed. TF-IDF + LR, GloVe + LR and MiniLM + LR are timed directly: the baseline's features
of the test texts and a fitted logistic regression's predict; SetFit (``--setfit-steps`` contrastive steps, as in
``bench fewshot``) reports its own training seconds, and its inference time is the rest of the call; the
recipe (`auto`, `auto_own`) is fitted with its ``--minutes`` budget (10, its default: its inference cost depends on
the views it keeps, a blend reading the encoder twice) and its ``predict`` is timed on the test texts outside any
cache. VAMPIRE comes from the ``bench fewshot`` workdir (pre-trained once per dataset), the domain word vectors are
fitted here.
"""

from __future__ import annotations

import argparse
import json
import platform
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
    ap.add_argument("--minutes", type=float, default=10.0, help="the recipe's fit budget")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch and BLAS) for everything")
    ap.add_argument("--setfit-steps", type=int, default=100, help="setfit: contrastive steps (0: no cap)")
    ap.add_argument("--methods", nargs="+",
                    default=["tfidf_lr", "glove_lr", "minilm_lr", "setfit", "auto", "auto_own"])
    ap.add_argument("--workdir", default="bench-work")
    ap.add_argument("--json")
    a = ap.parse_args()

    from shoestring.bench.fewshot import draw_labelled, load_split
    from shoestring.training.threads import cpu_threads

    folder = Path(a.data)
    tr_texts, tr_labels = load_split(folder, "train", a.clean)
    te_texts, _ = load_split(folder, "test", a.clean)
    test = [te_texts[i] for i in np.random.default_rng(1).choice(len(te_texts), min(a.docs, len(te_texts)),
                                                                  replace=False)]
    idx = draw_labelled(len(tr_texts), a.labels, a.seed)
    x, y = [tr_texts[i] for i in idx], [tr_labels[i] for i in idx]
    chosen = set(idx.tolist())
    unlabelled = [t for i, t in enumerate(tr_texts) if i not in chosen]
    out = {"data": a.data, "n_labels": a.labels, "seed": a.seed, "test_docs": len(test), "threads": a.threads,
           "minutes": a.minutes, "date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
           "methods": {}}
    with cpu_threads(a.threads):
        _measure(a, out, x, y, test, unlabelled, tr_texts, folder)
    if a.json:  # an existing file of the same measurement keeps its other methods (re-run one with --methods)
        from shoestring.artifacts import write_json

        old = json.loads(Path(a.json).read_text()) if Path(a.json).exists() else {}
        if all(old.get(k) == out[k] for k in ("data", "n_labels", "seed", "test_docs", "threads", "minutes")):
            out["methods"] = {**old.get("methods", {}), **out["methods"]}
        write_json(a.json, out)


def _measure(a, out, x, y, test, unlabelled, tr_texts, folder):
    from shoestring.bench.baselines import _minilm_path, run_baseline
    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import pretrain_vampire, recipe_record
    from shoestring.learners.vectors.ppmi import WordVectors
    from shoestring.tasks.classify.recipe import FewLabelClassifier

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
            rec = recipe_record(clf.training_)
            extra = {k: rec[k] for k in ("chosen", "contrastive", "contrastive_use", "precision")}
        elif m in ("tfidf_lr", "glove_lr", "minilm_lr"):  # the baseline's own features, C chosen by its 5-fold
            # cross-validation and the fit (MiniLM: loading the model too); then the test texts' features and
            # predict (MiniLM's embeddings are cached per text: none of the test texts was seen before)
            from shoestring.bench.baselines import fit_baseline

            t0 = time.perf_counter()
            model = fit_baseline(m, x, y, seed=a.seed)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.predict(test)
            pred_s, extra = time.perf_counter() - t0, {"timed": "features of the test texts + predict", "C": model.lr.C}
        elif m == "setfit":  # SetFit times its own training (model load, contrastive steps, head)
            info: dict = {}
            t0 = time.perf_counter()
            run_baseline(m, x, y, test, seed=a.seed, max_steps=a.setfit_steps, info=info)
            full = time.perf_counter() - t0
            fit_s, pred_s = info["train_seconds"], full - info["train_seconds"]
            extra = {"steps": info["steps"], "timed": "the call minus SetFit's own training seconds"}
        else:
            raise SystemExit(f"unknown method {m!r}: choose from tfidf_lr, glove_lr, minilm_lr, setfit, auto, "
                             "auto_own")
        out["methods"][m] = {"fit_seconds": round(fit_s, 2), "predict_seconds": round(pred_s, 3),
                             "docs_per_second": round(len(test) / pred_s, 1), **extra}
        print(f"{m:10s} fit {fit_s:7.1f} s   predict {len(test)} docs {pred_s:7.2f} s   "
              f"{len(test) / pred_s:9.1f} docs/s   {extra}", flush=True)


if __name__ == "__main__":
    main()
