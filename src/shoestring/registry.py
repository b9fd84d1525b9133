"""Open any saved shoestring folder by its kind: ``shoestring.load(path)``.

Every folder shoestring writes names its kind in ``manifest.json``; :data:`KINDS` maps each kind to the class
(or function) that opens it, imported only when used, so ``load`` is as cheap as the one model it opens::

    import shoestring
    vae = shoestring.load("models/news-vampire")       # a VAMPIRE
    clf = shoestring.load("models/news-classifier")    # a TextClassifier (or a BertClassifier)
    corpus = shoestring.load("prepared/news")          # a BowCorpus

The CLI, the benchmarks and every part built on shoestring open folders through here. A new kind is one line
in :data:`KINDS` (or :func:`register` from outside the package).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from shoestring.errors import ArtifactError

# kind -> "module:attribute"; the attribute is a class with from_pretrained, or a function of the path
KINDS: dict[str, str] = {
    "vampire": "shoestring.learners.vampire.estimator:VAMPIRE",
    "word-vectors": "shoestring.learners.vectors.ppmi:WordVectors",
    "mlm": "shoestring.learners.mlm.estimator:MaskedLM",
    "lm": "shoestring.learners.lm.estimator:LanguageModel",
    "sentence-encoder": "shoestring.learners.contrastive.encoder:SentenceEncoder",
    "classifier": "shoestring.tasks.classify.estimator:TextClassifier",
    "bert-classifier": "shoestring.tasks.classify.finetune:BertClassifier",
    "few-label": "shoestring.tasks.classify.recipe:FewLabelClassifier",
    "index": "shoestring.tasks.search.index:Index",
    "bow-corpus": "shoestring.data.bow:BowCorpus.load",
    "token-corpus": "shoestring.data.tokens:TokenCorpus",
}


def register(kind: str, target: str) -> None:
    """Add a kind: ``register("my-kind", "mypackage.models:MyModel")``."""
    KINDS[kind] = target


def resolve(kind: str):
    """The class or function that opens folders of ``kind``."""
    if kind not in KINDS:
        raise ArtifactError(f"no shoestring class opens {kind!r} folders",
                            hint=f"known kinds: {', '.join(sorted(KINDS))}; a newer shoestring may know it")
    module, _, attr = KINDS[kind].partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def kind_of(path) -> str:
    from shoestring.artifacts import read_manifest

    return read_manifest(path, verify=False).get("kind", "")


def load(path, *, kinds: tuple[str, ...] | None = None):
    """The model (or corpus) saved in ``path``, as the class of its kind. ``kinds``: the kinds the caller can
    use (anything else is an error naming what the folder is)."""
    path = Path(path)
    kind = kind_of(path)
    if kinds is not None and kind not in kinds:
        raise ArtifactError(f"is a {kind!r} folder; this needs {' or '.join(repr(k) for k in kinds)}", path=path)
    opener = resolve(kind)
    return opener.from_pretrained(path) if hasattr(opener, "from_pretrained") else opener(path)


def load_embedder(path):
    """An embedder from ``path``: any shoestring folder that embeds, or a BERT-family Hugging Face /
    sentence-transformers checkpoint folder (opened as a :class:`~shoestring.learners.mlm.estimator.MaskedLM`,
    mean-pooled, such as the offline all-MiniLM-L6-v2 package)."""
    from shoestring.estimator import Embedder

    path = Path(path)
    if not (path / "manifest.json").exists() and (path / "config.json").exists():
        from shoestring.learners.mlm.estimator import MaskedLM

        return MaskedLM.from_pretrained(path)
    model = load(path)
    try:
        embeds = isinstance(model, Embedder)  # reads .dim: a classifier without VAMPIRE raises here
    except ArtifactError as e:
        raise ArtifactError(str(e), path=path) from None
    if not embeds:
        raise ArtifactError(f"cannot embed with a {kind_of(path)!r} folder", path=path,
                            hint="use an embedder: a VAMPIRE, masked-LM, language-model (lm), sentence-encoder, "
                                 "word-vector or classifier-with-VAMPIRE folder")
    return model
