"""The VAMPIRE variational auto-encoder over bag-of-words counts, in the paper's notation.

For a document with word counts x (a sparse V-vector)::

    h_1 = ReLU(W_1 x + b_1),  h_l = ReLU(W_l h_{l-1} + b_l)            encoder MLP (ReLUs applied, unlike the
                                                                       reference implementation)
    mu = BN(W_mu h_L + b_mu),  log sigma^2 = BN(W_s h_L + b_s)          logistic-normal posterior q(z | x);
                                                                       sigma <= 10; BN optional (posterior_bn)
    z = mu + sigma * eps (training),  z = mu (evaluation)
    theta = softmax(dropout(z))                                        document-topic proportions, K of them
    eta = BN(theta B + b_bg)                                           decoder; B is K x V, b_bg the background
                                                                       log-frequency of each word
    log p(x | theta) = sum_v x_v log softmax(eta)_v                    multinomial reconstruction
    -KL(q || N(0, I)) = 1/2 sum_k (1 + log sigma_k^2 - mu_k^2 - sigma_k^2)
    loss = -mean(log p(x | theta) - kl_weight * KL)

Input stays sparse: the first layer is ``F.embedding_bag`` over the document's non-zero words with the counts as
weights, so a batch costs O(non-zeros x H), never O(B x V). The decoder is the one dense B x K x V product.

``BN`` is a batch-norm over the vocabulary with its scale frozen at 1 (VAMPIRE); with ``decoder_bn="anneal"``
its output is mixed with the un-normalized eta, the batch-norm's share falling from 1 to 0 over the first 75%
of training (Scholar, Card et al. 2018).

The exported document representation (:class:`VampireEmbedder`) is a trainable scalar mix, ELMo-style,
``gamma * sum_j softmax(s)_j r_j`` over r = [h_1, ..., h_L, theta], initialized at s = [1, -20, 1] as in the
reference.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from shoestring.learners.vampire.config import VampireConfig

LOG_SIGMA2_MAX = 2 * 2.302585092994046  # sigma <= 10


class VampireVAE(nn.Module):
    def __init__(self, config: VampireConfig, vocab_size: int, background: torch.Tensor | None = None):
        super().__init__()
        self.config = config
        V, K, hs = vocab_size, config.latent_dim, config.encoder_dims
        # W_1 stored V x H so that embedding_bag can read rows of it
        self.W1 = nn.Parameter(torch.empty(V, hs[0]))
        self.b1 = nn.Parameter(torch.zeros(hs[0]))
        nn.init.xavier_uniform_(self.W1)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(hs[:-1], hs[1:]))
        self.mu = nn.Linear(hs[-1], K)
        self.log_sigma2 = nn.Linear(hs[-1], K)
        self.posterior_bn = config.posterior_bn
        if config.posterior_bn:
            # batch-norm on mu and log sigma^2 (scale frozen at 1) keeps every topic in use (no component collapse)
            self.mu_bn = _frozen_scale_bn(K, momentum=0.01)
            self.log_sigma2_bn = _frozen_scale_bn(K, momentum=0.01)
        self.z_dropout = nn.Dropout(config.z_dropout)
        self.beta = nn.Linear(K, V, bias=False)  # B, the topic-word matrix (weight is V x K)
        nn.init.xavier_uniform_(self.beta.weight)
        self.register_buffer("background", torch.zeros(V) if background is None else
                             torch.as_tensor(background, dtype=torch.float32).clone())
        self.decoder_bn = _frozen_scale_bn(V, momentum=1e-3)

    @property
    def vocab_size(self) -> int:
        return self.W1.shape[0]

    def encode(self, indices, offsets, weights):
        """Encoder layers [h_1, ..., h_L] and the posterior's (mu, log sigma^2) for a batch of bags."""
        h = F.relu(F.embedding_bag(indices, self.W1, offsets, mode="sum", per_sample_weights=weights) + self.b1)
        layers = [h]
        for lin in self.hidden:
            h = F.relu(lin(h))
            layers.append(h)
        mu, log_sigma2 = self.mu(h), self.log_sigma2(h)
        if self.posterior_bn:
            mu, log_sigma2 = self.mu_bn(mu), self.log_sigma2_bn(log_sigma2)
        return layers, mu, log_sigma2.clamp(max=LOG_SIGMA2_MAX)

    def forward(self, indices, offsets, weights, rows, kl_weight: float = 1.0, bn_weight: float = 1.0,
                batch_stats: bool = False):
        """Loss terms for a batch. ``rows[i]`` is the document of non-zero ``i`` (for the reconstruction).

        ``batch_stats``: normalize the decoder with this batch's statistics even in evaluation mode (its running
        statistics move with momentum 1e-3, as in the reference, so they lag far behind in a short run)."""
        layers, mu, log_sigma2 = self.encode(indices, offsets, weights)
        if self.training:
            z = mu + torch.exp(0.5 * log_sigma2) * torch.randn_like(mu)
        else:
            z = mu
        theta = torch.softmax(self.z_dropout(z), dim=-1)
        eta = self.beta(theta) + self.background
        if bn_weight > 0.0:
            bn = self.decoder_bn
            if batch_stats and not self.training:
                normed = F.batch_norm(eta, None, None, bn.weight, bn.bias, True, 0.0, bn.eps)
            else:
                normed = bn(eta)
            eta = normed if bn_weight >= 1.0 else bn_weight * normed + (1.0 - bn_weight) * eta
        log_p = torch.log_softmax(eta, dim=-1)
        recon = torch.zeros(mu.shape[0], device=mu.device).index_add_(0, rows, weights * log_p[rows, indices])
        kl = -0.5 * (1 + log_sigma2 - mu.pow(2) - log_sigma2.exp()).sum(-1)
        loss = (-recon + kl_weight * kl).mean()
        return {"loss": loss, "nll": -recon.sum(), "kl": kl.mean(), "theta": theta}

    @torch.no_grad()
    def topics(self, top_n: int = 10) -> list[list[int]]:
        """Word ids of each topic's top words: the largest entries of each row of B."""
        B = self.beta.weight.t()  # K x V
        return torch.topk(B, k=min(top_n, B.shape[1]), dim=1).indices.tolist()


def _frozen_scale_bn(n: int, momentum: float) -> nn.BatchNorm1d:
    bn = nn.BatchNorm1d(n, eps=1e-3, momentum=momentum)
    bn.weight.data.fill_(1.0)
    bn.weight.requires_grad_(False)
    return bn


class ScalarMix(nn.Module):
    """gamma * sum_j softmax(s)_j r_j (Peters et al. 2018), with s initialized to ``init``."""

    def __init__(self, init: list[float]):
        super().__init__()
        self.scalars = nn.Parameter(torch.tensor(init, dtype=torch.float32))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        w = torch.softmax(self.scalars, dim=0)
        return self.gamma * sum(wi * t for wi, t in zip(w, tensors))


class VampireEmbedder(nn.Module):
    """The VAMPIRE representation of a document: a scalar mix of the encoder layers and theta = softmax(mu).

    A real submodule: a classifier that holds one can freeze it or fine-tune it jointly (reference defect 5)."""

    def __init__(self, vae: VampireVAE, dropout: float = 0.0):
        super().__init__()
        self.vae = vae
        n = len(vae.config.encoder_dims) + 1
        init = [1.0] + [-20.0] * (n - 2) + [1.0]
        self.mix = ScalarMix(init)
        self.dropout = nn.Dropout(dropout)

    @property
    def dim(self) -> int:
        return self.vae.config.latent_dim

    def forward(self, indices, offsets, weights) -> torch.Tensor:
        layers, mu, _ = self.vae.encode(indices, offsets, weights)
        theta = torch.softmax(mu, dim=-1)
        return self.dropout(self.mix(layers + [theta]))
