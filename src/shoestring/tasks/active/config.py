"""Settings of active-learning simulation (``shoestring al simulate``)."""

from __future__ import annotations

import dataclasses

from shoestring.config import Config, param
from shoestring.errors import ConfigError

DEFAULT_STRATEGIES = ["random", "least_confidence", "margin", "entropy", "kcenter", "kmeanspp", "cluster_margin",
                      "badge"]


@dataclasses.dataclass
class SimulateConfig(Config):
    strategies: list[str] = param(list(DEFAULT_STRATEGIES), "query strategies to compare (random is the baseline)")
    seeds: list[int] = param([0, 1, 2, 3, 4], "seeds: each fixes the initial labels, the strategy's draws and "
                                              "the pool sample; every strategy starts from the same labels")
    initial: int = param(20, "labels drawn at random before the first query (0: cold start, the strategy "
                             "chooses from the first label on)", min=0)
    batch: int = param(20, "b: documents labelled per query round", min=1)
    budget: int = param(500, "stop at this many labels", min=2)
    C: float = param(10.0, "the head's inverse L2 regularisation (features are L2-normalized)", above=0.0)
    max_pool: int | None = param(None, "sample at most this many training documents as the pool (seeded)", min=2)
    stop_kappa: float = param(0.99, "stopping criterion (stabilizing predictions): Cohen's kappa between "
                                    "consecutive models' predictions on a stop set", min=0.0, max=1.0)
    stop_window: int = param(3, "... reached this many rounds in a row", min=1)
    stop_set: int = param(2000, "size of the stop set (unlabelled pool documents, seeded sample)", min=10)

    def _check(self) -> None:
        from shoestring.tasks.active.strategies import STRATEGIES

        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad or not self.strategies:
            raise ConfigError(f"unknown query strategy {', '.join(bad) or '(none given)'}",
                              hint=f"choose from {', '.join(STRATEGIES)}")
        if self.initial > self.budget:
            raise ConfigError(f"--initial {self.initial} is above --budget {self.budget}")
