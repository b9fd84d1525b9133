"""Same seed, same machine, same result? Runs every pre-training command twice on the same corpus (the
shipped Debian descriptions by default), small settings with an epoch limit rather than a time budget, and
compares the two output folders file by file: tensors in ``.safetensors`` files, JSON by key (timings and
creation stamps are expected to differ, and are listed apart), every other file byte for byte.

    python benchmarks/reproducibility.py --json docs/results/reproducibility.json

A model differing between the two runs is a reproducibility defect; the script exits 1 when one does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shoestring.data.corpora import demo_corpus

CORPUS = demo_corpus()["train"]
SMALL = ["--no-progress", "--threads", "1", "--max-epochs"]
#: (output folder, command line after ``shoestring``; {c}: the corpus, {w}: the run's folder)
STEPS = [
    ("prep", "prepare {c} -o {w}/prep"),
    ("vamp", "pretrain vampire {w}/prep -o {w}/vamp " + " ".join(SMALL) + " 3"),
    ("vec", "pretrain vectors {c} -o {w}/vec"),
    ("tok", "tokenize {c} -o {w}/tok --vocab-size 2000 --no-progress"),
    ("mlm", "pretrain mlm {w}/tok -o {w}/mlm --layers 1 --hidden 32 --heads 2 --ffn 64 " + " ".join(SMALL) + " 1"),
    ("lm", "pretrain lm {c} -o {w}/lm --hidden-size 64 --projection-size 32 --embedding-dim 32 --max-vocab 5000 "
           + " ".join(SMALL) + " 1"),
    ("simcse", "pretrain simcse {c} -o {w}/simcse --init-from {w}/mlm " + " ".join(SMALL) + " 1"),
]
#: keys whose values are clocks, not results
TIMING = ("seconds", "elapsed", "per_second", "created", "written")


def _json_diff(u, v, path=""):
    if isinstance(u, dict) and isinstance(v, dict):
        for k in sorted(set(u) | set(v)):
            yield from _json_diff(u.get(k), v.get(k), f"{path}.{k}")
    elif isinstance(u, list) and isinstance(v, list) and len(u) == len(v):
        for i, (s, t) in enumerate(zip(u, v)):
            yield from _json_diff(s, t, f"{path}[{i}]")
    elif u != v:
        yield path


def compare(a: Path, b: Path) -> dict:
    """Per file of folder ``a``: "same bytes", "same tensors", "differs only in timings: ...", or what differs."""
    from safetensors.numpy import load_file

    out = {}
    files = sorted((x for x in a.rglob("*") if x.is_file()), key=lambda x: x.name == "manifest.json")  # it last
    for p in files:
        rel, q = str(p.relative_to(a)), b / p.relative_to(a)
        if not q.exists():
            out[rel] = "missing in the second run"
        elif p.read_bytes() == q.read_bytes():
            out[rel] = "same bytes"
        elif p.suffix == ".safetensors":
            x, y = load_file(p), load_file(q)
            bad = sorted(k for k in x.keys() | y.keys() if k not in x or k not in y or x[k].shape != y[k].shape
                         or not (x[k] == y[k]).all())
            out[rel] = f"DIFFERENT tensors: {', '.join(bad[:5])}" if bad else "same tensors (header order differs)"
        elif p.suffix == ".json":
            keys = list(_json_diff(json.loads(p.read_text()), json.loads(q.read_text())))
            clocks = [k for k in keys if any(t in k.rsplit(".", 1)[-1] for t in TIMING)]
            # a manifest's sizes and hashes of files already judged above (timings, a header's order)
            listed = [k for k in keys if k.startswith(".files.") and "DIFFERENT" not in out.get(
                str(p.parent.relative_to(a) / k[len(".files."):].rsplit(".", 1)[0]), "DIFFERENT")]
            rest = [k for k in keys if k not in clocks and k not in listed]
            out[rel] = f"DIFFERENT: {', '.join(rest[:8])}" if rest else "differs only in timings"
        elif p.name == "README.md":  # the model card prints the timings in its tables
            x, y = p.read_text().splitlines(), q.read_text().splitlines()
            changed = [u for u, w in zip(x, y) if u != w] if len(x) == len(y) else ["(a line added or lost)"]
            rows = [u for u in changed if u.count("|") >= 3]  # table rows "| name | value |"
            clock = len(rows) == len(changed) and all(
                any(t in u.split("|")[1].replace(" ", "_") for t in TIMING) for u in rows)
            out[rel] = "differs only in timings" if clock else f"DIFFERENT lines: {changed[:3]}"
        else:
            out[rel] = "DIFFERENT bytes"
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shoestring-repro-") as tmp:
        seconds = {}
        for run in ("a", "b"):  # both in the same folder, moved aside after: the paths recorded are the same
            for name, cmd in STEPS:
                t = time.perf_counter()
                line = cmd.format(c=args.corpus, w=f"{tmp}/run").split()
                subprocess.run([sys.executable, "-m", "shoestring", *line], check=True, capture_output=True)
                seconds.setdefault(name, []).append(round(time.perf_counter() - t, 1))
                print(f"run {run}: {name} ({seconds[name][-1]} s)", file=sys.stderr)
            Path(tmp, "run").rename(Path(tmp, run))
        result = {name: compare(Path(tmp, "a", name), Path(tmp, "b", name)) for name, _ in STEPS}
    bad = {f"{n}/{f}": v for n, files in result.items() for f, v in files.items() if "DIFFERENT" in v
           or "missing" in v}
    for name, files in result.items():
        print(f"{name}: " + ("DIFFERENT" if any(k.startswith(name + "/") for k in bad) else "reproduced"))
    for k, v in bad.items():
        print(f"  {k}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps({"corpus": args.corpus, "commands": dict(STEPS), "seconds": seconds,
                                               "files": result, "different": bad}, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
