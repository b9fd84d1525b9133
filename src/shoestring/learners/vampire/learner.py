"""VAMPIRE's objective plugged into the shared training loop: batches, annealing, and NPMI evaluation."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch

from shoestring.data.bow import to_bags
from shoestring.evaluation.npmi import topic_npmi
from shoestring.learners.vampire.config import VampireConfig
from shoestring.learners.vampire.model import VampireVAE


def kl_weight(config: VampireConfig, epoch: int) -> float:
    """The KL term's weight at (0-based) ``epoch``: sigmoid, linear or constant annealing."""
    W = config.kl_warmup
    if config.kl_annealing == "constant" or W == 0:
        return 1.0
    if config.kl_annealing == "linear":
        return min(1.0, epoch / W)
    return 1.0 / (1.0 + math.exp(-0.25 * (epoch - W / 2)))


def bags(X: sp.csr_matrix, device):
    """A CSR batch as (indices, offsets, weights, rows) tensors on ``device``."""
    indices, offsets, weights = to_bags(X)
    rows = torch.from_numpy(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)))
    return tuple(t.to(device) for t in (indices, offsets, weights, rows))


class VampireLearner:
    monitor = "npmi"
    mode = "max"
    min_batch = 2  # the decoder batch-norm normalizes each word over the batch
    nan_advice = ("lower the learning rate (--lr 1e-4), use a larger batch (--batch-size 256), clip gradients "
                  "(--grad-clip 1.0), or anneal the KL term more slowly (--kl-annealing sigmoid)")

    def __init__(self, model: VampireVAE, train: sp.csr_matrix, reference: sp.csr_matrix, config: VampireConfig):
        self.model = model
        self.X = train.astype(np.float32).tocsr()
        self.reference = reference.tocsr()
        self.config = config
        self._ref_tokens = float(self.reference.sum())

    @property
    def n_examples(self) -> int:
        return self.X.shape[0]

    def _device(self):
        return self.model.W1.device

    def batch(self, idx):
        return bags(self.X[idx], self._device())

    def loss(self, model, batch, state):
        c = self.config
        bn_w = 1.0 if c.decoder_bn == "keep" else max(0.0, 1.0 - state.progress / 0.75)
        out = model(*batch, kl_weight=kl_weight(c, state.epoch), bn_weight=bn_w)
        return out["loss"], {"kl": float(out["kl"].detach())}

    def evaluate(self, state) -> dict:
        c = self.config
        scores = topic_npmi(self.model.topics(c.npmi_top_n), self.reference)
        nll = 0.0
        R = self.reference.astype(np.float32)
        bn_w = 1.0 if c.decoder_bn == "keep" else max(0.0, 1.0 - state.progress / 0.75)
        # near-equal chunks of at most 1024 documents (each is a dense chunk x V matrix: bounded memory), none too
        # small for batch statistics
        for chunk in np.array_split(np.arange(R.shape[0]), max(1, -(-R.shape[0] // 1024))):
            out = self.model(*bags(R[chunk], self._device()), bn_weight=bn_w, batch_stats=len(chunk) > 1)
            nll += float(out["nll"])
        return {"npmi": float(np.nanmean(scores)), "kl_weight": kl_weight(c, max(state.epoch - 1, 0)),
                "ref_perplexity": math.exp(min(nll / max(self._ref_tokens, 1.0), 50.0))}
