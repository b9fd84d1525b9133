"""The ``shoestring`` command line. Options come from the typed configs; heavy imports happen per command.

    shoestring demo                                   the whole pipeline on the shipped Debian corpus
    shoestring prepare corpus.jsonl.gz -o prepared/   raw text -> compact bag-of-words artifacts
    shoestring tokenize corpus.jsonl.gz -o tokens/    raw text -> token-id memory maps for masked-LM pre-training
    shoestring pretrain vampire prepared/ -o vampire/ --minutes 5
    shoestring pretrain mlm tokens/ -o bert/ --preset mini --minutes 30     a compact BERT (masked-LM)
    shoestring presets                                the compact-BERT size presets with parameter counts
    shoestring topics vampire/                        top words per topic, NPMI, diversity
    shoestring report vampire/ -o report.html         an offline HTML report
    shoestring embed vampire/ texts.jsonl -o vectors.npy
    shoestring train classifier train.jsonl -o clf/ --vampire vampire/ --dev dev.jsonl
    shoestring train finetune train.jsonl -o bert-clf/ --mlm bert/     fine-tune a compact BERT
    shoestring predict clf/ texts.jsonl -o predictions.jsonl
    shoestring evaluate clf/ test.jsonl
    shoestring bench fewshot --data ../shared/data/ag_news --json results.json
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from shoestring import __version__
from shoestring.errors import ShoestringError

log = logging.getLogger("shoestring")


def _add_read_options(p, prefix=""):
    p.add_argument("--text-field", default="text", help="JSONL field / CSV column with the text (default: text)")
    p.add_argument("--label-field", default="label", help="JSONL field / CSV column with the label (default: label)")
    p.add_argument("--format", default="auto", choices=("auto", "jsonl", "csv", "tsv", "txt", "folder"),
                   help="input format (default: from the file name)")


def _read_kw(a) -> dict:
    return {"text_field": a.text_field, "label_field": a.label_field, "format": a.format}


def _read_labelled(paths, a, what: str, *, require_labels: bool):
    """Read texts and labels; missing labels are an error naming the file and line."""
    from shoestring.data.readers import read_documents
    from shoestring.errors import InputError

    texts, labels = [], []
    for d in read_documents(paths, progress=f"reading {what}", **_read_kw(a)):
        if require_labels and d.label is None:
            raise InputError(f"this {what} row has no {a.label_field!r} label", path=d.source, line=d.line,
                             hint=f"label every {what} row, or remove unlabelled rows")
        texts.append(d.text)
        labels.append(d.label)
    if not texts:
        raise InputError(f"no {what} documents", path=", ".join(map(str, paths)))
    return texts, labels


# ---------------------------------------------------------------------------------------------- commands
def cmd_prepare(a):
    from shoestring.data.config import PrepareConfig
    from shoestring.data.prepare import prepare
    from shoestring.data.tokenizer import TokenizerConfig

    corpus = prepare(a.inputs, a.output, PrepareConfig.from_args(a), TokenizerConfig.from_args(a),
                     reference=a.reference, overwrite=a.overwrite)
    c = corpus.manifest["counts"]
    print(f"{a.output}: {c['train_documents']} training + {c['reference_documents']} reference documents, "
          f"V = {c['vocabulary']} words ({c['distinct_words_seen']} seen), {c['train_tokens']} tokens, "
          f"{c['skipped_empty']} empty skipped, stop words: {corpus.manifest['stopwords_used']}")


def cmd_tokenize(a):
    from shoestring.data.config import TokensConfig
    from shoestring.data.tokens import prepare_tokens

    training = [f"--{k.replace('_', '-')}" for k in ("kind", "vocab_size", "lowercase", "min_frequency")
                if getattr(a, k) is not None]
    if a.tokenizer and training:
        from shoestring.errors import ConfigError

        raise ConfigError(f"{', '.join(training)} set how a new tokenizer is trained, but --tokenizer gives one",
                          hint="drop --tokenizer to train a tokenizer, or drop " + ", ".join(training))
    corpus = prepare_tokens(a.inputs, a.output, TokensConfig.from_args(a), tokenizer=a.tokenizer,
                            overwrite=a.overwrite, progress=a.progress)
    c, t = corpus.counts, corpus.info["tokenizer"]
    source = "trained" if t["source"] == "trained" else f"from {t['source']}"
    print(f"{a.output}: {c['train_documents']} training + {c['valid_documents']} validation documents, "
          f"{c['train_tokens'] + c['valid_tokens']:,} tokens, vocabulary {corpus.vocab_size} ({t['kind']}, {source}), "
          f"{c['skipped_empty']} empty skipped")


def _output_and_checkpoint(a) -> tuple[Path, Path]:
    """The model folder (refused if it exists, unless --overwrite or --resume) and its checkpoint folder
    beside it (a stale one from an interrupted run is cleared unless --resume)."""
    from shoestring.artifacts import check_writable
    from shoestring.training.loop import Trainer

    out = Path(a.output)
    if not a.resume:
        check_writable(out, a.overwrite)
    ckpt = out.parent / f"{out.name}.checkpoint"
    if ckpt.exists() and not a.resume:
        log.warning("%s exists from an interrupted run: it is replaced (use --resume to continue it)", ckpt)
        Trainer.clear_checkpoint(ckpt)
    return out, ckpt


def cmd_pretrain_vampire(a):
    from shoestring.learners.vampire.config import VampireConfig
    from shoestring.learners.vampire.estimator import VAMPIRE
    from shoestring.training.loop import Trainer

    base = VampireConfig.from_json(a.config) if a.config else None
    config = VampireConfig.from_args(a, base)
    out, ckpt = _output_and_checkpoint(a)
    from shoestring.training.distributed import world

    vae = VAMPIRE(config).fit(a.data, checkpoint_dir=ckpt, resume=a.resume)
    rank, _ = world()
    if rank == 0:
        vae.save_pretrained(out, overwrite=a.overwrite or a.resume)
        Trainer.clear_checkpoint(ckpt)
        t = vae.training_
        print(f"{out}: best NPMI {vae.npmi_:.4f} at epoch {t['best_epoch']} ({t['stop_reason']}; {t['epochs']} epochs "
              f"in {t['seconds']:.0f} s)")


def cmd_pretrain_mlm(a):
    from shoestring.learners.mlm.config import MLMConfig
    from shoestring.learners.mlm.estimator import MaskedLM
    from shoestring.training.distributed import world
    from shoestring.training.loop import Trainer

    config = MLMConfig.from_args(a, MLMConfig.from_json(a.config) if a.config else None)
    out, ckpt = _output_and_checkpoint(a)
    lm = MaskedLM(config, init_from=a.init_from).fit(a.data, checkpoint_dir=ckpt, resume=a.resume)
    if world()[0] == 0:
        lm.save_pretrained(out, overwrite=a.overwrite or a.resume)
        Trainer.clear_checkpoint(ckpt)
        t, last = lm.training_, (lm.history_ or [{}])[-1]
        best = "n/a" if t["best_valid_loss"] is None else f"{t['best_valid_loss']:.3f}"
        print(f"{out}: {t['parameters']:,} parameters ({t['origin']}); validation MLM loss {best} "
              f"(accuracy {last.get('valid_accuracy', float('nan')):.1%} at the last evaluation); {t['steps']} "
              f"steps, {t['tokens']:,} tokens in {t['seconds']:.0f} s = {t['tokens_per_second']:,} tokens/s "
              f"({t['stop_reason']})")


def cmd_presets(a):
    from shoestring.learners.mlm.config import PRESETS, MLMConfig, parameter_count

    print(f"{'preset':8} {'L':>3} {'H':>4} {'heads':>5} {'FFN':>5} {'params, V=30522':>16} {'params, V=8192':>15}")
    for name in PRESETS:
        s = MLMConfig(preset=name).sizes()
        counts = [parameter_count(s["layers"], s["hidden"], s["ffn"], v) / 1e6 for v in (30522, 8192)]
        print(f"{name:8} {s['layers']:>3} {s['hidden']:>4} {s['heads']:>5} {s['ffn']:>5} {counts[0]:>15.1f}M "
              f"{counts[1]:>14.1f}M")


def cmd_pretrain_vectors(a):
    from shoestring.artifacts import check_writable
    from shoestring.data.readers import read_documents
    from shoestring.learners.vectors.ppmi import WordVectors, WordVectorsConfig

    check_writable(a.output, a.overwrite)
    texts = [d.text for d in read_documents(a.inputs, progress="reading", **_read_kw(a))]
    wv = WordVectors(WordVectorsConfig.from_args(a)).fit(texts)
    wv.save_pretrained(a.output, overwrite=a.overwrite)
    t = wv.training_
    print(f"{a.output}: {t['vocabulary']} words x {wv.vectors_.shape[1]} from {t['tokens']} tokens in {t['seconds']:.1f} s")
    for w in wv.vocab_.tokens[40:45]:
        print(f"    {w}: {', '.join(x for x, _ in wv.most_similar(w, 6))}")


def _print_topics(vae, reference=None, n: int = 10, file=None, limit: int | None = None):
    import numpy as np

    from shoestring.evaluation.npmi import topic_diversity

    file = file or sys.stdout
    table = vae.topic_table(reference, top_n=n)
    order = sorted(table, key=lambda t: -np.nan_to_num(t["npmi"], nan=-9))
    for t in order[:limit]:
        print(f"topic {t['id']:3d}  NPMI {t['npmi']:+.3f}  size {100 * t['size']:4.1f}%  {' '.join(t['words'])}",
              file=file)
    npmi = float(np.nanmean([t["npmi"] for t in table]))
    div = topic_diversity(vae.model_.topics(25))
    print(f"mean NPMI {npmi:.4f} over {len(table)} topics; topic diversity (top 25) {div:.3f}", file=file)
    return table, npmi, div


def cmd_topics(a):
    from shoestring.learners.vampire.estimator import VAMPIRE

    vae = VAMPIRE.from_pretrained(a.model)
    ref = None
    if a.data:
        from shoestring.data.bow import BowCorpus

        corpus = BowCorpus.load(a.data)
        if corpus.vocab != vae.vocab_:
            from shoestring.errors import ArtifactError

            raise ArtifactError("the prepared corpus has another vocabulary than the model", path=a.data,
                                hint="pass the folder the model was trained on, or omit --data")
        ref = corpus.reference
    table, npmi, div = _print_topics(vae, ref, a.top_n)
    if a.json:
        from shoestring.artifacts import write_json

        write_json(a.json, {"model": str(a.model), "npmi": npmi, "diversity": div, "topics": table})


def cmd_report(a):
    from shoestring.evaluation.report_data import vampire_report

    path = vampire_report(a.model, a.output, data=a.data, color_by=a.color_by, seed=a.seed)
    print(f"wrote {path}")


def cmd_embed(a):
    import time

    from shoestring.data.readers import read_documents

    model = _load_any(a.model)
    docs = list(read_documents(a.input, progress="reading", **_read_kw(a)))
    texts = [d.text for d in docs]
    t0 = time.perf_counter()
    X = model.transform(texts)
    dt = time.perf_counter() - t0
    out = Path(a.output)
    if out.suffix == ".npy":
        from shoestring.artifacts import write_npy

        write_npy(out, X)
    elif out.name.endswith((".jsonl", ".jsonl.gz")):
        _write_jsonl(out, ({"text": d.text, **({"label": d.label} if d.label is not None else {}), **d.extra,
                            a.field: [round(float(v), 6) for v in x]} for d, x in zip(docs, X)))
    else:
        from shoestring.errors import ConfigError

        raise ConfigError(f"cannot tell the output format of {out}", hint="name it .npy or .jsonl")
    print(f"{out}: {X.shape[0]} x {X.shape[1]} in {dt:.2f} s ({X.shape[0] / max(dt, 1e-9):,.0f} documents/s)")


def _load_any(path):
    from shoestring.artifacts import read_manifest

    kind = read_manifest(path, verify=False).get("kind")
    if kind == "vampire":
        from shoestring.learners.vampire.estimator import VAMPIRE

        return VAMPIRE.from_pretrained(path)
    if kind == "mlm":
        from shoestring.learners.mlm.estimator import MaskedLM

        return MaskedLM.from_pretrained(path)  # mean-pooled last-layer states
    if kind == "classifier":
        from shoestring.tasks.classify.estimator import TextClassifier

        clf = TextClassifier.from_pretrained(path)
        if clf.vampire_ is None:
            from shoestring.errors import ArtifactError

            raise ArtifactError("this classifier has no VAMPIRE representation to embed with", path=path)
        return _FineTunedEmbedder(clf)
    from shoestring.errors import ArtifactError

    raise ArtifactError(f"cannot embed with a {kind!r} folder", path=path)


class _FineTunedEmbedder:
    """VAMPIRE representation with a classifier's learned scalar mix (and fine-tuned encoder)."""

    def __init__(self, clf):
        self.clf = clf

    def transform(self, texts):
        import numpy as np
        import torch

        from shoestring.learners.vampire.learner import bags

        X = self.clf.vampire_.vectorize(texts)
        emb = self.clf.model_.vampire.eval()
        out = []
        with torch.inference_mode():
            for s in range(0, X.shape[0], 4096):
                out.append(emb(*bags(X[s:s + 4096], "cpu")[:3]).numpy())
        return np.concatenate(out) if out else np.zeros((0, emb.dim), np.float32)


def _write_jsonl(path: Path, rows):
    import gzip
    import json
    import os
    import uuid

    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:6]}")
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(tmp, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def cmd_train_classifier(a):
    from shoestring.artifacts import check_writable
    from shoestring.tasks.classify.config import ClassifierConfig
    from shoestring.tasks.classify.estimator import TextClassifier

    check_writable(a.output, a.overwrite)
    base = ClassifierConfig.from_json(a.config) if a.config else None
    config = ClassifierConfig.from_args(a, base)
    texts, labels = _read_labelled(a.train, a, "training", require_labels=True)
    dev_texts = dev_labels = None
    if a.dev:
        dev_texts, dev_labels = _read_labelled(a.dev, a, "dev", require_labels=True)
    unlabeled = None
    if a.unlabeled:
        from shoestring.data.readers import read_documents

        unlabeled = [d.text for d in read_documents(a.unlabeled, progress="reading unlabeled", **_read_kw(a))]
    clf = TextClassifier(config, vampire=a.vampire, word_vectors=a.word_vectors)
    clf.fit(texts, labels, dev_texts=dev_texts, dev_labels=dev_labels, unlabeled=unlabeled)
    _save_classifier(clf, a, dev_texts, dev_labels)


def _save_classifier(clf, a, dev_texts, dev_labels) -> None:
    """Score on the dev files (if any), save with those metrics, print the one-line summary."""
    metrics = None
    if dev_texts is not None:
        m = clf.evaluate(dev_texts, dev_labels, unseen="count")
        metrics = {"dev_accuracy": m["accuracy"], "dev_macro_f1": m["macro_f1"], "dev_examples": m["n"]}
    clf.save_pretrained(a.output, overwrite=a.overwrite, metrics=metrics)
    t = clf.training_
    extra = f"; dev accuracy {metrics['dev_accuracy']:.4f}, macro-F1 {metrics['dev_macro_f1']:.4f}" if metrics else ""
    print(f"{a.output}: {len(clf.classes_)} classes, {t['train_examples']} training examples, best epoch "
          f"{t['best_epoch']} of {t['epochs']} ({t['stop_reason']}){extra}")


def _load_classifier(path):
    """A ``train classifier`` or a ``train finetune`` folder, by its manifest."""
    from shoestring.artifacts import read_manifest

    if read_manifest(path, ("classifier", "bert-classifier"), verify=False)["kind"] == "bert-classifier":
        from shoestring.tasks.classify.finetune import BertClassifier

        return BertClassifier.from_pretrained(path)
    from shoestring.tasks.classify.estimator import TextClassifier

    return TextClassifier.from_pretrained(path)


def cmd_train_finetune(a):
    from shoestring.artifacts import check_writable
    from shoestring.tasks.classify.config import FineTuneConfig
    from shoestring.tasks.classify.finetune import BertClassifier

    check_writable(a.output, a.overwrite)
    config = FineTuneConfig.from_args(a, FineTuneConfig.from_json(a.config) if a.config else None)
    texts, labels = _read_labelled(a.train, a, "training", require_labels=True)
    dev_texts = dev_labels = None
    if a.dev:
        dev_texts, dev_labels = _read_labelled(a.dev, a, "dev", require_labels=True)
    clf = BertClassifier(config, mlm=a.mlm).fit(texts, labels, dev_texts=dev_texts, dev_labels=dev_labels)
    _save_classifier(clf, a, dev_texts, dev_labels)


def cmd_predict(a):
    from shoestring.data.readers import read_documents

    clf = _load_classifier(a.model)
    docs = list(read_documents(a.input, progress="reading", **_read_kw(a)))
    P = clf.predict_proba([d.text for d in docs])
    rows = []
    for d, p in zip(docs, P):
        k = int(p.argmax())
        rows.append({"text": d.text, **({"label": d.label} if d.label is not None else {}), **d.extra,
                     "predicted": clf.classes_[k], "probability": round(float(p[k]), 6)})
    _write_jsonl(Path(a.output), rows)
    print(f"{a.output}: {len(rows)} predictions")


def cmd_evaluate(a):
    from shoestring.evaluation.metrics import format_report

    clf = _load_classifier(a.model)
    texts, labels = _read_labelled(a.test, a, "test", require_labels=True)
    m = clf.evaluate(texts, labels, unseen=a.unseen_labels)
    print(format_report(m))
    if a.json:
        from shoestring.artifacts import write_json

        write_json(a.json, {"model": str(a.model), "test": [str(t) for t in a.test], **m})


def cmd_bench_fewshot(a):
    from shoestring.bench.fewshot import FewshotConfig, run_fewshot

    run_fewshot(FewshotConfig.from_args(a), json_path=a.json, markdown_path=a.markdown)


def cmd_demo(a):
    from shoestring.demo import run_demo

    run_demo(a.output, minutes=a.minutes, labels=a.labels, overwrite=a.overwrite)


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from shoestring.data.config import PrepareConfig, TokensConfig
    from shoestring.data.tokenizer import TokenizerConfig
    from shoestring.learners.vampire.config import VampireConfig
    from shoestring.learners.vectors.config import WordVectorsConfig
    from shoestring.learners.mlm.config import MLMConfig
    from shoestring.tasks.classify.config import ClassifierConfig, FineTuneConfig

    p = argparse.ArgumentParser(prog="shoestring", description="Pre-train text representations of your own domain "
                                "on a CPU, and put them to work.", epilog="Run `shoestring COMMAND -h` for a "
                                "command's options.")
    p.add_argument("--version", action="version", version=f"shoestring {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("demo", help="run the whole pipeline on the shipped Debian corpus (a few minutes)")
    s.add_argument("-o", "--output", default="shoestring-demo", help="folder for the demo's outputs")
    s.add_argument("--minutes", type=float, default=2.0, help="VAMPIRE pre-training budget (default 2)")
    s.add_argument("--labels", type=int, default=200, help="labelled examples for the classifier (default 200)")
    s.add_argument("--overwrite", action="store_true", help="replace an earlier demo's outputs")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("prepare", help="read a corpus and write compact bag-of-words artifacts")
    s.add_argument("inputs", nargs="+", help="JSONL(.gz), CSV/TSV, .txt (one document per line), or a folder of .txt")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.add_argument("--reference", nargs="+", help="files forming the NPMI reference split (default: hold out "
                                                  "--reference-fraction of the inputs)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    PrepareConfig.add_arguments(s)
    TokenizerConfig.add_arguments(s)
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("tokenize", help="read a corpus and write token ids (train.bin, valid.bin) for masked-LM "
                                        "pre-training, training a WordPiece or BPE tokenizer unless one is given")
    s.add_argument("inputs", nargs="+", help="JSONL(.gz), CSV/TSV, .txt (one document per line), or a folder of .txt")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.add_argument("--tokenizer", help="use this tokenizer instead of training one: a tokenizer.json, or a folder "
                                       "with tokenizer.json or vocab.txt (a Hugging Face BERT checkpoint)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    s.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    TokensConfig.add_arguments(s)
    s.set_defaults(func=cmd_tokenize)

    pre = sub.add_parser("pretrain", help="pre-train a representation").add_subparsers(dest="learner",
                                                                                       metavar="LEARNER")
    s = pre.add_parser("vampire", help="the bag-of-words VAE (VAMPIRE) on a prepared corpus")
    s.add_argument("data", help="folder written by `shoestring prepare`")
    s.add_argument("-o", "--output", required=True, help="model folder to write")
    s.add_argument("--config", help="a JSON file of settings (command-line options override it)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    s.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    VampireConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_vampire)

    s = pre.add_parser("mlm", help="a compact BERT with masked-LM on a tokenized corpus (from scratch or from a "
                                   "BERT checkpoint); the folder loads in Hugging Face transformers")
    s.add_argument("data", help="folder written by `shoestring tokenize`")
    s.add_argument("-o", "--output", required=True, help="model folder to write")
    s.add_argument("--init-from", help="continue pre-training this BERT-family checkpoint folder (tokenize the "
                                       "corpus with --tokenizer pointing at the same folder)")
    s.add_argument("--config", help="a JSON file of settings (command-line options override it)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    s.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    MLMConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_mlm)

    s = sub.add_parser("presets", help="the compact-BERT size presets (miniature-BERT grid) with parameter counts")
    s.set_defaults(func=cmd_presets)

    s = pre.add_parser("vectors", help="domain word vectors (PPMI + SVD) from raw text, for the classifier")
    s.add_argument("inputs", nargs="+", help="text files (any format `prepare` reads)")
    s.add_argument("-o", "--output", required=True, help="folder to write")
    s.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    _add_read_options(s)
    WordVectorsConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_vectors)

    s = sub.add_parser("topics", help="print each topic's top words with its NPMI, and topic diversity")
    s.add_argument("model", help="a VAMPIRE model folder")
    s.add_argument("--data", help="a prepared corpus whose reference split scores NPMI (default: the model's own)")
    s.add_argument("-n", "--top-n", type=int, default=10, help="words per topic (default 10)")
    s.add_argument("--json", help="also write the table as JSON here")
    s.set_defaults(func=cmd_topics)

    s = sub.add_parser("report", help="write an offline HTML report: topics, a document map, training curves")
    s.add_argument("model", help="a VAMPIRE model folder")
    s.add_argument("-o", "--output", default=None, help="HTML file (default: MODEL.report.html beside the model folder)")
    s.add_argument("--data", help="prepared corpus for the document map (default: the model's reference split)")
    s.add_argument("--color-by", default="auto", choices=("auto", "label", "topic"),
                   help="color documents by label or dominant topic (auto: label when known)")
    s.add_argument("--seed", type=int, default=0, help="seed of the map's sample and layout")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("embed", help="VAMPIRE document representations of texts, as .npy or appended to JSONL")
    s.add_argument("model", help="a VAMPIRE model folder, or a classifier folder (its fine-tuned VAMPIRE)")
    s.add_argument("input", nargs="+", help="texts to embed")
    s.add_argument("-o", "--output", required=True, help="out.npy, or out.jsonl(.gz) (input rows + a vector field)")
    s.add_argument("--field", default="vampire", help="JSONL field for the vector (default: vampire)")
    _add_read_options(s)
    s.set_defaults(func=cmd_embed)

    tr = sub.add_parser("train", help="train a model that uses a representation").add_subparsers(
        dest="task", metavar="TASK")
    s = tr.add_parser("classifier", help="a Seq2Vec classifier, with or without VAMPIRE")
    s.add_argument("train", nargs="+", help="labelled training files")
    s.add_argument("-o", "--output", required=True, help="model folder to write")
    s.add_argument("--dev", nargs="+", help="labelled dev files for early stopping (default: --dev-fraction of train)")
    s.add_argument("--vampire", help="a VAMPIRE model folder to concatenate (omit for the no-pre-training baseline)")
    s.add_argument("--unlabeled", nargs="+", help="unlabelled files whose words join the embedding vocabulary")
    s.add_argument("--word-vectors", help="a folder from `shoestring pretrain vectors` to initialize the embeddings")
    s.add_argument("--config", help="a JSON file of settings (command-line options override it)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    _add_read_options(s)
    ClassifierConfig.add_arguments(s)
    s.set_defaults(func=cmd_train_classifier)

    s = tr.add_parser("finetune", help="fine-tune a compact BERT (from `pretrain mlm`, or a BERT checkpoint) for "
                                       "classification; the folder loads in transformers")
    s.add_argument("train", nargs="+", help="labelled training files")
    s.add_argument("-o", "--output", required=True, help="model folder to write")
    s.add_argument("--mlm", required=True, help="the pre-trained model folder")
    s.add_argument("--dev", nargs="+", help="labelled dev files for early stopping (default: --dev-fraction of train)")
    s.add_argument("--config", help="a JSON file of settings (command-line options override it)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    _add_read_options(s)
    FineTuneConfig.add_arguments(s)
    s.set_defaults(func=cmd_train_finetune)

    s = sub.add_parser("predict", help="label texts with a trained classifier (JSONL with predicted, probability)")
    s.add_argument("model", help="a classifier folder")
    s.add_argument("input", nargs="+", help="texts to label")
    s.add_argument("-o", "--output", required=True, help="predictions .jsonl(.gz)")
    _add_read_options(s)
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class report, confusion matrix")
    s.add_argument("model", help="a classifier folder")
    s.add_argument("test", nargs="+", help="labelled test files")
    s.add_argument("--json", help="also write the metrics as JSON here")
    s.add_argument("--unseen-labels", default="error", choices=("error", "count"),
                   help="test labels never seen in training: an error (default) or counted as mistakes")
    _add_read_options(s)
    s.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench", help="benchmark protocols").add_subparsers(dest="bench", metavar="BENCH")
    s = b.add_parser("fewshot", help="the paper's few-label protocol: N labels x 5 seeds, VAMPIRE vs baselines")
    from shoestring.bench.config import FewshotConfig

    FewshotConfig.add_arguments(s)
    s.add_argument("--json", help="write one record per method and N here")
    s.add_argument("--markdown", help="write the results table (Markdown) here")
    s.set_defaults(func=cmd_bench_fewshot)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.INFO, format="%(levelname)s: %(message)s")
    if not getattr(a, "func", None):
        # `shoestring pretrain` etc. without a sub-command: show that level's help
        parser.parse_args((argv or sys.argv[1:]) + ["-h"])
        return 2
    try:
        a.func(a)
    except ShoestringError as e:
        if a.verbose:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted. A `pretrain` run can continue with the same command and --resume.", file=sys.stderr)
        return 130
    finally:
        _leave_process_group()
    return 0


def _leave_process_group() -> None:
    """Under torchrun, leave the process group cleanly (only if torch was imported at all)."""
    if "torch.distributed" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            # wait for rank 0 to finish writing before anyone tears the group down: a process leaving while
            # another still talks to it can abort gloo ("terminate called without an active exception")
            import gc

            try:
                dist.barrier()
            finally:
                gc.collect()  # nothing left holding the group (a DDP reducer in a reference cycle) past this point
                dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
