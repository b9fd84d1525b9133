"""shoestring: pre-train text representations of your own domain on a laptop CPU, and put them to work.

The package is laid out as the method is used:

- ``shoestring.data``: corpora in (readers, tokenizer, vocabulary, prepared artifacts);
- ``shoestring.learners``: representation learners (``vampire``: the bag-of-words VAE; ``mlm``: compact BERTs
  with masked-LM or ELECTRA; ``lm``: bidirectional LSTM language models, ELMo-C's continuous output among their
  output layers; ``vectors``: PPMI-SVD word vectors);
- ``shoestring.tasks``: uses of representations (``classify``: few-label classification, BERT fine-tuning);
- ``shoestring.training``: the one training loop and its callbacks;
- ``shoestring.evaluation``: NPMI, classification metrics, the HTML report;
- ``shoestring.bench``: benchmark protocols (few-label classification) and baselines.

Heavy modules (torch) are imported lazily, so ``import shoestring`` and ``shoestring --help`` are fast.
"""

__version__ = "0.1.0"

_LAZY = {
    "VAMPIRE": "shoestring.learners.vampire.estimator",
    "VampireConfig": "shoestring.learners.vampire.config",
    "MaskedLM": "shoestring.learners.mlm.estimator",
    "MLMConfig": "shoestring.learners.mlm.config",
    "LanguageModel": "shoestring.learners.lm.estimator",
    "LMConfig": "shoestring.learners.lm.config",
    "TokenCorpus": "shoestring.data.tokens",
    "prepare_tokens": "shoestring.data.tokens",
    "BertClassifier": "shoestring.tasks.classify.finetune",
    "FineTuneConfig": "shoestring.tasks.classify.config",
    "TextClassifier": "shoestring.tasks.classify.estimator",
    "ClassifierConfig": "shoestring.tasks.classify.config",
    "FewLabelClassifier": "shoestring.tasks.classify.recipe",
    "RecipeConfig": "shoestring.tasks.classify.config",
    "prepare": "shoestring.data.prepare",
    "PrepareConfig": "shoestring.data.config",
    "BowCorpus": "shoestring.data.bow",
    "read_documents": "shoestring.data.readers",
    "read_texts_labels": "shoestring.data.readers",
    "Tokenizer": "shoestring.data.tokenizer",
    "load": "shoestring.registry",
    "Estimator": "shoestring.estimator",
    "Embedder": "shoestring.estimator",
    "Classifier": "shoestring.estimator",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shoestring' has no attribute {name!r}")
