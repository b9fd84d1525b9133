"""STS from the user's text only: a compact BERT pre-trained with masked-LM by shoestring, then unsupervised
SimCSE, scored on the STS Benchmark against TF-IDF cosine and the GloVe-50d average (issue: sentence
embeddings). Budgets are CPU time per thread (``--clock cpu``), so a shared machine does not change how much
training each stage gets.

Text (no labels, no STS data): sentences of ag_news train, sst2 train and imdb's unlabeled reviews
(``--sources``), split into sentences. The MLM stage trains a WordPiece vocabulary and a ``--preset`` model for
``--mlm-minutes``; SimCSE then trains for ``--simcse-minutes`` on a sample of those sentences, keeping the step
with the best Spearman on the stsb dev split (never the test split). Every model is scored on stsb test:
Spearman x 100 of cosine, alignment and uniformity (Wang & Isola 2020), beside the baselines.

    python benchmarks/sts_simcse.py --mlm-minutes 30 --simcse-minutes 15 --json docs/results/sts_simcse.json

The issue's open experiment, at equal CPU time: masked-LM then SimCSE (``sequential``) against masked-LM and
SimCSE in one objective (``joint``: ``--objective mlm_simcse``, dropout 0.1, for ``--mlm-minutes`` +
``--simcse-minutes``), each scored on STS and, with ``--fewshot DATASET``, by few-label accuracy of its
mean-pooled features + LR (``bench fewshot``'s ``embedder_lr``, N = 200 and 1000, seeds 0-4). The arms can run
as two processes side by side (``--arms``, ``--threads 1``); run once with ``--arms`` and no name first so
that the sentences and the tokenizer exist before both start:

    python benchmarks/sts_simcse.py --arms                                   # sentences, tokens, baselines
    python benchmarks/sts_simcse.py --mlm-minutes 10 --simcse-minutes 5 --threads 1 --arms sequential \
        --fewshot ag_news --json docs/results/sts_sequential_15.json &
    python benchmarks/sts_simcse.py --mlm-minutes 10 --simcse-minutes 5 --threads 1 --arms joint \
        --fewshot ag_news --json docs/results/sts_joint_15.json

Whitening (``--whiten``): every model's vectors are also scored after BERT-whitening, estimated on 10,000
of the training sentences (no STS data), and the sequential arm also trains SimCSE with ``whiten=True`` (its
best dev step chosen on whitened vectors). Models already in ``--workdir`` are reused, not retrained:

    python benchmarks/sts_simcse.py --mlm-minutes 10 --simcse-minutes 5 --threads 1 --arms sequential joint \
        --whiten --json docs/results/sts_whitening.json

The public checkpoint adapted to a domain (``minilm``): the offline all-MiniLM-L6-v2 scored as it is, then after
unsupervised SimCSE on the sentences of ``--fewshot``'s train texts, on STS and by few-label accuracy:

    python benchmarks/sts_simcse.py --arms minilm --fewshot chemprot --simcse-minutes 10 --threads 1 \
        --json docs/results/sts_minilm_chemprot.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--sources", nargs="+", default=["ag_news/train", "sst2/train", "imdb/unlabeled"])
    ap.add_argument("--max-sentences", type=int, default=300_000)
    ap.add_argument("--preset", default="mini")
    ap.add_argument("--vocab-size", type=int, default=16384)
    ap.add_argument("--mlm-minutes", type=float, default=30.0)
    ap.add_argument("--simcse-minutes", type=float, default=15.0)
    ap.add_argument("--simcse-lr", type=float, default=5e-5)
    ap.add_argument("--arms", nargs="*", default=["sequential"], choices=("sequential", "joint", "minilm"),
                    help="sequential: masked-LM then SimCSE; joint: both losses in one objective for the sum of "
                         "the two budgets; minilm: unsupervised SimCSE from the offline all-MiniLM-L6-v2 on the "
                         "--fewshot dataset's own train texts for --simcse-minutes (no STS dev selection)")
    ap.add_argument("--whiten", action="store_true",
                    help="also score every model's vectors whitened (BERT-whitening: mean and covariance of "
                         "--whiten-texts training sentences, never STS data), and train SimCSE with --whiten")
    ap.add_argument("--whiten-texts", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--fewshot", help="also score each model's features + LR on this dataset of --data (N = 200, "
                                      "1000; seeds 0-4)")
    ap.add_argument("--workdir", default="bench-work/sts")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import numpy as np

    from shoestring.bench.baselines import _glove_features, _tfidf_pool_featurizer
    from shoestring.bench.fewshot import load_split
    from shoestring.data.config import TokensConfig
    from shoestring.data.sentences import split_texts
    from shoestring.data.tokens import TokenCorpus, prepare_tokens
    from shoestring.evaluation.sts import read_sts, sts_scores
    from shoestring.learners.contrastive.encoder import SentenceEncoder
    from shoestring.learners.mlm.estimator import MaskedLM

    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    data, work = Path(a.data), Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    sentences_file = work / "sentences.jsonl"
    if not sentences_file.exists():
        texts = []
        for src in a.sources:
            name, split = src.split("/")
            texts += load_split(data / name, split, ["html"])[0]
        units = split_texts(texts, "sentences")
        rng = np.random.default_rng(0)
        if len(units) > a.max_sentences:
            units = [units[i] for i in sorted(rng.choice(len(units), a.max_sentences, replace=False))]
        with open(sentences_file, "w", encoding="utf-8") as f:
            for u in units:
                f.write(json.dumps({"text": u}, ensure_ascii=False) + "\n")
    units = [json.loads(line)["text"] for line in open(sentences_file, encoding="utf-8")]
    logging.info("%d training sentences", len(units))
    s1, s2, gold = read_sts(data / "stsb" / "test.jsonl.gz")
    dev = read_sts(data / "stsb" / "dev.jsonl.gz")
    results = {"machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d"),
               "sentences": len(units), "sources": a.sources, "models": {}}

    rng = np.random.default_rng(0)
    whiten_sample = [units[i] for i in sorted(rng.choice(len(units), min(a.whiten_texts, len(units)),
                                                         replace=False))]

    def score(name, embed, whitened: bool = False, **extra):
        """stsb test (and dev) Spearman of ``embed``'s vectors; with --whiten, of the same vectors whitened too."""
        t = time.perf_counter()
        r = sts_scores(embed, s1, s2, gold)
        r.update(extra, dev_spearman=sts_scores(embed, *dev)["spearman"],
                 seconds_to_score=round(time.perf_counter() - t, 1))
        results["models"][name] = r
        logging.info("%s: Spearman %.2f (dev %.2f), alignment %.3f, uniformity %.3f", name, r["spearman"],
                     r["dev_spearman"], r["alignment"], r["uniformity"])
        if a.whiten and not whitened and not name.startswith(("tfidf", "glove")):
            from shoestring.learners.contrastive.whitening import fit_whitening, whiten

            w = fit_whitening(embed(whiten_sample))
            score(f"{name}, whitened", lambda texts: whiten(embed(texts), *w), whitened=True,
                  whitening_texts=len(whiten_sample))

    pool = list(dict.fromkeys(s1 + s2))
    tfidf = _tfidf_pool_featurizer(pool, None)
    score("tfidf (fit on the test sentences)", lambda t: tfidf(list(t)))
    score("glove-50d average", _glove_features)

    tok = work / f"tokens-{a.vocab_size}"
    if not tok.exists():
        prepare_tokens(sentences_file, tok, TokensConfig(vocab_size=a.vocab_size), progress=False)
    fewshot = {}

    def few_label(name, folder):
        if not a.fewshot:
            return
        from shoestring.bench.config import FewshotConfig
        from shoestring.bench.fewshot import run_fewshot

        cfg = FewshotConfig(data=str(data / a.fewshot), methods=["embedder_lr"], embedder=str(folder),
                            labels=[200, 1000], clean=["html"], workdir=str(work), threads=a.threads)
        fewshot[name] = [{k: r[k] for k in ("n_labels", "accuracy_mean", "accuracy_std", "macro_f1_mean",
                                             "macro_f1_std", "seeds")} for r in run_fewshot(cfg)]

    threads = {"threads": a.threads} if a.threads else {}
    if "sequential" in a.arms:
        mlm_dir = work / f"mlm-{a.preset}-{a.mlm_minutes:g}min"
        if not mlm_dir.exists():
            MaskedLM(preset=a.preset, minutes=a.mlm_minutes, clock="cpu", max_epochs=1000, eval_every=500, seed=0,
                     progress=True, **threads).fit(TokenCorpus(tok)).save_pretrained(mlm_dir)
        lm = MaskedLM.from_pretrained(mlm_dir)
        t = lm.training_
        score("mlm mean-pooled", lm.transform, training_seconds=t["seconds"], steps=t["steps"],
              tokens_per_second=t["tokens_per_second"])
        few_label("mlm mean-pooled", mlm_dir)
        for whitened in (False, True) if a.whiten else (False,):
            tag = "-whiten" if whitened else ""
            out = work / f"simcse-mean-{a.simcse_minutes:g}min-after-{a.mlm_minutes:g}{tag}"
            if not out.exists():  # with whiten: the dev split's best step chosen on whitened vectors
                enc = SentenceEncoder(init_from=mlm_dir, pooling="mean", minutes=a.simcse_minutes, clock="cpu",
                                      lr=a.simcse_lr, max_epochs=100, eval_every=250, seed=0, progress=True,
                                      whiten=whitened, whiten_texts=a.whiten_texts, **threads)
                enc.fit(units, dev=dev)
                enc.save_pretrained(out)
            enc = SentenceEncoder.from_pretrained(out)
            t = enc.training_
            name = "mlm + simcse --whiten (mean)" if whitened else "mlm + simcse (mean)"
            score(name, enc.transform, whitened=whitened, training_seconds=t["seconds"], steps=t["steps"],
                  texts_per_second=t["texts_per_second"], best_dev_spearman=t.get("best"),
                  best_epoch=t.get("best_epoch"))
            few_label(name, out)
    if "joint" in a.arms:
        minutes = a.mlm_minutes + a.simcse_minutes
        out = work / f"mlm-simcse-joint-{a.preset}-{minutes:g}min"
        if not out.exists():
            MaskedLM(preset=a.preset, objective="mlm_simcse", dropout=0.1, minutes=minutes, clock="cpu",
                     max_epochs=1000, eval_every=500, seed=0, progress=True, **threads
                     ).fit(TokenCorpus(tok)).save_pretrained(out)
        lm = MaskedLM.from_pretrained(out)
        t = lm.training_
        score("mlm and simcse jointly (mean-pooled)", lm.transform, training_seconds=t["seconds"], steps=t["steps"],
              tokens_per_second=t["tokens_per_second"])
        few_label("mlm and simcse jointly (mean-pooled)", out)
    if "minilm" in a.arms:  # a public checkpoint adapted to the domain: what does in-domain SimCSE do to it?
        from shoestring.bench.baselines import _minilm_path

        if not a.fewshot:
            ap.error("--arms minilm needs --fewshot DATASET (its train texts are the in-domain sentences)")
        minilm = _minilm_path()
        base = MaskedLM.from_pretrained(minilm)
        score("all-MiniLM-L6-v2 (mean-pooled)", base.transform)
        few_label("all-MiniLM-L6-v2 (mean-pooled)", minilm)
        out = work / f"minilm-simcse-{a.fewshot}-{a.simcse_minutes:g}min"
        if not out.exists():
            domain = split_texts(load_split(data / a.fewshot, "train", ["html"])[0], "sentences")
            logging.info("%d in-domain sentences from %s train", len(domain), a.fewshot)
            # no STS dev: a domain user has none, and selecting on it would hide what the domain does to STS
            enc = SentenceEncoder(init_from=minilm, pooling="mean", minutes=a.simcse_minutes, clock="cpu",
                                  lr=a.simcse_lr, max_epochs=100, seed=0, progress=True, **threads)
            enc.fit(domain)
            enc.save_pretrained(out)
        enc = SentenceEncoder.from_pretrained(out)
        t = enc.training_
        score(f"all-MiniLM-L6-v2 + simcse on {a.fewshot} (mean)", enc.transform, training_seconds=t["seconds"],
              steps=t["steps"], texts_per_second=t["texts_per_second"])
        few_label(f"all-MiniLM-L6-v2 + simcse on {a.fewshot} (mean)", out)
    results["fewshot"] = {"dataset": a.fewshot, "method": "features + LR (embedder_lr)", "models": fewshot}
    results["total_training_cpu_minutes"] = round(
        sum(r.get("training_seconds", 0) for r in results["models"].values()) / 60, 1)
    print(json.dumps(results, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
