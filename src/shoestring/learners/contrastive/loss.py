"""The contrastive loss (InfoNCE with any number of positives per anchor).

Given L2-normalized embeddings ``z_1 .. z_M`` of one batch and a group id per row (rows of one group are each
other's positives), the loss of anchor ``i`` with positives ``P(i)`` (same group, ``j != i``) is

    l_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i . z_p / tau) / sum_{a != i} exp(z_i . z_a / tau) )

averaged over the anchors that have at least one positive. This is the supervised contrastive loss (SupCon,
Khosla et al. 2020, "L_out") when the groups are class labels, and exactly InfoNCE / unsupervised SimCSE's
loss (Gao et al. 2021) when each group is a pair of views of one sentence: ``groups = [0..B-1, 0..B-1]``.
With temperature ``tau = 0.05`` (SimCSE's) a cosine of 1 against 0 is a logit gap of 20, sentence-
transformers' ``MultipleNegativesRankingLoss`` scale.

Every row of a batch of ``M`` serves as an anchor and as a negative, so one forward pass of ``M`` texts scores
``M (M - 1)`` pairs; SetFit's pair loss (cosine similarity regressed to 1 / 0) scores ``M / 2``.
:func:`cosine_pairs` is that pair loss taken over every pair of the batch, for comparison.
"""

from __future__ import annotations

import torch


def info_nce(z: torch.Tensor, groups: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Mean contrastive loss of the rows of ``z`` (M x d, L2-normalized) whose ``groups`` (M,) share a value with
    another row; a batch where no row has a positive is a ValueError (nothing to learn from)."""
    if z.shape[0] != groups.shape[0]:
        raise ValueError(f"{z.shape[0]} embeddings but {groups.shape[0]} group ids")
    logits = (z @ z.T) / temperature
    self_mask = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # an anchor is not its own candidate
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (groups[:, None] == groups[None, :]) & ~self_mask
    n_pos = positive.sum(1)
    has = n_pos > 0
    if not bool(has.any()):
        raise ValueError("no row of the batch has a positive: give each group at least two rows")
    per_anchor = -(log_prob.masked_fill(~positive, 0.0).sum(1)[has] / n_pos[has])
    return per_anchor.mean()


def cosine_pairs(z: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """SetFit's pair loss over every pair of a batch: the cosine of a same-group pair regressed to 1, of any
    other pair to 0 (sentence-transformers' ``CosineSimilarityLoss``, squared error), the two kinds weighted
    equally - ``1/2 mean_pos (1 - cos)^2 + 1/2 mean_neg cos^2`` over the rows of ``z`` (M x d, L2-normalized).
    Bounded, unlike InfoNCE at a low temperature: a pair already at its target adds no gradient."""
    if z.shape[0] != groups.shape[0]:
        raise ValueError(f"{z.shape[0]} embeddings but {groups.shape[0]} group ids")
    cos = z @ z.T
    off = ~torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    same = (groups[:, None] == groups[None, :]) & off
    other = (groups[:, None] != groups[None, :])
    if not bool(same.any()):
        raise ValueError("no row of the batch has a positive: give each group at least two rows")
    loss = 0.5 * ((1.0 - cos[same]) ** 2).mean()
    return loss + 0.5 * (cos[other] ** 2).mean() if bool(other.any()) else 2 * loss
