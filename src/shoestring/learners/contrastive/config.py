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
