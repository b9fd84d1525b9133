"""Callbacks observe the training loop: progress display here; stopping rules live in the loop's config."""

from __future__ import annotations

import math
import sys
import time


class Callback:
    def on_fit_start(self, state) -> None: ...
    def on_step_end(self, state, loss: float) -> None: ...
    def on_epoch_end(self, state, record: dict) -> None: ...
    def on_fit_end(self, state) -> None: ...


def remaining_seconds(state) -> float | None:
    """Seconds of training left: the smaller of the time to reach max epochs at the pace so far and the time
    left in the ``--minutes`` budget (None before there is anything to go by)."""
    total = state.steps_per_epoch * state.max_epochs
    done = state.epoch * state.steps_per_epoch + state.batch  # batches, including those skipped as too small
    left = []
    if done > 0 and state.elapsed > 0:
        left.append(state.elapsed / done * max(0, total - done))
    if state.budget:
        left.append(max(0.0, state.budget - state.elapsed))
    return min(left) if left else None


def duration(seconds: float) -> str:
    """``45s``, ``1m20s``, ``2h05m``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressBar(Callback):
    """One tqdm bar over all steps: epoch, loss, the monitored metric, tokens/s (for learners that count
    tokens), and the ETA to max epochs or to the end of the ``--minutes`` budget, whichever comes first.

    When ``file`` is not a terminal (logs, CI, nohup), there is no bar: a plain line after the first
    evaluation and then at most every ``interval`` seconds (at an evaluation when one falls due), such as
    ``epoch 3/50  step 120  loss 512.3  npmi 0.123  elapsed 1m20s  remaining ~2m40s``."""

    def __init__(self, file=None, interval: float = 30.0):
        self.file = file or sys.stderr
        self.interval = interval
        self.bar = None
        self.plain = False
        self.last = {}
        self._last_line = 0.0
        self._losses: list[float] = []
        self._metric: float | None = None
        self._printed = False

    def on_fit_start(self, state):
        from tqdm.auto import tqdm

        self.total = state.steps_per_epoch * state.max_epochs
        # disable=None: no bar when the file is not a terminal; plain lines then, and the closing summary
        self.bar = tqdm(total=self.total, initial=state.step, unit="step", file=self.file, dynamic_ncols=True,
                        desc="training", leave=False, mininterval=0.5, disable=None)
        self.plain = bool(self.bar.disable)
        self._last_line = time.monotonic()

    def _line(self, state, epoch: str, loss: float | None, metric: float | None) -> None:
        parts = [f"epoch {epoch}/{state.max_epochs}", f"step {state.step}"]
        if loss is not None:
            parts.append(f"loss {loss:.4g}")
        if metric is not None and getattr(state, "monitor", ""):
            parts.append(f"{state.monitor} {metric:.4g}")
        if state.tokens and state.elapsed > 0:
            parts.append(f"tok/s {state.tokens / state.elapsed:,.0f}")
        parts.append(f"elapsed {duration(state.elapsed)}")
        left = remaining_seconds(state)
        if left is not None:
            parts.append(f"remaining ~{duration(left)}")
        print("  ".join(parts), file=self.file, flush=True)
        self._last_line = time.monotonic()
        self._losses = []

    def on_step_end(self, state, loss):
        self.bar.update(1)
        if self.plain:
            if math.isfinite(loss):
                self._losses.append(loss)
            if time.monotonic() - self._last_line >= self.interval:
                mean = sum(self._losses) / len(self._losses) if self._losses else None
                self._line(state, str(state.epoch + 1), mean, self._metric)
            return
        if state.step % 10 == 0:
            post = {"epoch": f"{state.epoch + 1}/{state.max_epochs}", "loss": f"{loss:.4g}", **self.last}
            if state.tokens and state.elapsed > 0:
                post["tok/s"] = f"{state.tokens / state.elapsed:,.0f}"
            if state.budget:
                left = max(0.0, state.budget - state.elapsed)
                post["budget"] = f"{left / 60:.1f}min left"
                if state.step > 0 and state.elapsed > 0:
                    # the steps the budget leaves room for: the bar's length and ETA follow the budget
                    reachable = state.step + math.ceil(left * state.step / state.elapsed)
                    self.bar.total = max(self.bar.n, min(self.total, reachable))
            self.bar.set_postfix(post, refresh=False)

    def on_epoch_end(self, state, record):
        self.last = {k: f"{v:.4g}" for k, v in record.items()
                     if not k.startswith("train_") and k not in ("epoch", "seconds", "elapsed")
                     and isinstance(v, (int, float))}
        monitor = getattr(state, "monitor", "")
        if isinstance(record.get(monitor), (int, float)):
            self._metric = float(record[monitor])
        if self.plain and (not self._printed or time.monotonic() - self._last_line >= self.interval):
            self._printed = True
            epoch = record.get("epoch", state.epoch)
            self._line(state, f"{epoch:g}" if isinstance(epoch, (int, float)) else str(epoch),
                       record.get("train_loss"), self._metric)

    def on_fit_end(self, state):
        if self.bar is not None:
            self.bar.close()
            print(f"training stopped: {state.stop_reason}; {state.epoch} epochs, {state.elapsed:.1f} s",
                  file=self.file)
