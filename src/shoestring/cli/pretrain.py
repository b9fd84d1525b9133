"""``shoestring pretrain vampire|mlm|lm|vectors|simcse`` and ``shoestring presets``: learn representations."""

from __future__ import annotations

from shoestring.cli.common import (add_config, add_output, add_processes, add_read, add_resume, load_config,
                                   output_and_checkpoint, read_texts)
from shoestring.training.distributed import is_rank0


def register(sub) -> None:
    from shoestring.learners.mlm.config import MLMConfig
    from shoestring.learners.vampire.config import VampireConfig
    from shoestring.learners.vectors.config import WordVectorsConfig

    pre = sub.add_parser("pretrain", help="pre-train a representation").add_subparsers(dest="learner",
                                                                                       metavar="LEARNER")
    s = pre.add_parser("vampire", help="the bag-of-words VAE (VAMPIRE) on a prepared corpus")
    s.add_argument("data", help="folder written by `shoestring prepare`")
    add_output(s)
    add_config(s)
    add_resume(s)
    add_processes(s)
    VampireConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_vampire)

    s = pre.add_parser("mlm", help="a compact BERT with masked-LM on a tokenized corpus (from scratch or from a "
                                   "BERT checkpoint); the folder loads in Hugging Face transformers")
    s.add_argument("data", help="folder written by `shoestring tokenize`")
    add_output(s)
    s.add_argument("--init-from", help="continue pre-training this BERT-family checkpoint folder (tokenize the "
                                       "corpus with --tokenizer pointing at the same folder)")
    add_config(s)
    add_resume(s)
    add_processes(s)
    MLMConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_mlm)

    from shoestring.learners.lm.config import LMConfig

    s = pre.add_parser("lm", help="a word-level bidirectional LSTM language model (ELMo) on raw text; by default "
                                  "with ELMo-C's continuous output, which predicts each word's embedding instead of "
                                  "a softmax over the vocabulary")
    s.add_argument("inputs", nargs="+", help="text files (any format `prepare` reads)")
    add_output(s)
    add_config(s)
    add_resume(s)
    add_read(s)
    LMConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_lm)

    s = pre.add_parser("vectors", help="domain word vectors (PPMI + SVD) from raw text, for the classifier")
    s.add_argument("inputs", nargs="+", help="text files (any format `prepare` reads)")
    add_output(s, "folder to write")
    add_read(s)
    WordVectorsConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_vectors)

    from shoestring.learners.contrastive.config import SimCSEConfig

    s = pre.add_parser("simcse", help="sentence embeddings with SimCSE from a pre-trained BERT (a `pretrain mlm` "
                                      "folder or a checkpoint such as all-MiniLM-L6-v2); the folder loads in "
                                      "sentence-transformers")
    s.add_argument("inputs", nargs="+", help="unlabelled text files (any format `prepare` reads), or with --pairs "
                                             "JSONL/CSV rows of anchor, positive[, negative]")
    add_output(s)
    s.add_argument("--init-from", required=True, help="the pre-trained BERT folder to start from")
    s.add_argument("--pairs", action="store_true", help="supervised SimCSE: the inputs are rows of (anchor, "
                                                        "positive[, negative]) fields")
    s.add_argument("--fields", nargs="+", default=["anchor", "positive", "negative"], metavar="FIELD",
                   help="--pairs: the anchor, positive and (optional) hard-negative field names "
                        "(default: anchor positive negative)")
    s.add_argument("--dev-sts", help="an STS file (sentence1, sentence2, score) to score every --eval-every steps; "
                                     "the best step by Spearman is kept")
    add_config(s)
    add_resume(s)
    add_processes(s)
    add_read(s)
    SimCSEConfig.add_arguments(s)
    s.set_defaults(func=cmd_pretrain_simcse)

    s = sub.add_parser("presets", help="the compact-BERT size presets (miniature-BERT grid) with parameter counts")
    s.set_defaults(func=cmd_presets)


def cmd_pretrain_vampire(a):
    from shoestring.learners.vampire.config import VampireConfig
    from shoestring.learners.vampire.estimator import VAMPIRE
    from shoestring.training.loop import Trainer

    config = load_config(VampireConfig, a)
    out, ckpt = output_and_checkpoint(a)
    vae = VAMPIRE(config).fit(a.data, checkpoint_dir=ckpt, resume=a.resume)
    vae.save_pretrained(out, overwrite=a.overwrite or a.resume)  # by rank 0 only
    if is_rank0():
        Trainer.clear_checkpoint(ckpt)
        t = vae.training_
        npmi = "n/a" if vae.npmi_ is None else f"{vae.npmi_:.4f}"
        print(f"{out}: best NPMI {npmi} at epoch {t['best_epoch']} ({t['stop_reason']}; {t['epochs']} epochs "
              f"in {t['seconds']:.0f} s)")


def cmd_pretrain_mlm(a):
    from shoestring.learners.mlm.config import MLMConfig
    from shoestring.learners.mlm.estimator import MaskedLM
    from shoestring.training.loop import Trainer

    config = load_config(MLMConfig, a)
    out, ckpt = output_and_checkpoint(a)
    lm = MaskedLM(config, init_from=a.init_from).fit(a.data, checkpoint_dir=ckpt, resume=a.resume)
    lm.save_pretrained(out, overwrite=a.overwrite or a.resume)  # by rank 0 only
    if is_rank0():
        Trainer.clear_checkpoint(ckpt)
        t, last = lm.training_, (lm.history_ or [{}])[-1]
        best = "n/a" if t["best_valid_loss"] is None else f"{t['best_valid_loss']:.3f}"
        print(f"{out}: {t['parameters']:,} parameters ({t['origin']}); validation MLM loss {best} "
              f"(accuracy {last.get('valid_accuracy', float('nan')):.1%} at the last evaluation); {t['steps']} "
              f"steps, {t['tokens']:,} tokens in {t['seconds']:.0f} s = {t['tokens_per_second']:,} tokens/s "
              f"({t['stop_reason']})")


def cmd_pretrain_lm(a):
    from shoestring.learners.lm.config import LMConfig
    from shoestring.learners.lm.estimator import LanguageModel
    from shoestring.training.loop import Trainer

    config = load_config(LMConfig, a)  # a bad combination of settings fails here, before the files are read
    out, ckpt = output_and_checkpoint(a)
    lm = LanguageModel(config).fit(read_texts(a.inputs, a), checkpoint_dir=ckpt, resume=a.resume)
    lm.save_pretrained(out, overwrite=a.overwrite or a.resume)
    Trainer.clear_checkpoint(ckpt)
    t, v = lm.training_, lm.training_["validation"]
    quality = (f"perplexity {v['valid_perplexity']:.1f}, " if "valid_perplexity" in v else "") + \
        f"top-10 {v.get('valid_top10', float('nan')):.1%}, mean rank {v.get('valid_mean_rank', float('nan')):.0f}"
    p = t["parameters"]
    print(f"{out}: {config.output_layer} output layer, V = {len(lm.vocab_):,}; {p['total']:,} trainable parameters "
          f"({p['output']:,} in the output layer); validation loss {v.get('valid_loss', float('nan')):.4g} "
          f"({quality}); {t['steps']} steps, {t['tokens']:,} tokens in {t['seconds']:.0f} s = "
          f"{t['tokens_per_second']:,} tokens/s ({t['stop_reason']})")
    if lm.targets_ is not None:
        print(f"    targets: {lm.targets_['summary']}")


def cmd_pretrain_simcse(a):
    from shoestring.learners.contrastive.config import SimCSEConfig
    from shoestring.learners.contrastive.encoder import SentenceEncoder
    from shoestring.training.loop import Trainer

    config = load_config(SimCSEConfig, a)
    out, ckpt = output_and_checkpoint(a)
    dev = None
    if a.dev_sts:
        from shoestring.evaluation.sts import read_sts

        dev = read_sts(a.dev_sts)
    enc = SentenceEncoder(config, init_from=a.init_from)
    if a.pairs:
        pairs = _read_pairs(a.inputs, a.fields)
        enc.fit(pairs=pairs, dev=dev, checkpoint_dir=ckpt, resume=a.resume)
    else:
        enc.fit(read_texts(a.inputs, a, "unlabeled"), dev=dev, checkpoint_dir=ckpt, resume=a.resume)
    enc.save_pretrained(out, overwrite=a.overwrite or a.resume)
    if is_rank0():
        Trainer.clear_checkpoint(ckpt)
        t = enc.training_
        best = f"; best dev Spearman {t['best']:.2f} at epoch {t['best_epoch']}" if t.get("best") is not None else ""
        print(f"{out}: {t['origin']}; {t['training_rows']:,} rows, {t['steps']} steps in {t['seconds']:.0f} s = "
              f"{t['texts_per_second']:,} texts/s ({t['stop_reason']}){best}")


def _read_pairs(paths, fields) -> list[tuple]:
    from shoestring.data.readers import read_records
    from shoestring.errors import InputError

    if len(fields) not in (2, 3):
        raise InputError("--fields takes the anchor, positive and optionally negative field names")
    rows = []
    for p in paths:
        for line, r in read_records(p, tuple(fields[:2]), optional=tuple(fields[2:])):
            row = tuple(r[f] for f in fields if f in r)
            if any(not isinstance(v, str) or not v.strip() for v in row):
                raise InputError("a pair's texts must be non-empty strings", path=p, line=line,
                                 hint="drop the row, or fill in its " + ", ".join(fields))
            if rows and len(row) != len(rows[0]):
                raise InputError(f"this row has {len(row)} of the fields {', '.join(fields)}, earlier rows "
                                 f"{len(rows[0])}", path=p, line=line, hint="give every row a negative, or none")
            rows.append(row)
    return rows


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
    from shoestring.learners.vectors.ppmi import WordVectors, WordVectorsConfig

    check_writable(a.output, a.overwrite)
    wv = WordVectors(WordVectorsConfig.from_args(a)).fit(read_texts(a.inputs, a))
    wv.save_pretrained(a.output, overwrite=a.overwrite)
    t = wv.training_
    print(f"{a.output}: {t['vocabulary']} words x {wv.vectors_.shape[1]} from {t['tokens']} tokens in {t['seconds']:.1f} s")
    for w in wv.vocab_.tokens[40:45]:
        print(f"    {w}: {', '.join(x for x, _ in wv.most_similar(w, 6))}")
