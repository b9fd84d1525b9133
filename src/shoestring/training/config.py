"""Settings shared by every learner's training run; learner configs inherit them and change defaults.

Configs saved before a field existed still load: :meth:`~shoestring.config.Config.from_dict` gives missing keys
their defaults.
"""

from __future__ import annotations

import dataclasses

from shoestring.config import Config, param
from shoestring.errors import ConfigError
from shoestring.training.precision import PRECISIONS


@dataclasses.dataclass
class TrainConfig(Config):
    batch_size: int = param(64, "examples per optimizer step (global: split across processes under torchrun)",
                            min=1)
    lr: float = param(1e-3, "Adam learning rate", above=0.0)
    max_epochs: int = param(50, "at most this many passes over the training data", min=1)
    patience: int = param(5, "stop after this many evaluations without improvement (0: never stop early)", min=0)
    minutes: float | None = param(None, "wall-clock budget; training stops cleanly with the best model when "
                                        "it runs out", above=0.0)
    clock: str = param("wall", "what --minutes counts: wall-clock time, or cpu (this process's CPU time per "
                               "thread, which other jobs on a shared machine do not eat into: for benchmarks)",
                       choices=("wall", "cpu"))
    grad_clip: float | None = param(None, "clip the gradient norm to this value", min=0.0)
    grad_accum: int = param(1, "split each step into this many micro-batches (same result, less memory; a "
                               "batch-norm layer, as in VAMPIRE, then normalizes over each micro-batch)", min=1)
    eval_every: int | None = param(None, "validate (and checkpoint) every this many optimizer steps (default: "
                                         "once per epoch)", min=1)
    seed: int = param(0, "fixes initialization, batch order and dropout: the same seed on the same machine "
                         "gives the same result")
    device: str = param("auto", "cpu, cuda, cuda:1, mps, or auto (a GPU when present)")
    threads: int | None = param(None, "CPU threads (torch's and BLAS's; default: one per core)", min=1)
    precision: str = param("fp32", "arithmetic of the forward pass: fp32, bf16 (mixed precision: matrix products "
                                   "in bfloat16 under autocast, weights and optimizer state in float32), or auto "
                                   "(bf16 where the CPU or GPU computes it natively, else fp32); measured for "
                                   "the recipe's contrastive fine-tuning, which sets it (--precision there), so "
                                   "not a command-line option of the other learners", choices=PRECISIONS, cli=False)
    progress: bool = param(True, "show a progress bar")

    def _check(self) -> None:
        if self.batch_size % self.grad_accum:
            raise ConfigError(f"--batch-size {self.batch_size} must be divisible by --grad-accum {self.grad_accum}")
