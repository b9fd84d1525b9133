"""The masked-LM learner: what the one training loop needs to pre-train a compact BERT.

Batches are packed sequences (:mod:`~shoestring.learners.mlm.packing`), masked on the fly
(:mod:`~shoestring.learners.mlm.masking`) with a generator seeded by (seed, step, sequence): every epoch sees
fresh masks, a resumed run masks exactly as an uninterrupted one, and one process masks a global batch
exactly as two processes under ``torchrun`` mask its halves. The learning rate follows warm-up then decay by the fraction of
training done, counted in steps or in the ``--minutes`` budget, whichever is further (time-budgeted recipes
set the schedule by the clock, not by a step count they cannot know). Validation is the MLM loss on held-out
documents at a fixed 15% masking, so runs with different training rates compare on one scale.
"""

from __future__ import annotations

import numpy as np
import torch

from shoestring.learners.mlm.config import MLMConfig
from shoestring.learners.mlm.masking import Masked, mask_tokens
from shoestring.learners.mlm.model import CompactBert, lr_factor, param_groups
from shoestring.learners.mlm.packing import PackedSequences

_EVAL_SEED = 20190703  # fixed validation masks: every evaluation scores the same corrupted tokens


class MLMLearner:
    monitor, mode = "valid_loss", "min"

    def __init__(self, model: CompactBert, corpus, config: MLMConfig):
        self.config = config
        # the [CLS] pooler gets no masked-LM gradient; frozen, so DDP does not wait for its gradients
        model.bert.pooler.requires_grad_(False)
        self.electra = config.objective == "electra"
        if self.electra:
            from shoestring.learners.mlm.electra import ElectraPretrainer

            self.model = ElectraPretrainer(model, config.electra_generator, config.electra_weight)
        else:
            self.model = model
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

    def optimizer(self, params):
        groups = param_groups(self.model, self.config.weight_decay)
        try:
            return torch.optim.AdamW(groups, lr=self.config.lr, betas=(0.9, 0.98), eps=1e-6, fused=True)
        except (RuntimeError, TypeError):
            return torch.optim.AdamW(groups, lr=self.config.lr, betas=(0.9, 0.98), eps=1e-6)

    def on_step_start(self, state, optimizer) -> None:
        c = self.config
        for g in optimizer.param_groups:
            g["lr"] = c.lr * lr_factor(state.progress, c.warmup, c.decay)
        self._step = state.step

    def batch(self, indices):
        return (*self.train.batch(indices), np.asarray(indices))

    def _masked(self, ids, rng, m_corr, m_pred, replace_rule=True):
        c = self.config
        if self.electra:  # the generator reads [MASK] at every predicted position
            m_corr, replace_rule = m_pred, False
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
        rows = [self._masked(ids[r:r + 1], np.random.default_rng([c.seed, self._step, int(i)]), c.m_corr, c.m_pred,
                             c.replace_rule) for r, i in enumerate(indices)]
        return Masked(inputs=np.concatenate([m.inputs for m in rows]),
                      predict=np.concatenate([m.predict for m in rows]),
                      corrupt=np.concatenate([m.corrupt for m in rows]),
                      targets=np.concatenate([m.targets for m in rows]))

    def loss(self, model, batch, state):
        ids, positions, segments, indices = batch
        masked = self._mask_rows(ids, indices)
        t = self._tensors(ids, positions, segments, masked)
        if self.electra:
            loss = model(**t, original=torch.from_numpy(ids).to(t["ids"].device))
            return loss, {"tokens": ids.size, **self.model.last}
        # sum over predicted tokens / (sequences x expected predictions per sequence): about the mean
        # cross-entropy, and exactly additive over micro-batches and processes
        loss = model(**t, normalizer=len(ids) * max(1.0, self.config.m_pred * ids.shape[1]))
        return loss, {"tokens": ids.size}

    def evaluate(self, state) -> dict:
        """Masked-LM loss and accuracy on (up to ``eval_sequences``) validation sequences at 15% masking."""
        n = min(len(self.valid), self.config.eval_sequences)
        if n == 0:
            return {}
        if self.electra:
            return self._evaluate_electra(n)
        total, correct, count = 0.0, 0, 0
        rng = np.random.default_rng(_EVAL_SEED)
        for start in range(0, n, 64):
            ids, positions, segments = self.valid.batch(np.arange(start, min(n, start + 64)))
            masked = self._masked(ids, rng, 0.15, 0.15)
            t = self._tensors(ids, positions, segments, masked)
            h = self.model.encode(t["ids"], t["positions"], t["segments"])
            logits = self.model.mlm_logits(h[t["targets_at"]])
            total += float(torch.nn.functional.cross_entropy(logits, t["targets"], reduction="sum"))
            correct += int((logits.argmax(-1) == t["targets"]).sum())
            count += len(masked.targets)
        return {"valid_loss": total / max(count, 1), "valid_accuracy": correct / max(count, 1)}

    def _evaluate_electra(self, n: int) -> dict:
        """ELECTRA's objective on validation sequences (fixed masks; the generator's samples are drawn from a
        fixed torch seed so the global random state of training is left alone)."""
        c = self.config
        rng = np.random.default_rng(_EVAL_SEED)
        sums = {"valid_loss": 0.0, "valid_generator_loss": 0.0, "valid_discriminator_loss": 0.0}
        batches = 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_EVAL_SEED)
            for start in range(0, n, 64):
                ids, positions, segments = self.valid.batch(np.arange(start, min(n, start + 64)))
                masked = self._masked(ids, rng, c.m_pred, c.m_pred)
                t = self._tensors(ids, positions, segments, masked)
                loss = self.model(**t, original=torch.from_numpy(ids).to(t["ids"].device))
                sums["valid_loss"] += float(loss)
                sums["valid_generator_loss"] += self.model.last["generator_loss"]
                sums["valid_discriminator_loss"] += self.model.last["discriminator_loss"]
                batches += 1
        return {k: v / batches for k, v in sums.items()}
