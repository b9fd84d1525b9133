"""ELECTRA's replaced-token detection (Clark et al. 2020): every token gives a training signal.

A small generator (a BERT of width ``electra_generator x H`` on the discriminator's own token and position
embeddings, projected down and back up, as ELECTRA shares embeddings) is trained with masked-LM on the masked
positions; its samples replace the [MASK] tokens, and the discriminator - the model kept afterwards - predicts
for *every* token whether it was replaced:

    L = L_MLM(generator) + lambda * L_disc,   lambda = 50 in the paper

Sampling is not differentiated through (the generator is trained by its MLM loss only). The generator reads
[MASK] at every predicted position, so ``m_corr`` is ``m_pred`` and there is no 80-10-10 rule: asking for
either otherwise is a :class:`~shoestring.errors.ConfigError`. The discriminator's parameter names are Hugging
Face's ``ElectraForPreTraining`` ones once ``bert.`` is read as ``electra.``
(:mod:`~shoestring.learners.mlm.export`), so the export loads in ``transformers.AutoModel``.
"""

from __future__ import annotations

import functools
import logging

import torch
import torch.nn.functional as F
from torch import nn

from shoestring.errors import ConfigError
from shoestring.learners.mlm.model import CompactBert, Encoder, attention_mask
from shoestring.learners.mlm.objectives import EVAL_SEED, Export, Objective

log = logging.getLogger(__name__)


class DiscriminatorHead(nn.Module):
    """HF's ``ElectraDiscriminatorPredictions``: dense, GELU, one logit per token."""

    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dense_prediction = nn.Linear(hidden, 1)

    def forward(self, h):
        return self.dense_prediction(F.gelu(self.dense(h))).squeeze(-1)


class Generator(nn.Module):
    """A narrow BERT reading the discriminator's embeddings through a projection; its MLM head projects back
    to H and scores against the shared word embeddings."""

    def __init__(self, hidden: int, width: int, layers: int, heads: int, vocab: int):
        super().__init__()
        self.project_in = nn.Linear(hidden, width)
        self.bias = nn.Parameter(torch.zeros(vocab))
        self.encoder = Encoder(layers, width, heads, 4 * width, 0.0)
        self.project_out = nn.Linear(width, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)


class ElectraPretrainer(nn.Module):
    """Discriminator (``self.disc``, a :class:`CompactBert` whose MLM head goes unused) plus generator."""

    def __init__(self, disc: CompactBert, generator_fraction: float = 0.25, weight: float = 50.0):
        super().__init__()
        s = disc.sizes
        width = max(16, int(round(s["hidden"] * generator_fraction / 16)) * 16)
        heads = max(1, width // 64)
        self.disc = disc
        self.generator = Generator(s["hidden"], width, s["layers"], heads, s["vocab"])
        self.discriminator_predictions = DiscriminatorHead(s["hidden"])
        self.generator.apply(CompactBert._init)
        self.discriminator_predictions.apply(CompactBert._init)
        self.weight = weight
        # the discriminator's MLM head is not trained by this objective
        self.disc.cls.requires_grad_(False)

    def forward(self, ids, positions=None, segments=None, targets_at=None, targets=None, normalizer=None,
                original=None):
        """``ids``: the masked input; ``original``: the uncorrupted ids; ``targets_at``/``targets``: the masked
        positions and their tokens. Returns ``(loss, parts)``: the combined loss and the floats
        ``generator_loss``, ``discriminator_loss`` and ``replaced`` (the fraction of tokens replaced)."""
        emb = self.disc.bert.embeddings
        mask = attention_mask(segments)
        if positions is None:
            positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        g = self.generator
        hg = g.encoder(g.project_in(emb(ids, positions)), mask)
        hm = g.LayerNorm(F.gelu(g.project_out(hg[targets_at])))
        logits = F.linear(hm, emb.word_embeddings.weight, g.bias)
        gen_loss = F.cross_entropy(logits, targets)
        with torch.no_grad():
            sampled = torch.multinomial(torch.softmax(logits.float(), -1), 1).squeeze(-1)
        corrupted = original.clone()
        corrupted[targets_at] = sampled
        replaced = (corrupted != original).float()
        hd = self.disc.bert.encoder(emb(corrupted, positions), mask)  # the generator's mask serves here too
        disc_logits = self.discriminator_predictions(hd)
        disc_loss = F.binary_cross_entropy_with_logits(disc_logits, replaced)
        parts = {"generator_loss": float(gen_loss.detach()), "discriminator_loss": float(disc_loss.detach()),
                 "replaced": float(replaced.mean())}
        return gen_loss + self.weight * disc_loss, parts


_WHY = "ELECTRA's generator reads [MASK] at every predicted position"


class ElectraObjective(Objective):
    name = "electra"

    def check(self, config) -> None:
        if config.m_corr is not None and config.m_corr != config.m_pred:
            raise ConfigError(f"--objective electra with --m-corr {config.m_corr} and --m-pred {config.m_pred}: "
                              f"{_WHY}, so m_corr is m_pred",
                              hint="drop --m-corr (under electra it follows --m-pred), or use --objective mlm to "
                                   "corrupt another fraction than is predicted")
        if config.replace_rule:
            raise ConfigError(f"--objective electra with --replace-rule: {_WHY} and its samples, not random "
                              "tokens, replace them, so the 80-10-10 rule does not apply",
                              hint="drop --replace-rule (under electra it is off), or use --objective mlm")

    def mask_rates(self, config) -> tuple[float, float, bool]:
        return config.m_pred, config.m_pred, False

    def upgrade_saved(self, d: dict, source: str) -> dict:
        """Configs saved before m_corr/replace_rule could be unset wrote both as concrete values (m_corr 0.4
        and replace_rule true by default, whatever the user typed), and ELECTRA ignored them: it trained with
        m_corr = m_pred and no 80-10-10 rule. Such a file (both set, and not what electra does) is read as
        what was trained, both unset, so every saved ELECTRA model still loads. A file with only one of them
        set cannot come from those versions and is validated strictly. (A hand-written ``--config`` file that
        sets both is indistinguishable from an old save and is read the same way, with the notice below.)"""
        from shoestring.learners.mlm.config import MLMConfig

        m_corr, rule, m_pred = d.get("m_corr"), d.get("replace_rule"), d.get("m_pred", MLMConfig.m_pred)
        if m_corr is None or rule is None or (m_corr == m_pred and rule is False):
            return d
        log.info("%s: m_corr %s and replace_rule %s are not used by --objective electra (%s, so m_corr is "
                 "m_pred = %s, without the 80-10-10 rule); reading them as unset", source, m_corr, rule, _WHY,
                 m_pred)
        return {**d, "m_corr": None, "replace_rule": None}

    def describe(self, config) -> str:
        m_corr, m_pred, _ = self.mask_rates(config)
        return (f"ELECTRA replaced-token detection (the discriminator; generator width {config.electra_generator} "
                f"H, lambda = {config.electra_weight}), masking m_corr = {m_corr}, m_pred = {m_pred}")

    def build(self, encoder):
        return ElectraPretrainer(encoder, self.config.electra_generator, self.config.electra_weight)

    def loss(self, module, tensors, ids):
        return module(**tensors, original=torch.from_numpy(ids).to(tensors["ids"].device))

    def evaluate(self, learner, n_sequences):
        """ELECTRA's objective on validation sequences (fixed masks; the generator's samples are drawn from a
        fixed torch seed so the global random state of training is left alone)."""
        sums = {"valid_loss": 0.0, "valid_generator_loss": 0.0, "valid_discriminator_loss": 0.0}
        batches = 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(EVAL_SEED)
            for ids, t in learner.valid_batches(n_sequences, *self.mask_rates(learner.config)):
                loss, parts = self.loss(learner.model, t, ids)
                sums["valid_loss"] += float(loss)
                sums["valid_generator_loss"] += parts["generator_loss"]
                sums["valid_discriminator_loss"] += parts["discriminator_loss"]
                batches += 1
        return {k: v / batches for k, v in sums.items()}

    def export(self, module):
        """The discriminator as ``ElectraForPreTraining`` (the generator is not kept); without the trained
        module (an encoder alone), there is no replaced-token head to export: a BERT masked-LM export."""
        if module is None:
            from shoestring.learners.mlm.objectives.mlm import MaskedLMObjective

            return MaskedLMObjective(self.config).export(None)
        from shoestring.learners.mlm.export import ELECTRA_KIND, export_state_dict

        head = module.discriminator_predictions.cpu().eval()
        return Export(hf_config={**ELECTRA_KIND, "embedding_size": module.disc.sizes["hidden"]},
                      state_dict=functools.partial(export_state_dict, discriminator_head=head), title="ELECTRA",
                      description=self.describe(self.config),
                      usage="`AutoModelForPreTraining` gives the replaced-token head.",
                      attributes={"discriminator_head_": head})
