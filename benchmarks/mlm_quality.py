"""Compact-BERT quality at a fixed CPU budget: masking rates against random init, VAMPIRE and TF-IDF + LR.

For each masking setting (m_corr/m_pred in %, e.g. ``15/15 40/40 20/40``) pre-train the same preset on the
dataset's unlabelled text (train + any ``unlabeled`` split) for the same budget, counted in CPU time per
thread (``--clock cpu``: other jobs on a shared machine do not change how much training each setting gets),
then score its mean-pooled features with logistic regression on N labels x 5 seeds (the few-label protocol
of ``shoestring bench fewshot``), alone and concatenated with VAMPIRE's representation, and (``--methods ...
mlm_finetune``) fine-tuned end to end. The same architecture
at random initialization, VAMPIRE's classifier and TF-IDF + LR are scored on the same draws. The validation
MLM loss is measured at 15% masking for every setting, so the losses compare.

    python benchmarks/mlm_quality.py --data ../shared/data/ag_news --clean html --preset mini --minutes 30 \\
        --configs 15/15 40/40 20/40 --labels 200 1000 --json docs/results/mlm_quality_ag_news.json
    python benchmarks/mlm_quality.py --data ../shared/data/ag_news --clean html --preset mini --minutes 10 \
        --configs 40/40 --methods mlm_lr mlm_finetune --no-random-init --baselines --labels 200 1000 \
        --json docs/results/mlm_finetune_ag_news.json
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
    ap.add_argument("--data", required=True)
    ap.add_argument("--clean", nargs="*", default=[])
    ap.add_argument("--preset", default="mini")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--clock", default="cpu", choices=("cpu", "wall"))
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--vocab-size", type=int, default=8192, help="domain WordPiece vocabulary")
    ap.add_argument("--configs", nargs="+", default=["15/15", "40/40", "20/40"],
                    help="[OBJECTIVE:]m_corr/m_pred in percent, e.g. 40/40 or continuous:40/40 (default objective mlm)")
    ap.add_argument("--labels", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--methods", nargs="+", default=["mlm_lr", "mlm_vampire_lr"],
                    help="bench fewshot methods for each pre-trained model (mlm_lr, mlm_vampire_lr, mlm_finetune)")
    ap.add_argument("--random-init", action=argparse.BooleanOptionalAction, default=True,
                    help="also score the same architecture untrained (mlm_lr)")
    ap.add_argument("--baselines", nargs="*", default=["tfidf_lr", "vampire", "vampire_glove"])
    ap.add_argument("--workdir", default="bench-work")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import load_split, run_fewshot
    from shoestring.data.config import TokensConfig
    from shoestring.data.tokens import TokenCorpus, prepare_tokens
    from shoestring.learners.mlm.estimator import MaskedLM

    if a.threads:  # feature extraction runs outside the training loop's --threads
        import torch

        torch.set_num_threads(a.threads)
    folder = Path(a.data)
    work = Path(a.workdir) / folder.name
    work.mkdir(parents=True, exist_ok=True)
    texts = load_split(folder, "train", a.clean)[0] + (load_split(folder, "unlabeled", a.clean) or ([], []))[0]
    tok_dir = work / f"tokens-{a.vocab_size}"
    if not tok_dir.exists():
        with open(work / "mlm_unlabeled.jsonl", "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        prepare_tokens(work / "mlm_unlabeled.jsonl", tok_dir, TokensConfig(vocab_size=a.vocab_size), progress=False)
    corpus = TokenCorpus(tok_dir)

    pretrain, records = [], []
    models = {}
    for spec in a.configs:
        objective, _, rates = spec.rpartition(":")
        objective = objective or "mlm"
        corr, pred = (float(x) / 100 for x in rates.split("/"))
        prefix = "mlm" if objective == "mlm" else f"mlm-{objective}"  # the masked-LM runs keep their old folders
        out = work / f"{prefix}-{a.preset}-c{rates.replace('/', '-p')}-{a.minutes:g}min"
        if not out.exists():
            lm = MaskedLM(preset=a.preset, minutes=a.minutes, clock=a.clock, m_corr=corr, m_pred=pred,
                          objective=objective, max_epochs=1000, eval_every=250, seed=0, threads=a.threads,
                          progress=False).fit(corpus)
            lm.save_pretrained(out)
        lm = MaskedLM.from_pretrained(out)
        t = lm.training_
        rec = {"setting": spec, "objective": objective, "m_corr": corr, "m_pred": pred, "preset": a.preset,
               "budget_minutes": a.minutes,
               "clock": a.clock, "best_valid_loss_at_15pct": t["best_valid_loss"], "steps": t["steps"],
               "tokens": t["tokens"], "tokens_per_second": t["tokens_per_second"], "epochs": t["epochs"],
               "parameters": t["parameters"], "valid_curve": [(h["step"], round(h["valid_loss"], 4))
                                                              for h in lm.history_ if "valid_loss" in h]}
        # top-1 of the masked tokens at the best evaluation: the softmax's argmax (mlm), the nearest target
        # embedding of the prediction (continuous); the losses themselves differ by objective
        best = next((h for h in lm.history_ if h.get("valid_loss") == t["best_valid_loss"]), {})
        rec["valid_top1"] = best.get("valid_accuracy", best.get("valid_top1"))
        pretrain.append(rec)
        print(json.dumps(rec), flush=True)
        models[f"mlm {spec}"] = out
    # the same architecture, untrained
    rand = work / f"mlm-{a.preset}-random-init"
    if a.random_init and not rand.exists():
        lm = MaskedLM(preset=a.preset, seed=0)
        lm.model_, _ = lm._build(corpus)
        lm.tokenizer_, lm.special_ = corpus.tokenizer, corpus.special
        lm.training_ = {"origin": "random initialization, no pre-training"}
        lm.save_pretrained(rand)
    if a.random_init:
        models["random init"] = rand

    common = dict(data=str(folder), labels=a.labels, seeds=a.seeds, clean=a.clean, workdir=a.workdir,
                  threads=a.threads)
    for name, path in models.items():
        methods = ["mlm_lr"] if name == "random init" else a.methods
        for r in run_fewshot(FewshotConfig(methods=methods, mlm=str(path), **common)):
            r["method"] = f"{r['method']} [{name}]"
            records.append(r)
    if a.baselines:
        records += run_fewshot(FewshotConfig(methods=a.baselines, **common))
    meta = {"machine": platform.platform(), "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
            "dataset": folder.name, "unlabeled_documents": len(texts), "tokens": corpus.counts}
    result = {"meta": meta, "pretraining": pretrain, "records": records}
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
    sys.path.insert(0, str(Path(__file__).parent))
    from mlm_tables import render

    print("\n" + render(result, a.json or ""))


if __name__ == "__main__":
    main()
