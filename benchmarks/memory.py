"""Peak memory (RSS) of `prepare` + `pretrain vampire` on a 120k-document corpus with V = 30k.

    python benchmarks/memory.py --data ../shared/data --json memory.json

Builds a 120,000-document corpus of short texts like AG News from the shared datasets (AG News train + test,
Debian package descriptions, TweetEval, ChemProt, SST-2), then runs each stage as its own process and reads
its peak resident set size (``ru_maxrss`` of the child). A dense N x V int64 matrix, as VAMPIRE's reference
implementation builds, would take 120,000 x 30,000 x 8 bytes = 28.8 GB.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCES = ["ag_news/train", "ag_news/test", "debian_package_descriptions/train", "debian_package_descriptions/test",
           "tweeteval_hate/train", "chemprot/train", "sst2/train"]


def build_corpus(data: Path, out: Path, n: int) -> int:
    k = 0
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for src in SOURCES:
            with gzip.open(data / f"{src}.jsonl.gz", "rt", encoding="utf-8") as g:
                for line in g:
                    f.write(json.dumps({"text": json.loads(line)["text"]}) + "\n")
                    k += 1
                    if k == n:
                        return k
    return k


def run(cmd: list[str]) -> dict:
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr[-2000:])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"command": " ".join(cmd), "seconds": round(time.perf_counter() - t, 1),
            "peak_rss_mb": round(max(peak_kb, before) / 1024, 1), "stdout": r.stdout.strip()[-300:]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the shared datasets folder")
    ap.add_argument("--documents", type=int, default=120000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    n = build_corpus(Path(a.data), tmp / "corpus.jsonl.gz", a.documents)
    exe = [sys.executable, "-m", "shoestring"]
    # each stage in a fresh process: RUSAGE_CHILDREN's maximum only grows, so the prepare figure is taken
    # first and the pretrain figure is the maximum over both (pretrain needs more)
    prep = run(exe + ["prepare", str(tmp / "corpus.jsonl.gz"), "-o", str(tmp / "prep"), "--max-vocab", "30000",
                      "--workers", "2"])
    pre = run(exe + ["pretrain", "vampire", str(tmp / "prep"), "-o", str(tmp / "vae"), "--max-epochs",
                     str(a.epochs), "--no-progress"])
    records = [{"stage": "prepare", "documents": n, **prep}, {"stage": "prepare + pretrain vampire", **pre}]
    for r in records:
        print(json.dumps(r))
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
            "command": " ".join(sys.argv), "dense_int64_gb": round(n * 30000 * 8 / 1e9, 1)}
    if a.json:
        Path(a.json).write_text(json.dumps({"meta": meta, "records": records}, indent=2))


if __name__ == "__main__":
    main()
