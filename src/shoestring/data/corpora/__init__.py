"""Corpora shipped inside the package, so the demo and the tests run with no download."""

from pathlib import Path

HERE = Path(__file__).parent


def demo_corpus() -> dict[str, Path]:
    """Paths of the Debian package-description demo corpus: ``{"train": ..., "test": ...}`` (see README.md)."""
    return {"train": HERE / "debian_train.jsonl.gz", "test": HERE / "debian_test.jsonl.gz"}
