"""Callbacks observe the training loop: progress display here; stopping rules live in the loop's config."""

from __future__ import annotations

import sys


class Callback:
    def on_fit_start(self, state) -> None: ...
    def on_step_end(self, state, loss: float) -> None: ...
    def on_epoch_end(self, state, record: dict) -> None: ...
    def on_fit_end(self, state) -> None: ...


class ProgressBar(Callback):
    """One tqdm bar over all steps: epoch, loss, the monitored metric, tokens/s (for learners that count
    tokens), and the ETA to max epochs or the time left in the budget."""

    def __init__(self, file=None):
        self.file = file or sys.stderr
        self.bar = None
        self.last = {}

    def on_fit_start(self, state):
        from tqdm.auto import tqdm

        total = state.steps_per_epoch * state.max_epochs
        # disable=None: no bar when stderr is not a terminal (logs, CI); the closing summary still prints
        self.bar = tqdm(total=total, initial=state.step, unit="step", file=self.file, dynamic_ncols=True,
                        desc="training", leave=False, mininterval=0.5, disable=None)

    def on_step_end(self, state, loss):
        self.bar.update(1)
        if state.step % 10 == 0:
            post = {"epoch": f"{state.epoch + 1}/{state.max_epochs}", "loss": f"{loss:.4g}", **self.last}
            if state.tokens and state.elapsed > 0:
                post["tok/s"] = f"{state.tokens / state.elapsed:,.0f}"
            if state.budget:
                post["budget"] = f"{max(0.0, state.budget - state.elapsed) / 60:.1f}min left"
            self.bar.set_postfix(post, refresh=False)

    def on_epoch_end(self, state, record):
        self.last = {k: f"{v:.4g}" for k, v in record.items()
                     if not k.startswith("train_") and k not in ("epoch", "seconds", "elapsed")
                     and isinstance(v, (int, float))}

    def on_fit_end(self, state):
        if self.bar is not None:
            self.bar.close()
            print(f"training stopped: {state.stop_reason}; {state.epoch} epochs, {state.elapsed:.1f} s",
                  file=self.file)
