"""Masked-LM pre-training objectives as plug-ins, chosen by name (``--objective``).

The learner (:class:`~shoestring.learners.mlm.learner.MLMLearner`) packs sequences, masks them and schedules
the learning rate; everything that depends on *what* is learned from the masked batch is one
:class:`Objective`:

=================  ==========================================================================================
``name``           the ``--objective`` value
``check(config)``  reject settings that do not combine with it (:class:`~shoestring.errors.ConfigError`,
                   raised by ``MLMConfig.validate``, so the CLI fails at start-up)
``options``       the config fields only this objective reads (set under another objective: a ConfigError)
``mask_rates``     ``(m_corr, m_pred, replace_rule)`` the masking uses, resolved from the config's defaults
``prepare(corpus)`` fit what the objective needs from the corpus before the model is built (default: nothing)
``build(encoder)`` the ``nn.Module`` the loop trains (the encoder itself, or a wrapper holding it)
``loss``           ``(loss tensor, {metric: float})`` from one masked batch
``evaluate``       validation metrics (``monitor`` among them)
``export(module)`` what ``save_pretrained`` writes besides the encoder (:class:`Export`)
``describe``       the model card's sentence on how the model was trained
``record``         entries for the estimator's ``training_`` (e.g. what ``prepare`` fitted and its seconds)
=================  ==========================================================================================

Built in: ``mlm`` (:mod:`.mlm`, BERT's masked-LM), ``electra`` (:mod:`.electra`, replaced-token detection) and
``continuous`` (:mod:`.continuous`, ELMo-C's continuous output: predict each masked piece's embedding) and
``mlm_simcse`` (:mod:`.mlm_simcse`, masked-LM and SimCSE's contrastive loss in one objective).
Another objective is a subclass registered under a new name, without touching the learner::

    from shoestring.learners.mlm.objectives import register_objective
    register_objective("my_objective", MyObjective)        # or "package.module:MyObjective"
    MaskedLM(objective="my_objective").fit(corpus)

Objectives are imported when first used, so reading a config does not import torch for an objective it
does not name.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Any, Callable

from shoestring.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from torch import Tensor, nn

    from shoestring.learners.mlm.config import MLMConfig
    from shoestring.learners.mlm.learner import MLMLearner
    from shoestring.learners.mlm.model import CompactBert

EVAL_SEED = 20190703  # fixed validation masks (and ELECTRA's generator samples): every evaluation scores the same

# name -> "module:Class" (imported on first use) or the class itself
OBJECTIVES: dict[str, str | type] = {
    "mlm": "shoestring.learners.mlm.objectives.mlm:MaskedLMObjective",
    "electra": "shoestring.learners.mlm.objectives.electra:ElectraObjective",
    "continuous": "shoestring.learners.mlm.objectives.continuous:ContinuousObjective",
    "mlm_simcse": "shoestring.learners.mlm.objectives.mlm_simcse:MaskedLMSimCSEObjective",
}
# config fields that only some objectives read (each lists its own in ``Objective.options``)
OBJECTIVE_OPTIONS = ("continuous_loss", "targets_dim", "simcse_weight", "simcse_temperature")


@dataclasses.dataclass
class Export:
    """What ``MaskedLM.save_pretrained`` writes for a trained model, as its objective decides.

    ``hf_config``: the ``config.json`` keys naming the Hugging Face class (``architectures``, ``model_type``
    and any key that kind needs); ``state_dict(encoder)``: the tensors of ``model.safetensors`` under that
    class's names; ``title``/``description``/``usage``: the model card's title ("Compact BERT pre-trained with
    <title>"), its sentence on the objective and masking, and which ``transformers`` class gives the head;
    ``attributes``: fitted attributes the estimator gets (ELECTRA: ``discriminator_head_``).
    """

    hf_config: dict
    state_dict: Callable[[Any], dict]
    title: str
    description: str
    usage: str
    attributes: dict = dataclasses.field(default_factory=dict)


class Objective:
    """Base class of masked-LM objectives (see the module docstring). ``config`` is the run's ``MLMConfig``.

    Subclasses set ``name`` and implement ``build``, ``loss``, ``evaluate`` and ``export``; ``check``,
    ``mask_rates`` and ``describe`` have defaults. ``monitor``/``mode`` name the validation metric that selects
    the best model.
    """

    name: str = ""
    monitor: str = "valid_loss"
    mode: str = "min"
    options: tuple[str, ...] = ()  # which of OBJECTIVE_OPTIONS this objective reads

    def __init__(self, config: MLMConfig | None = None):
        self.config = config
        self.record: dict = {}

    # ------------------------------------------------------------------ settings
    def check(self, config: MLMConfig) -> None:
        """Raise :class:`~shoestring.errors.ConfigError` (what is wrong, why, and the fix) for settings this
        objective cannot honour. Never change a setting silently."""

    def mask_rates(self, config: MLMConfig) -> tuple[float, float, bool]:
        """``(m_corr, m_pred, replace_rule)`` for training. ``m_corr`` unset means ``m_pred``; ``replace_rule``
        unset means on (BERT's 80-10-10 rule). Nothing may read ``config.m_corr``/``replace_rule`` directly."""
        m_corr = config.m_pred if config.m_corr is None else config.m_corr
        return m_corr, config.m_pred, True if config.replace_rule is None else config.replace_rule

    def upgrade_saved(self, d: dict, source: str) -> dict:
        """A config dict read from a file (a saved model's, or ``--config``), before validation: make settings
        written by an older shoestring, which it ignored for this objective, valid. Default: unchanged."""
        return d

    def describe(self, config: MLMConfig) -> str:
        """The model card's clause on the objective and masking, e.g. "masked-LM with m_corr = 0.4, m_pred = 0.4"."""
        m_corr, m_pred, _ = self.mask_rates(config)
        return f"{self.name} with m_corr = {m_corr}, m_pred = {m_pred}"

    # ------------------------------------------------------------------ training
    def prepare(self, corpus) -> None:
        """Fit what the objective needs from the training corpus (a
        :class:`~shoestring.data.tokens.TokenCorpus`) before :meth:`build`; put what the estimator's
        ``training_`` should record in ``self.record``. Default: nothing."""

    def build(self, encoder: CompactBert) -> nn.Module:
        """The module the loop trains (and checkpoints): ``encoder`` itself or a wrapper holding it."""
        raise NotImplementedError

    def loss(self, module: nn.Module, tensors: dict, ids: np.ndarray) -> tuple[Tensor, dict]:
        """One masked batch's loss and metrics. ``module`` is :meth:`build`'s module, possibly wrapped by DDP
        (call it, so gradients synchronize); ``tensors`` holds ``ids`` (masked input), ``positions``,
        ``segments``, ``targets_at`` and ``targets``; ``ids`` the uncorrupted numpy ids. The loss must add up
        over micro-batches weighted by their size. Metrics are floats ("tokens" is the learner's)."""
        raise NotImplementedError

    def evaluate(self, learner: MLMLearner, n_sequences: int) -> dict:
        """Validation metrics over ``n_sequences`` held-out sequences (``learner.valid_batches`` masks them
        with fixed masks); must include ``monitor``. Runs under ``torch.no_grad`` with the model in eval mode."""
        raise NotImplementedError

    # ------------------------------------------------------------------ saving
    def export(self, module: nn.Module | None) -> Export:
        """How ``save_pretrained`` writes the model trained as ``module`` (``None``: an encoder alone, as read
        by ``from_pretrained``)."""
        raise NotImplementedError


def register_objective(name: str, cls: type | str, *, replace: bool = False) -> None:
    """Make ``cls`` (an :class:`Objective` subclass, or ``"module:Class"`` imported on first use) the objective
    called ``name``. Re-registering a name needs ``replace=True``."""
    if not name or not isinstance(name, str):
        raise ValueError(f"an objective name must be a non-empty string, got {name!r}")
    if name in OBJECTIVES and OBJECTIVES[name] != cls and not replace:
        raise ValueError(f"objective {name!r} is already registered ({OBJECTIVES[name]!r}); pass replace=True")
    if not isinstance(cls, str) and not (isinstance(cls, type) and issubclass(cls, Objective)):
        raise TypeError(f"an objective must be an Objective subclass or a 'module:Class' string, got {cls!r}")
    OBJECTIVES[name] = cls


def objective_class(name: str) -> type:
    """The class registered as ``name``; an unknown name is a ConfigError listing the known ones."""
    try:
        entry = OBJECTIVES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"objective (--objective) must be one of {', '.join(OBJECTIVES)}; got {name!r}",
                          hint="other objectives are added with "
                               "shoestring.learners.mlm.objectives.register_objective(name, cls)") from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
    return entry


def get_objective(name: str, config: MLMConfig | None = None) -> Objective:
    """An instance of the objective called ``name`` for ``config``."""
    obj = objective_class(name)(config)
    obj.name = name  # the name it was chosen by (a registered subclass of a built-in one has its own)
    return obj
