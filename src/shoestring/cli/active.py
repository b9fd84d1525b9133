"""Active learning: ``shoestring al simulate DATA`` replays labeling with gold labels as the oracle and compares
query strategies by their learning curves. (The labeling web app is ``shoestring label``, cli/label.py.)"""

from __future__ import annotations

import logging

log = logging.getLogger("shoestring")


def register(sub) -> None:
    from shoestring.tasks.active.config import SimulateConfig

    g = sub.add_parser("al", help="active learning: simulate query strategies on a labelled dataset").add_subparsers(
        dest="al", metavar="ACTION")
    s = g.add_parser("simulate", help="learning curves of query strategies, gold labels as the oracle, scored on "
                                      "the test split after every batch")
    s.add_argument("data", help="a dataset folder with train.jsonl.gz and test.jsonl.gz (the pool and the "
                                "evaluation split), or a labelled training file with --test")
    s.add_argument("--test", help="the labelled evaluation file (when DATA is a file)")
    s.add_argument("--model", help="the embedder of the features: any embedder folder or BERT-family checkpoint "
                                   "(default: pre-train VAMPIRE on the pool's text, cached in --workdir)")
    s.add_argument("--workdir", default="bench-work", help="where a pre-trained VAMPIRE is cached (default "
                                                           "bench-work)")
    s.add_argument("--vampire-minutes", type=float, default=3.0, help="budget of that pre-training (default 3)")
    s.add_argument("--clean", nargs="*", default=[], help="text clean-up: html, email (as in `bench fewshot`)")
    s.add_argument("--max-test", type=int, help="score on a seeded sample of this many test documents (faster "
                                                "with a slow embedder; default: the whole test split)")
    SimulateConfig.add_arguments(s)
    s.add_argument("--plot", help="write the learning curves here (.svg)")
    s.add_argument("--json", help="write the curves, the summary and every run here")
    s.set_defaults(func=cmd_simulate)


def _read(path, cleanup):
    from shoestring.data.cleanup import clean
    from shoestring.data.readers import read_documents
    from shoestring.errors import InputError

    texts, labels = [], []
    for d in read_documents(path):
        if d.label is None:
            raise InputError("this row has no label: simulation needs gold labels for every row", path=d.source,
                             line=d.line, hint="label every row, or remove unlabelled rows")
        texts.append(clean(d.text, cleanup))
        labels.append(d.label)
    if not texts:
        raise InputError("no labelled rows", path=path)
    return texts, labels


def cmd_simulate(a):
    import time
    from pathlib import Path

    import numpy as np

    from shoestring.artifacts import check_output_file, write_json, write_text
    from shoestring.errors import ConfigError, InputError
    from shoestring.tasks.active.config import SimulateConfig
    from shoestring.tasks.active.simulate import compare
    from shoestring.tasks.classify.views import EmbeddingView

    config = SimulateConfig.from_args(a)
    plot = check_output_file(a.plot, True, (".svg",)) if a.plot else None
    data = Path(a.data)
    if data.is_dir():
        if a.test:
            raise ConfigError("DATA is a folder: its test.jsonl.gz is the evaluation split; drop --test")
        train_path, test_path = data / "train.jsonl.gz", data / "test.jsonl.gz"
        for p in (train_path, test_path):
            if not p.exists():
                raise InputError("missing: a dataset folder needs train.jsonl.gz and test.jsonl.gz", path=p)
    else:
        if not a.test:
            raise ConfigError("give the evaluation split with --test FILE (or DATA as a dataset folder)")
        train_path, test_path = data, Path(a.test)
    texts, labels = _read(train_path, a.clean)
    te_texts, te_labels = _read(test_path, a.clean)
    pre = list(texts)  # VAMPIRE, when pre-trained here, reads the whole training text (as `bench fewshot` does)
    rng = np.random.default_rng(min(config.seeds))
    if config.max_pool and len(texts) > config.max_pool:  # sampled before embedding: only the pool is embedded
        keep = np.sort(rng.choice(len(texts), config.max_pool, replace=False))
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    if a.max_test and len(te_texts) > a.max_test:
        keep = np.sort(rng.choice(len(te_texts), a.max_test, replace=False))
        te_texts, te_labels = [te_texts[i] for i in keep], [te_labels[i] for i in keep]
    if len(set(labels)) < 2:
        raise InputError("the pool has a single class: nothing to learn", path=train_path)
    if a.model:
        from shoestring.registry import load_embedder

        model = load_embedder(a.model)
    else:
        from shoestring.bench.config import FewshotConfig
        from shoestring.bench.fewshot import pretrain_vampire

        if data.is_dir() and (data / "unlabeled.jsonl.gz").exists():  # imdb's 50k: more text to pre-train on
            from shoestring.bench.fewshot import load_split

            pre += load_split(data, "unlabeled", a.clean)[0]
        fc = FewshotConfig(data=str(data), workdir=a.workdir, vampire_minutes=a.vampire_minutes)
        # the same texts and settings as `bench fewshot`, so the two share one pre-trained VAMPIRE per dataset
        model, _ = pretrain_vampire(fc, pre, data.stem if data.is_file() else data.name)
    t0 = time.perf_counter()
    view = EmbeddingView(model, "embedder")
    X, X_test = view.transform(texts), view.transform(te_texts)
    log.info("features: %d pool + %d test documents, %d-d, in %.1f s", len(X), len(X_test), X.shape[1],
             time.perf_counter() - t0)

    def progress(done, total, run):
        log.info("[%d/%d] %s seed %d: AUC %.4f, accuracy at %d labels %.4f", done, total, run["strategy"],
                 run["seed"], run["auc"], run["n_labels"][-1], run["accuracy"][-1])

    result = compare(X, np.asarray(labels), X_test, np.asarray(te_labels), config, progress=progress)
    result.update({"data": str(data), "model": a.model or "VAMPIRE pre-trained on the pool",
                   "embedding_dim": int(X.shape[1]), "max_test": a.max_test})
    print(summary_table(result))
    if a.json:
        write_json(a.json, result)
    if plot:
        from shoestring.tasks.active.plot import learning_curves_svg

        svg = learning_curves_svg(result["summary"], target=result["target_accuracy"],
                                  title=f"{data.name}: {result['pool_size']:,} pool, {result['test_size']:,} test, "
                                        f"b = {config.batch}, {len(config.seeds)} seeds")
        write_text(plot, svg)
        print(f"learning curves: {plot}")


def _pct(v, signed: bool = False) -> str:
    return "" if v is None else (f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}")


def summary_table(result: dict) -> str:
    """The comparison as a Markdown table, best AUC first."""
    target = "random@budget" if result["target_accuracy"] is None else _pct(result["target_accuracy"])
    rows = ["| strategy | AUC (mean ± std) | vs random | accuracy at budget | labels to reach " + target +
            " | stopped at (runs) | accuracy there | retrain / query p95 ms |",
            "|---|---|---|---|---|---|---|---|"]
    for name, s in sorted(result["summary"].items(), key=lambda kv: -kv[1]["auc_mean"]):
        reach = s["labels_to_reach_target"]
        stop = ("not within budget" if s["stop_labels_mean"] is None
                else f"{s['stop_labels_mean']:.0f} ({s['stopped_runs']})")
        rows.append(f"| {name} | {_pct(s['auc_mean'])} ± {_pct(s['auc_std'])} | "
                    f"{_pct(s['auc_gain_over_random'], True)} | {_pct(s['final_accuracy_mean'])} | "
                    f"{'not reached' if reach is None else reach} | {stop} | {_pct(s['stop_accuracy_mean'])} | "
                    f"{s['retrain_ms_p95']:.0f} / {s['query_ms_p95']:.0f} |")
    return "\n".join(rows)
