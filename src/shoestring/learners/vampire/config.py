"""VAMPIRE's settings: one dataclass for the CLI, config files and the saved model's ``config.json``."""

from __future__ import annotations

import dataclasses

from shoestring.config import param
from shoestring.errors import ConfigError
from shoestring.training.config import TrainConfig


@dataclasses.dataclass
class VampireConfig(TrainConfig):
    """Hyper-parameters of the bag-of-words VAE. Defaults follow the paper (K = 81 topics, encoder 2 x 81 with
    ReLU, z-dropout 0.49) except where measured otherwise on AG News (see docs/benchmarks.md): batch-norm on
    the posterior, batch 256 and Adam 5e-3 reach good NPMI in minutes instead of hours."""

    latent_dim: int = param(81, "K: number of latent dimensions ('topics')", min=2)
    hidden_dims: list[int] | None = param(None, "widths of the encoder MLP's layers; they must equal K for the "
                                                  "scalar-mix representation (default: two layers of width K)",
                                          nargs="+")
    z_dropout: float = param(0.49, "dropout on the latent z before the softmax that gives theta", min=0.0, max=0.99)
    kl_annealing: str = param("sigmoid", "KL weight schedule over epochs: sigmoid 1/(1+exp(-0.25(e-W/2))), "
                                         "linear min(1, e/W), or constant 1", choices=("sigmoid", "linear", "constant"))
    kl_warmup: float = param(30.0, "W: epochs over which the KL weight rises (sigmoid midpoint at W/2)", min=0.0)
    decoder_bn: str = param("keep", "batch-norm on the decoder output: keep (VAMPIRE) or anneal (Scholar: fade it "
                                    "out over the first 75% of training)", choices=("keep", "anneal"))
    posterior_bn: bool = param(True, "batch-norm on mu and log sigma^2 (the reference's apply_batchnorm; "
                                      "ProdLDA's cure for unused topics)")
    npmi_top_n: int = param(10, "top words per topic for NPMI", min=2)
    batch_size: int = param(256, "documents per optimizer step", min=1)
    lr: float = param(5e-3, "Adam learning rate", above=0.0)
    max_epochs: int = param(50, "at most this many epochs", min=1)

    @property
    def encoder_dims(self) -> list[int]:
        """The encoder MLP's widths: ``hidden_dims``, or two layers of width K when it is not set."""
        return list(self.hidden_dims) if self.hidden_dims else [self.latent_dim] * 2

    def _check(self) -> None:
        if self.hidden_dims is None:
            return
        if any(h < 1 for h in self.hidden_dims) or not self.hidden_dims:
            raise ConfigError("hidden_dims (--hidden-dims) must be one or more positive widths")
        if any(h != self.latent_dim for h in self.hidden_dims):
            raise ConfigError(f"hidden_dims (--hidden-dims) {self.hidden_dims} must all equal latent_dim "
                              f"(--latent-dim) {self.latent_dim}: the exported representation is a scalar mix of "
                              "the encoder layers and theta",
                              hint=f"leave hidden_dims unset (two layers of width K), or use "
                                   f"{[self.latent_dim] * len(self.hidden_dims)}")
