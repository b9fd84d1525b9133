"""``shoestring bench fewshot`` and ``shoestring demo``: the benchmark protocol and the whole pipeline."""

from __future__ import annotations


def register(sub) -> None:
    from shoestring.bench.config import FewshotConfig
    from shoestring.cli.common import add_output

    s = sub.add_parser("demo", help="run the whole pipeline on the shipped Debian corpus (a few minutes)")
    add_output(s, "folder for the demo's outputs", required=False, default="shoestring-demo")
    s.add_argument("--minutes", type=float, default=None,
                   help="cap VAMPIRE pre-training at this many wall-clock minutes (default: no cap; it stops when "
                        "NPMI stops improving, so the same machine prints the same figures every run)")
    s.add_argument("--labels", type=int, default=200, help="labelled examples for the classifier (default 200)")
    s.set_defaults(func=cmd_demo)

    b = sub.add_parser("bench", help="benchmark protocols").add_subparsers(dest="bench", metavar="BENCH")
    s = b.add_parser("fewshot", help="the paper's few-label protocol: N labels x 5 seeds, VAMPIRE vs baselines")
    FewshotConfig.add_arguments(s)
    s.add_argument("--json", help="write one record per method and N here")
    s.add_argument("--markdown", help="write the results table (Markdown) here")
    s.set_defaults(func=cmd_bench_fewshot)


def cmd_bench_fewshot(a):
    from shoestring.bench.fewshot import FewshotConfig, run_fewshot

    run_fewshot(FewshotConfig.from_args(a), json_path=a.json, markdown_path=a.markdown)


def cmd_demo(a):
    from shoestring.demo import run_demo

    if a.minutes is not None and (not a.minutes > 0 or a.minutes == float("inf")):
        from shoestring.errors import ConfigError

        raise ConfigError(f"--minutes must be a finite number > 0; got {a.minutes}")
    run_demo(a.output, minutes=a.minutes, labels=a.labels, overwrite=a.overwrite)
