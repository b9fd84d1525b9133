"""Settings of the few-label classifier (the CLI's ``train classifier`` options and its saved config)."""

from __future__ import annotations

import dataclasses

from shoestring.config import Config, param
from shoestring.errors import ConfigError
from shoestring.training.config import TrainConfig
from shoestring.training.precision import PRECISIONS


@dataclasses.dataclass
class ClassifierConfig(TrainConfig):
    """Defaults follow VAMPIRE's reference classifier (bag of 50-d embeddings, dropout 0.3, Adam 1e-3,
    batch 32, patience 5) unless measured otherwise."""

    encoder: str = param("boe", "Seq2Vec encoder: boe (average of embeddings), cnn, lstm or gru (bidirectional)",
                         choices=("boe", "cnn", "lstm", "gru"))
    embedding_dim: int = param(50, "word embedding width (ignored when --word-vectors are given)", min=1)
    hidden_dim: int = param(64, "CNN filters per width / RNN hidden size per direction", min=1)
    pooling: str = param("max", "RNN pooling over time", choices=("max", "mean", "final"))
    feature_norm: bool = param(False, "standardize each feature of the document representation before the "
                                      "output layer (a batch-norm without scale and shift)")
    dropout: float = param(0.3, "dropout before the output layer", min=0.0, max=0.99)
    vampire_dropout: float = param(0.2, "dropout on the VAMPIRE representation", min=0.0, max=0.99)
    freeze_vampire: bool = param(True, "keep the VAMPIRE encoder fixed (its scalar mix is still learned)")
    freeze_embeddings: bool | None = param(None, "keep the word embeddings fixed (default: fixed when pre-trained "
                                                 "word vectors are given, trained when randomly initialized)")
    max_vocab: int = param(50000, "at most this many words for the classifier's embedding table", min=1)
    max_length: int = param(400, "truncate documents to this many tokens", min=1)
    dev_fraction: float = param(0.1, "share of the labelled examples held out for early stopping when no dev "
                                     "set is given (0: train on all, select on training loss)", min=0.0, max=0.5)
    batch_size: int = param(32, "examples per optimizer step", min=1)
    max_epochs: int = param(100, "at most this many epochs", min=1)
    patience: int = param(15, "stop after this many epochs without a better dev score", min=0)


@dataclasses.dataclass
class FineTuneConfig(TrainConfig):
    """Fine-tuning settings (``shoestring train finetune``)."""

    lr: float = param(1e-4, "peak AdamW learning rate (miniature BERTs: 1e-4 to 3e-5)", above=0.0)
    batch_size: int = param(16, "examples per optimizer step", min=1)
    max_epochs: int = param(20, "at most this many epochs", min=1)
    patience: int = param(5, "stop after this many epochs without a better dev accuracy", min=0)
    warmup: float = param(0.1, "fraction of training spent warming the learning rate up", min=0.0, max=1.0)
    weight_decay: float = param(0.01, "AdamW weight decay", min=0.0)
    dropout: float = param(0.1, "dropout in the encoder (hidden and attention) and before the output layer, "
                                "BERT's fine-tuning default", min=0.0, max=0.9)
    max_length: int = param(128, "truncate texts to this many tokens ([CLS] and [SEP] included)", min=4)
    dev_fraction: float = param(0.1, "share of the labelled examples held out for early stopping when no dev set "
                                     "is given", min=0.0, max=0.5)


SEMI = ("auto", "off", "self_train", "label_spread")
CONTRASTIVE = ("auto", "off", "on")


@dataclasses.dataclass
class RecipeConfig(Config):
    """Settings of the few-label recipe (``shoestring train classifier --recipe auto``)."""

    folds: int = param(5, "cross-validation folds on the labelled rows (fewer when a class has fewer examples)",
                       min=2)
    c_grid: list[float] = param([0.1, 1.0, 10.0, 100.0], "candidate inverse regularisation strengths C of the "
                                                          "logistic regression", nargs="+")
    semi_supervised: str = param("auto", "use the unlabeled pool: auto (self-training or label spreading, "
                                         "whichever cross-validation on the labels says helps more, or neither), "
                                         "off, self_train or label_spread (always)", choices=SEMI)
    threshold: float = param(0.9, "a pseudo-label needs at least this probability (self-training) or confidence "
                                  "(label spreading)", min=0.0, max=1.0)
    max_pool: int = param(20000, "use at most this many unlabeled texts (a seeded sample) for the TF-IDF "
                                      "view's IDF and for pseudo-labels", min=1)
    contrastive: str = param("auto", "fine-tune the --checkpoint encoder on the labels with a contrastive loss "
                                     "(SetFit-style) before fitting the linear model: auto (nested "
                                     "cross-validation on the labels decides: used alone where it helps beyond "
                                     "the noise, dropped where it hurts beyond it, blended with the frozen "
                                     "views' model in between), on (always, alone), off",
                             choices=CONTRASTIVE)
    contrastive_folds: int = param(2, "folds of the nested cross-validation that judges contrastive fine-tuning "
                                      "(one fine-tuning per fold, then one on all labels)", min=2)
    contrastive_warm_start: bool = param(True, "contrastive fine-tuning: the final fine-tuning on all labels "
                                                "continues the last nested fold's encoder instead of starting "
                                                "over from the checkpoint (more steps in the same minutes)")
    contrastive_curve: bool = param(False, "contrastive fine-tuning, auto: one more fine-tuning on half the last "
                                           "nested fold's training rows draws the tuned-minus-frozen gain's "
                                           "learning curve; its growth from a quarter to half of the labels, "
                                           "beyond its standard error, is counted once more, as the final "
                                           "fine-tuning doubles the labels again (measured at 200 labels: of 7 "
                                           "blended runs it moved 6, 2 up and 4 down on their test splits; off "
                                           "by default)")
    contrastive_epochs: int = param(10, "contrastive fine-tuning: passes over the labelled texts (fewer when the "
                                        "budget runs out)", min=1)
    contrastive_lr: float = param(5e-5, "contrastive fine-tuning: peak AdamW learning rate", above=0.0)
    contrastive_layers: int | None = param(None, "contrastive fine-tuning: train only the encoder's top this many "
                                                 "layers, the frozen rest run once per text (cheaper steps: more "
                                                 "epochs in the budget); None: every layer", min=1)
    minutes: float | None = param(10.0, "wall-clock budget of the whole fit: contrastive fine-tuning and the "
                                        "unlabeled pool are cut to fit it (None in Python: no limit)", above=0.0)
    tfidf: bool = param(True, "include the TF-IDF view")
    min_df: int = param(2, "TF-IDF: drop n-grams seen in fewer texts", min=1)
    tfidf_vocabulary: str = param("labelled", "TF-IDF: the n-grams kept: those at least --min-df labelled texts "
                                              "share (labelled), or those of the labelled and unlabeled texts "
                                              "(pool: lets pseudo-labels teach words no label shows, but rows "
                                              "then spread their norm over words no model weight reads); the "
                                              "IDF comes from both either way", choices=("labelled", "pool"))
    threads: int | None = param(None, "CPU threads of the fit (torch's and BLAS's; default: one per core); 1 "
                                      "when another job shares the cores", min=1)
    precision: str = param("auto", "arithmetic of the encoder's fine-tuning and embedding: fp32, bf16 (matrix "
                                   "products in bfloat16), or auto (bf16 where the CPU or GPU computes it "
                                   "natively, e.g. AVX512-BF16 or AMX: more fine-tuning steps in the same "
                                   "--minutes; else fp32)", choices=PRECISIONS)
    seed: int = param(0, "fixes the folds, the pool sample, the fine-tuning's batches and the solver: the "
                         "same seed gives the same model unless the --minutes budget cuts a phase short, "
                         "where how far it got depends on the machine's speed (training_ records it)")

    def _check(self) -> None:
        if not self.c_grid or any(not c > 0 for c in self.c_grid):
            raise ConfigError("c_grid (--c-grid) must be one or more positive numbers")
