"""Contrastive training throughput, side by side in one run: shoestring's unsupervised SimCSE against
sentence-transformers' ``MultipleNegativesRankingLoss`` on (sentence, sentence) pairs - how sentence-
transformers documents unsupervised SimCSE - for the same checkpoint, sentences, batch size, sequence length
and thread count. Each side trains ``--steps`` optimizer steps from a fresh copy of the model, alternately,
``--rounds`` times; reported: sentences per second of wall time (each sentence is encoded twice on both
sides), median over rounds.

    python benchmarks/simcse_throughput.py --json docs/results/simcse_throughput.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/ag_news/train.jsonl.gz")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=32)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import torch

    from shoestring.bench.baselines import _minilm_path
    from shoestring.bench.fewshot import load_split
    from shoestring.data.sentences import split_texts
    from shoestring.learners.contrastive.encoder import SentenceEncoder

    path = _minilm_path()
    n = a.batch_size * a.steps
    sentences = split_texts(load_split(Path(a.data).parent, "train", [])[0][: 4 * n], "sentences")[:n]

    def ours() -> float:
        enc = SentenceEncoder(init_from=path, batch_size=a.batch_size, seq_len=a.seq_len, max_epochs=1,
                              eval_every=None, progress=False, seed=0)
        enc.fit(sentences)  # the rate counts the training loop's wall time, not loading the checkpoint
        return len(sentences) / enc.training_["wall_seconds"], enc.training_["steps"]

    def theirs() -> float:
        from datasets import Dataset
        from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, losses
        from sentence_transformers.training_args import SentenceTransformerTrainingArguments

        model = SentenceTransformer(path, device="cpu")
        model.max_seq_length = a.seq_len
        ds = Dataset.from_dict({"anchor": sentences, "positive": sentences})
        args = SentenceTransformerTrainingArguments(output_dir="/tmp/st-throughput", per_device_train_batch_size=a.batch_size,
                                                    num_train_epochs=1, learning_rate=3e-5, report_to=[],
                                                    save_strategy="no", logging_steps=10_000, use_cpu=True,
                                                    dataloader_drop_last=True, seed=0, disable_tqdm=True)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                             loss=losses.MultipleNegativesRankingLoss(model, scale=20.0))
        t = time.perf_counter()  # likewise: train() only, the model loaded before
        out = trainer.train()
        return len(sentences) / (time.perf_counter() - t), out.global_step

    runs = {"shoestring simcse": [], "sentence-transformers mnrl": []}
    steps = {}
    for r in range(a.rounds):
        for name, fn in ((("shoestring simcse", ours), ("sentence-transformers mnrl", theirs)) if r % 2 == 0 else
                         (("sentence-transformers mnrl", theirs), ("shoestring simcse", ours))):
            rate, steps[name] = fn()
            runs[name].append(rate)
            print(f"round {r + 1} {name}: {rate:.1f} sentences/s ({steps[name]} steps)", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    out = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
           "date": time.strftime("%Y-%m-%d"), "model": "all-MiniLM-L6-v2", "batch_size": a.batch_size,
           "seq_len": a.seq_len, "sentences": len(sentences), "steps": steps, "runs": runs,
           "median_sentences_per_second": med,
           "ratio": med["shoestring simcse"] / med["sentence-transformers mnrl"]}
    print(json.dumps(out, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
