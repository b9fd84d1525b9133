"""Contrastive fine-tuning from labels at a fixed time budget: every layer, or only the top k on cached states
of the frozen rest (``ContrastiveConfig.train_layers``). The few-label recipe gives its final fine-tuning a
few minutes of one core; a cheaper step buys more of them. Which trains the better encoder in that time?

Scored on held-out rows of the *train* split (never the test split): N labelled rows drawn as ``bench
fewshot`` draws them, ``--val`` other train rows as the validation set. Each variant fine-tunes the offline
all-MiniLM-L6-v2 for at most ``--seconds`` (and the recipe's 10 epochs), then its L2-normalized mean-pooled
embeddings get the recipe's linear head (C from the recipe's grid by 5-fold cross-validation on the N rows;
the validation score at every C of the grid is reported too, since a tuned encoder has seen the rows that
cross-validation holds out and scores about 100% at any C, which the recipe avoids by nested cross-validation);
``frozen`` is the same head on the untuned encoder; ``setfit`` is the bench fewshot baseline (SetFit, 100 steps)
trained on the same N rows and scored on the same validation rows.

    python benchmarks/contrastive_layers.py --data ../shared/data/ag_news --clean html --labels 200 \
        --seconds 150 --variants frozen all 3 2 --json docs/results/contrastive_layers_ag_news_200.json
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
    ap.add_argument("--data", required=True)
    ap.add_argument("--clean", nargs="*", default=[])
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val", type=int, default=2000, help="held-out train rows scored")
    ap.add_argument("--seconds", type=float, default=150.0, help="time budget of each fine-tuning")
    ap.add_argument("--epochs", type=int, default=10, help="epoch cap of each fine-tuning (the recipe's)")
    ap.add_argument("--variants", nargs="+", default=["frozen", "all", "3", "2"],
                    help="frozen (no fine-tuning), all (every layer), k (the top k layers), or setfit (the "
                         "bench baseline, 100 steps)")
    ap.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (the recipe's)")
    ap.add_argument("--temperature", type=float, default=0.05, help="InfoNCE temperature (the recipe's)")
    ap.add_argument("--loss", default="infonce", choices=("infonce", "cosine"), help="the fine-tuning's loss")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args(argv)

    import torch

    from shoestring.bench.baselines import _minilm_path
    from shoestring.bench.fewshot import draw_labelled, load_split
    from shoestring.evaluation.metrics import accuracy_and_macro_f1
    from shoestring.learners.contrastive.config import ContrastiveConfig
    from shoestring.learners.contrastive.labels import fit_contrastive
    from shoestring.learners.mlm.estimator import MaskedLM
    from shoestring.tasks.classify.linear import UsedColumnsLR
    from shoestring.tasks.classify.folds import stratified_folds as _folds
    from shoestring.tasks.classify.candidates import best_key
    from shoestring.tasks.classify.recipe import FewLabelClassifier
    from shoestring.tasks.classify.views import EmbeddingView

    torch.set_num_threads(a.threads)
    texts, labels = load_split(Path(a.data), "train", a.clean)
    idx = draw_labelled(len(texts), a.labels, a.seed)
    rest = np.setdiff1d(np.arange(len(texts)), idx)
    val = np.random.default_rng([a.seed, 7]).choice(rest, min(a.val, len(rest)), replace=False)
    classes = sorted({labels[i] for i in idx})
    val = np.asarray([i for i in val if labels[i] in classes])
    x, xv = [texts[i] for i in idx], [texts[i] for i in val]
    y = np.asarray([classes.index(labels[i]) for i in idx])
    yv = np.asarray([classes.index(labels[i]) for i in val])
    lm = MaskedLM.from_pretrained(_minilm_path())
    head = FewLabelClassifier(seed=a.seed)  # its cross-validation of C on the N rows, as the recipe does it
    head.classes_ = classes
    folds = _folds(y, 5, a.seed)

    results = []
    for variant in a.variants:
        t0 = time.perf_counter()
        info = {}
        if variant == "setfit":  # the bench baseline (100 steps of 16 pairs), on the same rows, for comparison
            from shoestring.bench.baselines import run_baseline

            pred, _ = run_baseline("setfit", x, [labels[i] for i in idx], xv, seed=a.seed, max_steps=100, info=info)
            acc, f1 = accuracy_and_macro_f1(yv, np.asarray([classes.index(p) for p in pred]), len(classes))
            row = {"variant": variant, "val_accuracy": acc, "val_macro_f1": f1, **info,
                   "total_seconds": round(time.perf_counter() - t0, 1)}
            results.append(row)
            print(json.dumps(row), flush=True)
            continue
        model = lm
        if variant != "frozen":
            layers = None if variant == "all" else int(variant)
            cfg = ContrastiveConfig(max_epochs=a.epochs, seed=a.seed, minutes=a.seconds / 60.0, train_layers=layers,
                                    lr=a.lr, temperature=a.temperature, loss=a.loss, progress=False)
            model = fit_contrastive(lm, x, y, cfg)
            info = {k: model.training_[k] for k in ("epochs", "steps", "seconds", "stop_reason")}
        view = EmbeddingView(model, "encoder", cache=False)
        E, Ev = view.transform(x), view.transform(xv)
        cv = {C: head._cross_validate(E, y, folds, C, [E.shape[1]])[0] for C in head.config.c_grid}
        C = best_key(cv)  # the recipe's rule: best mean accuracy, macro-F1 breaking ties
        by_C = {}
        for Cv in head.config.c_grid:
            by_C[Cv] = accuracy_and_macro_f1(yv, UsedColumnsLR(Cv, a.seed).fit(E, y).predict(Ev), len(classes))
        acc, f1 = by_C[C]
        row = {"variant": variant, "val_accuracy": acc, "val_macro_f1": f1, "C": C,
               "cv_accuracy": cv[C]["accuracy"], "val_accuracy_by_C": {str(k): round(v[0], 4) for k, v in by_C.items()},
               **info, "total_seconds": round(time.perf_counter() - t0, 1)}
        results.append(row)
        print(json.dumps(row), flush=True)
    if a.json:
        from shoestring.artifacts import write_json

        write_json(a.json, {"meta": {"bench": "contrastive_layers", "data": a.data, "labels": a.labels,
                                     "seed": a.seed, "val": len(val), "seconds": a.seconds, "epochs": a.epochs,
                                     "lr": a.lr, "temperature": a.temperature, "loss": a.loss,
                                     "threads": a.threads, "machine": platform.processor() or platform.machine(),
                                     "date": time.strftime("%Y-%m-%d %H:%M")},
                            "results": results})


if __name__ == "__main__":
    main()
