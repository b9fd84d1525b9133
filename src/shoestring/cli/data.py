"""``shoestring prepare`` and ``shoestring tokenize``: raw text in, compact training artifacts out."""

from __future__ import annotations

from shoestring.cli.common import add_output

INPUTS_HELP = "JSONL(.gz), CSV/TSV, .txt (one document per line), or a folder of .txt"


def register(sub) -> None:
    from shoestring.data.config import PrepareConfig, TokensConfig
    from shoestring.data.tokenizer import TokenizerConfig

    s = sub.add_parser("prepare", help="read a corpus and write compact bag-of-words artifacts")
    s.add_argument("inputs", nargs="+", help=INPUTS_HELP)
    add_output(s, "output folder")
    s.add_argument("--reference", nargs="+", help="files forming the NPMI reference split (default: hold out "
                                                  "--reference-fraction of the inputs)")
    PrepareConfig.add_arguments(s)
    TokenizerConfig.add_arguments(s)
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("tokenize", help="read a corpus and write token ids (train.bin, valid.bin) for masked-LM "
                                        "pre-training, training a WordPiece or BPE tokenizer unless one is given")
    s.add_argument("inputs", nargs="+", help=INPUTS_HELP)
    add_output(s, "output folder")
    s.add_argument("--tokenizer", help="use this tokenizer instead of training one: a tokenizer.json, or a folder "
                                       "with tokenizer.json or vocab.txt (a Hugging Face BERT checkpoint)")
    s.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    TokensConfig.add_arguments(s)
    s.set_defaults(func=cmd_tokenize)


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
