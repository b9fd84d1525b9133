"""The classifier network: [Seq2Vec(word embeddings) ; VAMPIRE(x)] -> dropout -> linear -> softmax.

The VAMPIRE representation (a :class:`~shoestring.learners.vampire.model.VampireEmbedder`) is concatenated
with the encoder's document vector. The reference concatenates it to every token's embedding before a bag of
embeddings, which for that encoder is the same thing; concatenating after the encoder lets any encoder use it.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from shoestring.tasks.classify.config import ClassifierConfig
from shoestring.tasks.classify.encoders import build_encoder


class ClassifierNet(nn.Module):
    def __init__(self, config: ClassifierConfig, vocab_size: int, n_classes: int, vampire=None,
                 vectors: torch.Tensor | None = None):
        super().__init__()
        dim = config.embedding_dim if vectors is None else vectors.shape[1]
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        if vectors is not None:
            self.embedding.weight.data.copy_(vectors)
        freeze = config.freeze_embeddings if config.freeze_embeddings is not None else vectors is not None
        self.embedding.weight.requires_grad_(not freeze)
        self.encoder = build_encoder(config.encoder, dim, config.hidden_dim, config.pooling)
        if vampire is not None and not config.freeze_vampire:
            # fine-tune a copy: the caller's pre-trained VAMPIRE stays as it was (it may serve other classifiers)
            vampire = copy.deepcopy(vampire)
        self.vampire = vampire
        if vampire is not None:
            vampire.vae.requires_grad_(not config.freeze_vampire)
        extra = vampire.dim if vampire is not None else 0
        self.dropout = nn.Dropout(config.dropout)
        width = self.encoder.output_dim + extra
        # parts of very different scales (averaged unit word vectors, the VAMPIRE mix) become comparable
        self.feature_norm = nn.BatchNorm1d(width, affine=False) if config.feature_norm else nn.Identity()
        self.head = nn.Linear(width, n_classes)

    def forward(self, tokens, bow=None, labels=None):
        mask = tokens != 0
        h = self.encoder(self.embedding(tokens), mask)
        if self.vampire is not None:
            if not self.vampire.vae.W1.requires_grad:
                self.vampire.vae.eval()  # frozen: no dropout/batch-norm updates inside the VAE
            h = torch.cat([h, self.vampire(*bow)], dim=1)
        logits = self.head(self.dropout(self.feature_norm(h)))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out
