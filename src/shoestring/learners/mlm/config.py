"""Masked-LM pre-training settings: size presets from the miniature-BERT grid, masking, the optimizer schedule.

One dataclass is the CLI (``shoestring pretrain mlm --preset mini --m-corr 0.2 --m-pred 0.4``), the config file
and the saved model's ``shoestring_config.json``. The exported ``config.json`` is Hugging Face's ``BertConfig``,
derived from it (:func:`shoestring.learners.mlm.export.hf_config`).
"""

from __future__ import annotations

import dataclasses

from shoestring.config import param
from shoestring.errors import ConfigError
from shoestring.learners.lm.config import CONTINUOUS_LOSSES
from shoestring.learners.mlm.objectives import OBJECTIVE_OPTIONS, OBJECTIVES, get_objective
from shoestring.training.config import TrainConfig

# Turc et al. 2019 ("Well-Read Students Learn Better"): L layers x H hidden, heads = H / 64, FFN = 4H.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"layers": 2, "hidden": 128},
    "mini": {"layers": 4, "hidden": 256},
    "small": {"layers": 4, "hidden": 512},
    "medium": {"layers": 8, "hidden": 512},
    "base": {"layers": 12, "hidden": 768},
}


def parameter_count(layers: int, hidden: int, ffn: int, vocab: int, positions: int = 512) -> int:
    """Parameters of a BERT encoder with its MLM head (output projection tied to the input embeddings).

    Embeddings (V + P + 2) H + LN; per layer 4 (H^2 + H) attention + 2 LN + 2 H FFN + FFN + H; head H^2 + H + LN + V.
    """
    emb = (vocab + positions + 2) * hidden + 2 * hidden
    layer = 4 * (hidden * hidden + hidden) + 2 * hidden * ffn + ffn + hidden + 4 * hidden
    head = hidden * hidden + hidden + 2 * hidden + vocab
    return emb + layers * layer + head


@dataclasses.dataclass
class MLMConfig(TrainConfig):
    """A compact BERT trained with masked-language modelling (or ELECTRA's replaced-token detection).

    Masking follows Wettig et al. 2023: ``m_pred`` is the fraction of tokens the loss is computed on,
    ``m_corr`` the fraction whose input is corrupted. With ``m_corr <= m_pred`` every corrupted token is
    predicted, and ``m_pred - m_corr`` of the tokens are predicted from their uncorrupted selves; BERT's
    recipe is ``m_corr = m_pred = 0.15`` with the 80-10-10 rule (of corrupted tokens, 80% become [MASK], 10%
    a random token, 10% stay). Unset, ``m_corr`` is ``m_pred`` and the rule is on; the objective resolves
    them (:meth:`mask_rates`) and rejects what it cannot honour (ELECTRA: ``m_corr = m_pred``, no rule).

    The default is 40%, from measurements (docs/benchmarks.md): ``mini`` pre-trained on AG News for 30 CPU
    minutes reached a lower validation loss (4.26 vs 4.38, both scored at 15% masking) and higher few-label
    accuracy (79.5 vs 77.4 at 200 labels, 82.6 vs 80.0 at 1000) with 40% than with 15%, although 40% costs
    1.1x (8k vocabulary) to 1.6x (30k) time per token at that size and it saw 20% fewer tokens. (20, 40) was
    worse than both there (4.66). At ``tiny`` size with a 30k vocabulary 40% costs 2.1x per token; its
    quality there is not measured: try ``--m-corr 0.15 --m-pred 0.15`` for the fastest steps.
    """

    preset: str | None = param("mini", "size preset from the miniature-BERT grid (tiny, mini, small, medium, "
                                       "base); --layers/--hidden/--heads/--ffn override it",
                               choices=tuple(PRESETS))
    layers: int | None = param(None, "L: transformer layers (default: the preset's)", min=1)
    hidden: int | None = param(None, "H: hidden size (default: the preset's)", min=8)
    heads: int | None = param(None, "attention heads (default: H / 64, at least 2)", min=1)
    ffn: int | None = param(None, "feed-forward width (default: 4 H)", min=1)
    seq_len: int = param(128, "tokens per packed training sequence", min=8, max=4096)
    max_positions: int = param(512, "position embeddings (longest sequence the model can read)", min=8)
    dropout: float = param(0.0, "dropout in the encoder during pre-training (0: none, as in short-budget "
                                "recipes); exported models use 0.1 for fine-tuning", min=0.0, max=0.9)
    # no choices=: the names are the objectives registry's (learners/mlm/objectives), checked in _check, so
    # an objective registered with register_objective is accepted too
    objective: str = param("mlm", "the pre-training objective: mlm (masked-LM), electra (replaced-token "
                                  "detection: a small generator fills the masked positions, the model learns "
                                  "which tokens were replaced), continuous (ELMo-C's output layer: predict "
                                  "each masked piece's embedding instead of a softmax over the vocabulary), or "
                                  "mlm_simcse (masked-LM and SimCSE's contrastive loss on the documents' "
                                  "vectors in one objective)")
    continuous_loss: str | None = param(None, "--objective continuous: the distance between predicted and target "
                                              "embedding, cosine, max_margin or vmf (default: cosine)",
                                        choices=CONTINUOUS_LOSSES)
    targets_dim: int | None = param(None, "--objective continuous: d, the width of the frozen target embeddings "
                                          "(PPMI-SVD vectors of the corpus's pieces; default 100)", min=2)
    simcse_weight: float | None = param(None, "--objective mlm_simcse: lambda, the weight of SimCSE's contrastive "
                                              "loss next to the masked-LM loss (default 1)", min=0.0)
    simcse_temperature: float | None = param(None, "--objective mlm_simcse: tau, the contrastive loss's "
                                                   "temperature (default 0.05, SimCSE's)", above=0.0)
    m_corr: float | None = param(None, "m_corr: fraction of tokens whose input is corrupted (default: m_pred; "
                                       "electra needs m_corr = m_pred)", min=0.0, max=1.0)
    m_pred: float = param(0.40, "m_pred: fraction of tokens the loss predicts", min=0.01, max=1.0)
    replace_rule: bool | None = param(None, "the 80-10-10 rule for corrupted tokens (off: all become [MASK]; "
                                            "default: on for mlm, off for electra, which has no such rule)")
    masking: str = param("uniform", "which tokens: uniform, whole_word (all pieces of a word together) or span "
                                    "(contiguous spans, geometric lengths)",
                         choices=("uniform", "whole_word", "span"))
    span_mean: float = param(3.0, "mean span length for --masking span", min=1.0)
    cross_document: bool = param(False, "let attention cross document boundaries inside a packed sequence")
    batch_size: int = param(64, "sequences per optimizer step (global, after accumulation)", min=1)
    lr: float = param(1e-3, "peak AdamW learning rate", min=0.0)
    weight_decay: float = param(0.01, "AdamW weight decay (not on biases and LayerNorm)", min=0.0)
    warmup: float = param(0.06, "fraction of training spent warming the learning rate up", min=0.0, max=1.0)
    decay: str = param("linear", "learning-rate decay after warm-up, by fraction of the epochs or of the "
                                 "--minutes budget: linear to 0, cosine, or constant",
                       choices=("linear", "cosine", "constant"))
    eval_every: int = param(200, "validate (and checkpoint) every this many optimizer steps", min=1)
    max_epochs: int = param(10, "at most this many passes over the training tokens", min=1)
    patience: int = param(0, "stop after this many evaluations without a lower validation loss (0: never)",
                          min=0)
    grad_clip: float | None = param(1.0, "clip the gradient norm to this value", min=0.0)
    electra_generator: float = param(0.25, "ELECTRA generator width as a fraction of H (paper: 1/4 to 1/2)",
                                     min=0.05, max=1.0)
    electra_weight: float = param(50.0, "lambda: weight of the replaced-token loss (ELECTRA paper: 50)", min=0.0)
    eval_sequences: int = param(256, "validation sequences for the MLM loss (scored at 15% masking whatever "
                                     "the training rates, so runs are comparable)", min=1)

    def sizes(self) -> dict[str, int]:
        """Resolved L, H, heads and FFN width."""
        base = PRESETS.get(self.preset or "", {})
        layers = self.layers or base.get("layers")
        hidden = self.hidden or base.get("hidden")
        if layers is None or hidden is None:
            raise ConfigError("give --preset or both --layers and --hidden")
        heads = self.heads or max(2, hidden // 64)
        return {"layers": layers, "hidden": hidden, "heads": heads, "ffn": self.ffn or 4 * hidden}

    def _check(self) -> None:
        s = self.sizes()
        if s["hidden"] % s["heads"]:
            raise ConfigError(f"--hidden {s['hidden']} must be divisible by --heads {s['heads']}")
        if self.seq_len > self.max_positions:
            raise ConfigError(f"--seq-len {self.seq_len} exceeds --max-positions {self.max_positions}")
        if self.batch_size % self.grad_accum:
            raise ConfigError(f"--batch-size {self.batch_size} must be divisible by --grad-accum {self.grad_accum}")
        # an unknown name lists the known ones; the objective rejects settings it cannot honour
        objective = get_objective(self.objective, self)
        unused = [f"--{f.replace('_', '-')}" for f in OBJECTIVE_OPTIONS
                  if getattr(self, f) is not None and f not in objective.options]
        if unused:
            raise ConfigError(f"{', '.join(unused)} only apply to other objectives than --objective {self.objective}",
                              hint="leave them out, or choose the objective they belong to (e.g. --objective "
                                   "continuous)")
        objective.check(self)

    def mask_rates(self) -> tuple[float, float, bool]:
        """(m_corr, m_pred, replace_rule) as the objective resolves them (m_corr/replace_rule may be unset)."""
        return get_objective(self.objective, self).mask_rates(self)

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "config") -> "MLMConfig":
        """As :meth:`Config.from_dict`; a file saved by an older shoestring with settings its objective ignored
        is first read as what was trained (:meth:`Objective.upgrade_saved`, e.g. ELECTRA's m_corr)."""
        name = d.get("objective", cls.objective) if isinstance(d, dict) else None
        if isinstance(name, str) and name in OBJECTIVES:
            d = get_objective(name).upgrade_saved(d, source)
        return super().from_dict(d, source=source)
