"""Settings of ``shoestring prepare`` (kept apart from the pipeline so the CLI can read them without numpy)."""

from __future__ import annotations

import dataclasses

from shoestring.config import Config, param

FORMATS = ("auto", "jsonl", "csv", "tsv", "txt", "folder")


@dataclasses.dataclass
class PrepareConfig(Config):
    format: str = param("auto", "input format (auto: from the file name)", choices=FORMATS)
    text_field: str = param("text", "JSONL field / CSV column holding the text")
    label_field: str = param("label", "JSONL field / CSV column holding the label (optional in the data)")
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
