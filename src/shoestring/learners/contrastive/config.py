"""Settings of contrastive fine-tuning from labels (the few-label recipe's ``--contrastive`` step)."""

from __future__ import annotations

import dataclasses

from shoestring.config import param
from shoestring.training.config import TrainConfig


@dataclasses.dataclass
class ContrastiveConfig(TrainConfig):
    """Defaults follow SetFit's fine-tuning of sentence-transformers checkpoints (AdamW, 10% warm-up, linear
    decay, texts cut at 128 tokens) and SimCSE's temperature, except the learning rate and the epochs: on the
    chemprot dev split (all-MiniLM-L6-v2, 200 labels, seed 0) 5e-5 beat SetFit's 2e-5 (59.8 against 54.8%
    after 5 epochs, 43.8% frozen) and 10 epochs beat 5 (63.4%)."""

    batch_size: int = param(16, "anchors per step; each comes with one positive, so twice as many texts are "
                                "encoded", min=2)
    lr: float = param(5e-5, "peak AdamW learning rate", above=0.0)
    max_epochs: int = param(10, "passes over the labelled texts as anchors", min=1)
    patience: int = param(0, "no early stopping: there is no held-out score to stop on", min=0)
    temperature: float = param(0.05, "softmax temperature tau of the contrastive loss", above=0.0)
    warmup: float = param(0.1, "fraction of training spent warming the learning rate up", min=0.0, max=1.0)
    weight_decay: float = param(0.01, "AdamW weight decay", min=0.0)
    dropout: float = param(0.1, "dropout in the encoder while fine-tuning (BERT's)", min=0.0, max=0.9)
    max_length: int = param(128, "cut texts to this many tokens while fine-tuning", min=4)
    loss: str = param("infonce", "infonce (the supervised contrastive loss over every pair of a batch) or cosine "
                                 "(SetFit's: each pair's cosine regressed to 1 for one class, 0 otherwise)",
                      choices=("infonce", "cosine"))
    train_layers: int | None = param(None, "fine-tune only the top this many transformer layers: the layers below "
                                           "(and the embeddings) stay frozen and run once per text, so a step costs "
                                           "about train_layers / layers of a full one (None: every layer)", min=1)


@dataclasses.dataclass
class SimCSEConfig(TrainConfig):
    """Settings of ``shoestring pretrain simcse``. Defaults follow SimCSE's unsupervised BERT-base run (Gao et
    al. 2021): batch 64, learning rate 3e-5, temperature 0.05, dropout 0.1 as the only augmentation, one epoch,
    sentences cut at 32 tokens (here 64: a domain corpus's units are longer than Wikipedia sentences)."""

    pooling: str = param("mean", "sentence vector: mean of the last layer's token states, or cls (the [CLS] state; "
                                 "during unsupervised training through the pooler MLP, as SimCSE)",
                         choices=("mean", "cls"))
    temperature: float = param(0.05, "softmax temperature tau of the contrastive loss", above=0.0)
    seq_len: int = param(64, "cut each text to this many tokens ([CLS] and [SEP] included)", min=4, max=4096)
    split: str = param("none", "what one training text is: none (each input text), sentences, or windows of "
                               "--window words", choices=("none", "sentences", "windows"))
    window: int = param(32, "words per window for --split windows", min=2)
    max_texts: int | None = param(None, "train on at most this many texts (a seeded sample)", min=2)
    batch_size: int = param(64, "texts per step (unsupervised: each encoded twice; supervised: rows of pairs or "
                                "triples)", min=2)
    lr: float = param(3e-5, "peak AdamW learning rate", above=0.0)
    warmup: float = param(0.0, "fraction of training spent warming the learning rate up", min=0.0, max=1.0)
    weight_decay: float = param(0.0, "AdamW weight decay", min=0.0)
    dropout: float = param(0.1, "dropout in the encoder: unsupervised SimCSE's only augmentation", min=0.0,
                           max=0.9)
    max_epochs: int = param(1, "passes over the training texts", min=1)
    patience: int = param(0, "stop after this many evaluations without a better dev Spearman (0: never)", min=0)
    eval_every: int | None = param(250, "with --dev-sts: score it every this many steps and keep the best "
                                         "(SimCSE's 250)", min=1)
    grad_clip: float | None = param(None, "clip the gradient norm to this value", min=0.0)
    whiten: bool = param(False, "after training, whiten the sentence vectors: subtract the mean and decorrelate "
                                "them to unit variance, as estimated on the training texts (BERT-whitening, Su "
                                "et al. 2021: what makes a CPU-trained compact BERT's vectors useful for "
                                "similarity); with --dev-sts the best step is chosen on whitened vectors")
    whiten_dims: int | None = param(None, "with --whiten: keep this many whitened dimensions, those of largest "
                                          "variance (None: all)", min=1)
    whiten_texts: int = param(10000, "with --whiten: estimate the mean and covariance on at most this many "
                                     "training texts (a seeded sample)", min=2)
