"""The bidirectional LM's learner: what the one training loop needs to train it.

A training example is one window of ``seq_len + 1`` token ids (:mod:`~shoestring.learners.lm.data`); a batch is
``batch_size`` windows, read in both directions. The loss is ½ (forward loss + backward loss), each the mean over
the window's ``seq_len`` targets of the output layer's loss (:class:`~shoestring.learners.lm.model.BiLM`).

Evaluation scores fixed validation windows (the first ``eval_tokens // seq_len`` held-out ones, so every
evaluation sees the same targets) in both directions:

- ``valid_loss`` (the monitored metric), ``valid_forward_loss``, ``valid_backward_loss``: the output layer's loss.
  For the softmaxes it is the exact cross-entropy over all V words (the sampled softmax included), and
  ``valid_perplexity`` = exp(valid_loss), the geometric mean of the two directions' perplexities;
- ``valid_mean_rank``, ``valid_top1``, ``valid_top10``: the rank of the true word among all V by the layer's
  scores (log-probabilities; for the continuous output, the cosine between ê and each e_w, i.e. among the
  nearest neighbours of the predicted vector: Kumar & Tsvetkov's decoding, and the intrinsic check of a
  continuous-output LM, which has no perplexity). Reported for every layer, so they compare across layers.

Each costs O(V) per target (a row of scores), computed ``ROWS`` targets at a time so that memory stays bounded.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from shoestring.learners.lm.config import LMConfig
from shoestring.learners.lm.data import LMData
from shoestring.learners.lm.model import BiLM
from shoestring.learners.lm.outputs import ContinuousOutput, rank_metrics

ROWS = 256  # targets scored at once: ROWS x V floats (100 MB at V = 100k)


class LMLearner:
    monitor = "valid_loss"
    mode = "min"
    nan_advice = ("lower the learning rate (--lr 5e-4) or clip gradients harder (--grad-clip 0.5); with --loss vmf "
                  "the concentration ||ê|| can grow without bound: try --loss cosine")

    def __init__(self, model: BiLM, data: LMData, config: LMConfig):
        self.model, self.data, self.config = model, data, config
        self.n_examples = len(data.train)
        n = min(len(data.valid), max(1, config.eval_tokens // data.seq_len))
        self.valid_windows = torch.from_numpy(data.windows(data.valid[:n]))

    def _device(self):
        return next(self.model.parameters()).device

    def batch(self, indices):
        return torch.from_numpy(self.data.windows(self.data.train[indices])).to(self._device())

    def loss(self, model, batch, state):
        loss, forward, backward = model(batch)
        return loss, {"forward_loss": float(forward), "backward_loss": float(backward),
                      "tokens": batch.shape[0] * (batch.shape[1] - 1)}

    def _score(self, hidden: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-target losses, ranks among all V) for (N, h) states, ``ROWS`` at a time."""
        out = self.model.output
        losses, ranks = [], []
        for s in range(0, hidden.shape[0], ROWS):
            h, t = hidden[s:s + ROWS], targets[s:s + ROWS]
            scores = out.scores(h)  # log p(w | h), or cos(ê, e_w) for the continuous output
            true = scores.gather(1, t[:, None])
            ranks.append(1 + (scores > true).sum(1))
            if isinstance(out, ContinuousOutput):
                # negatives=None: max_margin searches all V words, so validation is deterministic
                losses.append(out.losses(out.predict(h), t, negatives=None))
            else:
                losses.append(-true[:, 0])
        return torch.cat(losses), torch.cat(ranks)

    def evaluate(self, state) -> dict:
        dev = self._device()
        h = self.model.output_size
        per = {"forward": ([], []), "backward": ([], [])}
        for s in range(0, len(self.valid_windows), 64):
            fwd, nxt, bwd, prv = self.model.top_states(self.valid_windows[s:s + 64].to(dev))
            for name, states, targets in (("forward", fwd, nxt), ("backward", bwd, prv)):
                loss, rank = self._score(states.reshape(-1, h), targets.reshape(-1))
                per[name][0].append(loss)
                per[name][1].append(rank)
        out = {}
        for name, (losses, ranks) in per.items():
            out[f"valid_{name}_loss"] = float(torch.cat(losses).mean())
        out["valid_loss"] = (out["valid_forward_loss"] + out["valid_backward_loss"]) / 2
        if not isinstance(self.model.output, ContinuousOutput):
            out["valid_perplexity"] = math.exp(min(out["valid_loss"], 50.0))
        out.update(rank_metrics(torch.cat([r for _, rs in per.values() for r in rs])))
        return out

    @property
    def valid_targets(self) -> int:
        """Targets scored per direction at each evaluation."""
        return int(np.prod(self.valid_windows.shape)) - len(self.valid_windows)
