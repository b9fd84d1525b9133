"""The ``shoestring`` command line: one module per group of commands, each with its parser beside its handler.

    shoestring demo                                   the whole pipeline on the shipped Debian corpus
    shoestring prepare corpus.jsonl.gz -o prepared/   raw text -> compact bag-of-words artifacts   (cli/data.py)
    shoestring tokenize corpus.jsonl.gz -o tokens/    raw text -> token-id memory maps for masked-LM pre-training
    shoestring pretrain vampire prepared/ -o vampire/ --minutes 5                                 (cli/pretrain.py)
    shoestring pretrain mlm tokens/ -o bert/ --preset mini --minutes 30     a compact BERT (masked-LM)
    shoestring pretrain vectors corpus.jsonl -o vectors/                    domain word vectors
    shoestring pretrain simcse corpus.jsonl --init-from bert/ -o simcse/    sentence embeddings (SimCSE)
    shoestring presets                                the compact-BERT size presets with parameter counts
    shoestring topics vampire/                        top words per topic, NPMI, diversity         (cli/topics.py)
    shoestring report vampire/ -o report.html         an offline HTML report
    shoestring embed vampire/ texts.jsonl -o vectors.npy                                           (cli/embed.py)
    shoestring train classifier train.jsonl -o clf/ --vampire vampire/ --dev dev.jsonl             (cli/train.py)
    shoestring train finetune train.jsonl -o bert-clf/ --mlm bert/     fine-tune a compact BERT
    shoestring predict clf/ texts.jsonl -o predictions.jsonl                                     (cli/predict.py)
    shoestring evaluate clf/ test.jsonl
    shoestring evaluate sts stsb.jsonl simcse/ tfidf  STS Spearman, alignment, uniformity   (cli/similarity.py)
    shoestring index corpus.jsonl simcse/ -o index/   a semantic-search index
    shoestring search index/ "query" -k 10
    shoestring al simulate ../shared/data/ag_news --plot curves.svg    active-learning curves      (cli/active.py)
    shoestring label corpus.jsonl --labels a,b,c      label in the browser with active learning     (cli/label.py)
    shoestring label export corpus.labels.db -o labels.jsonl   (also csv, prodigy, labelstudio; `label import`)
    shoestring bench fewshot --data ../shared/data/ag_news --json results.json                     (cli/bench.py)

Options come from the typed configs; options several commands share are declared once in ``cli/common.py``.
Heavy imports happen inside the handlers, so ``shoestring --help`` answers at once. Errors shoestring raises
on purpose print as one message (exit 2), other OS errors as one line (exit 1); ``-v`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import sys

from shoestring import __version__
from shoestring.errors import ShoestringError

# modules, in --help order
COMMANDS = ("bench", "data", "pretrain", "topics", "embed", "train", "predict", "similarity", "active", "label")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    p = argparse.ArgumentParser(prog="shoestring", description="Pre-train text representations of your own domain "
                                "on a CPU, and put them to work.", epilog="Run `shoestring COMMAND -h` for a "
                                "command's options.")
    p.add_argument("--version", action="version", version=f"shoestring {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"shoestring.cli.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    import os

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    a = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.INFO, format="%(levelname)s: %(message)s")
    if not getattr(a, "func", None):
        # `shoestring pretrain` etc. without a sub-command: show that level's help
        parser.parse_args(argv + ["-h"])
        return 2
    if getattr(a, "processes", 1) > 1 and "WORLD_SIZE" not in os.environ:
        from shoestring.training.launch import launch_local, strip_option

        return launch_local(a.processes, strip_option(argv, "--processes"))
    try:
        a.func(a)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
    except BrokenPipeError:
        # `shoestring topics model | head`: the reader has what it wanted; leave quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ShoestringError as e:
        if a.verbose:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, permissions, a vanished file: say what and where, without a traceback
        if a.verbose:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}\n  hint: run with -v for the full traceback", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted. A `pretrain` run can continue with the same command and --resume.", file=sys.stderr)
        return 130
    finally:
        from shoestring.training.distributed import leave_process_group

        leave_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
