"""Build the demo corpus shipped in src/shoestring/data/corpora/ from the Debian package descriptions.

    python scripts/make_demo_corpus.py ../shared/data/debian_package_descriptions

Keeps 15 topical archive sections (games, sound, science, ...; not the boilerplate-heavy libs/libdevel/doc
or language sections), the fields text/label/package, and the dataset's split by source package.
Debian archive metadata is freely redistributable (attribution: the Debian Project).
"""

import gzip
import json
import sys
from pathlib import Path

SECTIONS = ["admin", "database", "editors", "electronics", "fonts", "games", "graphics", "hamradio", "mail",
            "math", "net", "science", "sound", "video", "web"]


def main(src: str) -> None:
    out = Path(__file__).resolve().parents[1] / "src/shoestring/data/corpora"
    for split in ("train", "test"):
        n = 0
        with gzip.open(Path(src) / f"{split}.jsonl.gz", "rt", encoding="utf-8") as f, \
                gzip.GzipFile(out / f"debian_{split}.jsonl.gz", "wb", mtime=0) as g:
            for line in f:
                row = json.loads(line)
                if row["label"] in SECTIONS:
                    g.write((json.dumps({"text": row["text"], "label": row["label"], "package": row["package"]},
                                        ensure_ascii=False) + "\n").encode())
                    n += 1
        print(split, n)


if __name__ == "__main__":
    main(sys.argv[1])
