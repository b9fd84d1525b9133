"""The masked-LM learner: what the one training loop needs to pre-train a compact BERT.

Batches are packed sequences (:mod:`~shoestring.learners.mlm.packing`), masked on the fly
(:mod:`~shoestring.learners.mlm.masking`) with a generator seeded by (seed, step, sequence): every epoch sees
fresh masks, a resumed run masks exactly as an uninterrupted one, and one process masks a global batch
exactly as two processes under ``torchrun`` mask its halves. The learning rate follows warm-up then decay by the fraction of
training done, counted in steps or in the ``--minutes`` budget, whichever is further (time-budgeted recipes
set the schedule by the clock, not by a step count they cannot know).

What is learned from a masked batch - the module trained, its loss, its validation, its export - is the
objective's (:mod:`~shoestring.learners.mlm.objectives`, chosen by ``--objective``); so are the masking rates
(:meth:`~shoestring.learners.mlm.objectives.Objective.mask_rates`). Validation masks are fixed
(:meth:`MLMLearner.valid_batches`), so every evaluation scores the same corrupted tokens.
"""

from __future__ import annotations

import numpy as np
import torch

from shoestring.learners.mlm.config import MLMConfig
from shoestring.learners.mlm.masking import Masked, mask_tokens
from shoestring.learners.mlm.model import CompactBert
from shoestring.learners.mlm.objectives import EVAL_SEED, get_objective
from shoestring.training.optim import adamw, lr_factor, param_groups
from shoestring.learners.mlm.packing import PackedSequences


class MLMLearner:
    nan_advice = ("lower the learning rate (--lr 5e-4), lengthen the warm-up (--warmup 0.1), or clip gradients "
                  "harder (--grad-clip 0.5)")

    def __init__(self, model: CompactBert, corpus, config: MLMConfig):
        self.objective = get_objective(config.objective, config)
        self.config = config
        self.monitor, self.mode = self.objective.monitor, self.objective.mode
        # the [CLS] pooler gets no masked-LM gradient; frozen, so DDP does not wait for its gradients
        model.bert.pooler.requires_grad_(False)
        self.objective.prepare(corpus)
        self.model = self.objective.build(model)
        sp = corpus.special
        self.mask_id = sp.mask
        self.vocab_size = corpus.vocab_size
        self.special = np.zeros(model.sizes["vocab"], bool)
        self.special[[i for i in (sp.pad, sp.unk, sp.cls, sp.sep, sp.mask) if i is not None]] = True
        self.special[corpus.vocab_size:] = True  # rows added to round V up to a multiple of 64
        self.word_start = corpus.word_start if config.masking == "whole_word" else None
        self.train = PackedSequences(*corpus.split("train"), config.seq_len, sp.cls, sp.sep)
        tokens, offsets = corpus.split("valid")
        # a validation split shorter than one sequence is scored as one shorter sequence
        short = min(config.seq_len, int(offsets[-1]) + 2 * (len(offsets) - 1))
        self.valid = PackedSequences(tokens, offsets, max(short, 1), sp.cls, sp.sep)
        self.n_examples = len(self.train)
        self._step = 0

    @property
    def config(self) -> MLMConfig:
        return self._config

    @config.setter
    def config(self, config: MLMConfig) -> None:  # the estimator may shrink batch_size: the objective follows
        self._config = self.objective.config = config

    def optimizer(self, params):
        return adamw(param_groups(self.model, self.config.weight_decay), self.config.lr, betas=(0.9, 0.98), eps=1e-6)

    def on_step_start(self, state, optimizer) -> None:
        c = self.config
        for g in optimizer.param_groups:
            g["lr"] = c.lr * lr_factor(state.progress, c.warmup, c.decay)
        self._step = state.step

    def batch(self, indices):
        return (*self.train.batch(indices), np.asarray(indices))

    def _masked(self, ids, rng, m_corr, m_pred, replace_rule):
        c = self.config
        return mask_tokens(ids, special=self.special, m_corr=m_corr, m_pred=m_pred, mask_id=self.mask_id,
                           vocab_size=self.vocab_size, rng=rng, replace_rule=replace_rule, unit=c.masking,
                           word_start=self.word_start, span_mean=c.span_mean)

    def _tensors(self, ids, positions, segments, masked):
        dev = next(self.model.parameters()).device
        return dict(ids=torch.from_numpy(masked.inputs).to(dev), positions=torch.from_numpy(positions).to(dev),
                    segments=None if self.config.cross_document else torch.from_numpy(segments).to(dev),
                    targets_at=torch.from_numpy(masked.predict).to(dev),
                    targets=torch.from_numpy(masked.targets).to(dev))

    def _mask_rows(self, ids, indices):
        """Mask each sequence with its own generator, seeded by (seed, step, sequence): the masks do not depend
        on how a step's batch is split into micro-batches or across processes."""
        c = self.config
        m_corr, m_pred, rule = self.objective.mask_rates(c)
        rows = [self._masked(ids[r:r + 1], np.random.default_rng([c.seed, self._step, int(i)]), m_corr, m_pred,
                             rule) for r, i in enumerate(indices)]
        return Masked(inputs=np.concatenate([m.inputs for m in rows]),
                      predict=np.concatenate([m.predict for m in rows]),
                      corrupt=np.concatenate([m.corrupt for m in rows]),
                      targets=np.concatenate([m.targets for m in rows]))

    def loss(self, model, batch, state):
        ids, positions, segments, indices = batch
        t = self._tensors(ids, positions, segments, self._mask_rows(ids, indices))
        loss, metrics = self.objective.loss(model, t, ids)
        return loss, {"tokens": ids.size, **metrics}

    def valid_batches(self, n: int, m_corr: float, m_pred: float, replace_rule: bool, size: int = 64):
        """``(ids, tensors)`` for the first ``n`` validation sequences in batches of ``size``, masked at these
        rates with fixed masks (one generator seeded by ``EVAL_SEED``, in order): objectives evaluate on them."""
        rng = np.random.default_rng(EVAL_SEED)
        for start in range(0, n, size):
            ids, positions, segments = self.valid.batch(np.arange(start, min(n, start + size)))
            yield ids, self._tensors(ids, positions, segments, self._masked(ids, rng, m_corr, m_pred, replace_rule))

    def evaluate(self, state) -> dict:
        """The objective's validation metrics on (up to ``eval_sequences``) validation sequences."""
        n = min(len(self.valid), self.config.eval_sequences)
        return self.objective.evaluate(self, n) if n else {}
