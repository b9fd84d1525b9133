"""Settings of ``shoestring prepare`` (kept apart from the pipeline so the CLI can read them without numpy)."""

from __future__ import annotations

import dataclasses

from shoestring.config import Config, param

FORMATS = ("auto", "jsonl", "csv", "tsv", "txt", "folder")


@dataclasses.dataclass
class ReadConfig(Config):
    """How input files are read: by every command that reads text (declared once, inherited)."""

    format: str = param("auto", "input format (auto: from the file name)", choices=FORMATS)
    text_field: str = param("text", "JSONL field / CSV column holding the text")
    label_field: str = param("label", "JSONL field / CSV column holding the label (optional in the data)")

    def read_kw(self) -> dict:
        """Keyword arguments of :func:`~shoestring.data.readers.read_documents`."""
        return {"format": self.format, "text_field": self.text_field, "label_field": self.label_field}


@dataclasses.dataclass
class PrepareConfig(ReadConfig):
    stopwords: str = param("auto", "stop words: a language code (en, de, fr, ...), 'auto' (detect from the "
                                   "corpus), 'none', or a file with one word per line")
    min_df: int = param(2, "drop words that occur in fewer documents than this", min=1)
    max_df: float = param(0.5, "drop words that occur in more than this fraction of documents", min=0.0, max=1.0)
    max_vocab: int = param(30000, "keep at most this many words, most frequent first (V)", min=1)
    reference_fraction: float = param(0.1, "fraction of documents held out as the NPMI reference split "
                                           "(ignored when --reference files are given)", min=0.0, max=0.5)
    reference_max: int = param(10000, "at most this many held-out reference documents", min=1)
    workers: int = param(1, "processes that tokenize shards in parallel", min=1)
    shard_docs: int = param(2000, "documents per shard (the unit of parallel work)", min=1)
    seed: int = param(0, "seed of the held-out split")


TOKENIZER_KINDS = ("wordpiece", "bpe")


@dataclasses.dataclass
class TokensConfig(ReadConfig):
    """Settings of ``shoestring tokenize`` (:func:`shoestring.data.tokens.prepare_tokens`).

    ``kind``, ``vocab_size``, ``lowercase`` and ``min_frequency`` only matter when a tokenizer is trained,
    i.e. when none is given with ``--tokenizer``.
    """

    kind: str = param("wordpiece", "tokenizer to train: BERT's WordPiece, or byte-level BPE (RoBERTa's; never "
                                   "produces [UNK])", choices=TOKENIZER_KINDS)
    vocab_size: int = param(8000, "vocabulary size of the trained tokenizer, special tokens included", min=16)
    lowercase: bool = param(True, "lower-case text before training and encoding (accents are kept)")
    min_frequency: int = param(2, "a merge or word piece must occur this often to enter the vocabulary", min=1)
    valid_fraction: float = param(0.02, "fraction of documents held out for the validation (MLM) loss; at "
                                        "least one when the corpus has two or more", min=0.0, max=0.5)
    seed: int = param(0, "seed of the held-out split")
    shard_docs: int = param(1000, "documents encoded per batch (each batch uses every core)", min=1)
