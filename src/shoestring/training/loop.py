"""The one training loop: every learner defines its loss and its evaluation, never its own loop.

A *learner* is any object with:

- ``model``: the ``torch.nn.Module`` being trained (its ``forward`` computes the loss, so DDP's hooks run);
- ``n_examples``: the number of training examples;
- ``batch(indices) -> batch``: the examples at those indices, ready for ``loss`` (a numpy index array);
- ``loss(model, batch, state) -> (loss tensor, {name: float})``: one step's objective (``model`` may be the
  DDP wrapper of ``learner.model``);
- ``evaluate(state) -> {name: float}``: metrics after each epoch (rank 0 only), e.g. NPMI or dev accuracy;
- ``monitor``/``mode``: which metric selects the best model (``"npmi"``, ``"max"``);
- optional ``parameters()`` to optimize (default: all of ``model``'s), ``optimizer(params)``,
  ``on_epoch_start(state)``, ``on_step_start(state, optimizer)``, ``min_batch`` (smaller batches are skipped:
  batch-norm needs two examples) and ``nan_advice`` (the hint when the loss becomes NaN/inf).

:class:`Trainer` runs epochs over a seeded permutation, steps Adam, checks every loss for NaN/inf (and stops
with advice instead of silently training on garbage), evaluates, keeps the best weights, checkpoints for
``--resume``, and stops on patience or on the wall-clock budget (``minutes``) with the best weights loaded.
Callbacks (:mod:`shoestring.training.callbacks`) see every step and epoch: the progress bar is one.

``--resume`` continues only the same run: the checkpoint records the caller's ``signature`` (data and shape
settings) and the config; a different signature, batch size or seed is a :class:`~shoestring.errors.ConfigError`
naming what changed, and other changed settings (``minutes``, ``max_epochs``, ``lr`` ...) take effect with a
warning that names them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from shoestring.errors import ConfigError, TrainingError
from shoestring.training import distributed as dist_utils
from shoestring.training.callbacks import Callback, ProgressBar
from shoestring.training.checkpoint import (is_complete, load_checkpoint, recover_checkpoint, remove_checkpoint,
                                            save_checkpoint)
from shoestring.training.config import TrainConfig
from shoestring.training.optim import adam
from shoestring.training.precision import autocast, resolve

log = logging.getLogger("shoestring")


@dataclasses.dataclass
class TrainState:
    """What callbacks and learners can read about the run so far."""

    epoch: int = 0                 # epochs completed
    step: int = 0                  # optimizer steps taken
    steps_per_epoch: int = 0
    max_epochs: int = 0
    elapsed: float = 0.0           # seconds of training, summed over resumed runs
    budget: float | None = None    # seconds, or None
    best: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list = dataclasses.field(default_factory=list)
    stop_reason: str = ""
    batch: int = 0                 # batches done in the current epoch (to resume mid-epoch)
    tokens: int = 0                # tokens trained on, when the learner reports them (for tokens/s)
    monitor: str = ""              # the learner's metric that selects the best model (for display)

    @property
    def progress(self) -> float:
        """Fraction of training done, by epochs or by the time budget, whichever is further (for annealing)."""
        frac = (self.epoch + (self.step % max(self.steps_per_epoch, 1)) / max(self.steps_per_epoch, 1)) / max(
            self.max_epochs, 1)
        if self.budget:
            frac = max(frac, self.elapsed / self.budget)
        return min(frac, 1.0)


_RESUMED = ("epoch", "step", "batch", "tokens", "elapsed", "best", "best_epoch", "bad_epochs", "history")

# generic: a learner's ``nan_advice`` names its own remedies
_NAN_ADVICE = ("lower the learning rate (--lr), use a larger batch (--batch-size), or clip gradients "
               "(--grad-clip 1.0)")

# settings that define the run as much as the signature does: a resumed run with others is not the same run
# (batch order, steps per epoch, initialization); every other changed setting takes effect, with a notice
_MUST_MATCH = ("batch_size", "seed")
_FIX = "run with the original settings, or start fresh without --resume"
_UNSET = object()


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def _show(value) -> str:
    if value is _UNSET:
        return "(not recorded)"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_resumable(saved: dict | None, config: dict, signature: dict | None, path=None) -> list[str]:
    """Compare the run about to resume with the checkpoint's record ``saved`` (``{"signature", "config"}``).

    Raises ConfigError naming every signature key, batch size or seed that changed (old -> new); returns the
    other changed settings as ``"name old -> new"`` (they take effect). A checkpoint without a record (written
    before they were kept) passes."""
    if not saved:
        return []
    config = _jsonable(config)
    old_sig, old_cfg = saved.get("signature"), saved.get("config") or {}
    errors = []
    if signature is not None and old_sig is not None:
        new_sig = _jsonable(signature)
        for k in sorted(set(old_sig) | set(new_sig)):
            a, b = old_sig.get(k, _UNSET), new_sig.get(k, _UNSET)
            if a != b:
                errors.append(f"{k} {_show(a)} -> {_show(b)}")
    sig_keys = set(old_sig or ()) | set(signature or ())
    for k in _MUST_MATCH:
        if k in old_cfg and k in config and old_cfg[k] != config[k] and k not in sig_keys:
            errors.append(f"{k} {_show(old_cfg[k])} -> {_show(config[k])}")
    if errors:
        raise ConfigError("--resume: the checkpoint is from a different run; changed: " + ", ".join(errors),
                          path=path, hint=_FIX)
    return [f"{k} {_show(old_cfg[k])} -> {_show(v)}" for k, v in config.items()
            if k in old_cfg and old_cfg[k] != v and k not in sig_keys]


class Trainer:
    """Run a learner. ``Trainer(config).fit(learner, checkpoint_dir=..., resume=..., signature=...)`` ->
    :class:`TrainState`. The hint when the loss becomes NaN/inf is the learner's ``nan_advice`` (else generic
    advice)."""

    def __init__(self, config: TrainConfig, callbacks: list[Callback] | None = None):
        self.config = config
        self.callbacks = list(callbacks or [])

    def fit(self, learner, *, checkpoint_dir: str | Path | None = None, resume: bool = False,
            signature: dict | None = None) -> TrainState:
        """Train ``learner``; checkpoint into ``checkpoint_dir`` and continue from it with ``resume``.

        ``signature`` (JSON-able: data fingerprints, vocabulary size, shape settings) is stored in the checkpoint;
        resuming with a different one is a ConfigError. The CPU thread counts (``threads``) are restored on return."""
        from shoestring.training.threads import cpu_threads

        with cpu_threads(self.config.threads):
            return self._fit(learner, checkpoint_dir, resume, signature)

    def _fit(self, learner, checkpoint_dir, resume: bool, signature: dict | None) -> TrainState:
        import torch

        cfg = self.config
        nan_advice = getattr(learner, "nan_advice", None) or _NAN_ADVICE
        device = dist_utils.resolve_device(cfg.device)
        rank, world = dist_utils.setup(device)
        if cfg.batch_size % world:
            raise ConfigError(f"--batch-size {cfg.batch_size} must be divisible by the {world} processes")
        local_bs = cfg.batch_size // world
        n = learner.n_examples
        if n < world:
            raise TrainingError(f"{n} training examples cannot be split across {world} processes")
        steps = max(1, (n // world + local_bs - 1) // local_bs)

        model = learner.model.to(device)
        params = list(learner.parameters()) if hasattr(learner, "parameters") else list(model.parameters())
        optimizer = learner.optimizer(params) if hasattr(learner, "optimizer") else adam(params, cfg.lr)
        state = TrainState(steps_per_epoch=steps, max_epochs=cfg.max_epochs,
                           budget=None if cfg.minutes is None else cfg.minutes * 60.0,
                           monitor=getattr(learner, "monitor", ""))
        best_state = None
        ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self._run = {"signature": None if signature is None else _jsonable(signature),
                     "config": _jsonable(cfg.to_dict())}
        if ckpt is not None and rank == 0:
            recover_checkpoint(ckpt)  # finish a swap a crash interrupted; drop a half-written checkpoint
        if resume and world > 1:
            dist_utils.barrier()
        torch.manual_seed(cfg.seed)
        if resume:
            if ckpt is None or not is_complete(ckpt):
                raise TrainingError("--resume was given but there is no checkpoint to resume from",
                                    path=ckpt, hint="run without --resume to start fresh")
            saved = load_checkpoint(ckpt)
            changed = check_resumable(saved["run"], self._run["config"], signature, ckpt)
            if changed and rank == 0:
                log.warning("--resume keeps these changed settings: %s", ", ".join(changed))
            try:
                model.load_state_dict(saved["model"])
            except RuntimeError as e:
                raise ConfigError("--resume: the checkpoint's weights do not fit this model (it was written with "
                                  f"other settings): {_first_lines(e)}", path=ckpt, hint=_FIX) from None
            try:
                optimizer.load_state_dict(saved["optimizer"])
            except (RuntimeError, ValueError, KeyError) as e:
                raise ConfigError("--resume: the checkpoint's optimizer state does not fit this model's "
                                  f"parameters: {_first_lines(e)}", path=ckpt, hint=_FIX) from None
            best_state = saved["best"]
            ls = saved["loop_state"]
            for k in _RESUMED:
                if k in ls:
                    setattr(state, k, ls[k])
            torch.set_rng_state(saved["rng"])

        train_model = model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

        callbacks = list(self.callbacks)
        if cfg.progress and rank == 0:
            callbacks.append(ProgressBar())
        for cb in callbacks:
            cb.on_fit_start(state)

        stop = False
        if cfg.clock == "cpu":  # this process's CPU time per thread: what other jobs on the machine do not change
            threads = torch.get_num_threads()

            def clock():
                return time.process_time() / threads
        else:
            clock = time.perf_counter
        t_start = clock() - state.elapsed
        accum = cfg.grad_accum
        eval_every = cfg.eval_every  # steps; None: evaluate once per epoch
        min_batch = getattr(learner, "min_batch", 1)
        self._t_eval = time.perf_counter()
        forward_context = functools.partial(autocast, resolve(cfg.precision, device), device)  # bf16 products or none
        while state.epoch < cfg.max_epochs and not stop:
            if hasattr(learner, "on_epoch_start"):
                learner.on_epoch_start(state)
            model.train()
            perm = np.random.default_rng([cfg.seed, state.epoch]).permutation(n)
            perm = perm[: len(perm) - len(perm) % world][rank::world]
            totals: dict[str, float] = {}
            count = 0
            for b in range(state.batch, steps):  # state.batch > 0 when resuming mid-epoch
                state.batch = b + 1
                idx = perm[b * local_bs:(b + 1) * local_bs]
                if len(idx) < min_batch:
                    continue  # e.g. a last batch of one document, which batch-norm cannot normalize
                if hasattr(learner, "on_step_start"):
                    learner.on_step_start(state, optimizer)
                optimizer.zero_grad(set_to_none=True)
                value, metrics = self._accumulate(learner, train_model, idx, accum, world, state, min_batch,
                                                  forward_context)
                if world > 1:
                    value = dist_utils.all_reduce_mean(value)
                if not math.isfinite(value):
                    raise TrainingError(
                        f"the training loss became {value} at epoch {state.epoch + 1}, step {b + 1}; the last "
                        f"checkpoint (if any) is kept", path=ckpt, hint=nan_advice)
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                optimizer.step()
                state.step += 1
                state.tokens += int(metrics.pop("tokens", 0)) * world
                state.elapsed = clock() - t_start
                count += 1
                totals["loss"] = totals.get("loss", 0.0) + value
                for k, v in metrics.items():
                    totals[k] = totals.get(k, 0.0) + v
                for cb in callbacks:
                    cb.on_step_end(state, value)
                out_of_time = state.budget is not None and state.elapsed >= state.budget
                if world > 1:
                    out_of_time = bool(dist_utils.broadcast_floats([float(out_of_time)])[0])
                if out_of_time:
                    stop = True
                    state.stop_reason = f"time budget of {cfg.minutes:g} min reached"
                    break
                if eval_every and state.step % eval_every == 0 and b + 1 < steps:
                    fraction = state.epoch + (b + 1) / steps
                    best_state, stop = self._evaluate(learner, model, optimizer, state, best_state, callbacks,
                                                      ckpt, rank, fraction, totals, count, stop)
                    totals, count = {}, 0
                    if stop:
                        break
            if stop and state.stop_reason.startswith("no improvement"):
                break
            partial = stop and state.batch < steps
            fraction = state.epoch + state.batch / steps
            if not partial:
                state.epoch += 1
                state.batch = 0
            if count or not partial:
                best_state, stop = self._evaluate(learner, model, optimizer, state, best_state, callbacks, ckpt,
                                                  rank, fraction, totals, count, stop)
        if not state.stop_reason:
            state.stop_reason = f"reached --max-epochs {cfg.max_epochs}"
        if best_state is not None:
            model.load_state_dict(best_state)
        if world > 1:
            # every rank ends with rank 0's best weights
            import gc

            import torch.distributed as dist

            for t in model.state_dict().values():
                dist.broadcast(t, src=0)
            # release DDP's reducer (and its hold on the gloo process group) now, not at interpreter exit, where
            # gloo's threads can outlive the interpreter and abort the process after a successful run
            del train_model
            gc.collect()
        for cb in callbacks:
            cb.on_fit_end(state)
        model.eval()
        return state

    @staticmethod
    def _accumulate(learner, train_model, idx, accum, world, state, min_batch=1, forward_context=None):
        """Forward and backward over ``idx`` in ``accum`` micro-batches (none smaller than ``min_batch``);
        gradients equal one full batch's. The forward pass runs under ``forward_context()`` (the precision's
        autocast); the backward pass outside it, as autocast asks."""
        import contextlib

        forward_context = forward_context or contextlib.nullcontext

        parts = [p for p in np.array_split(idx, max(1, min(accum, len(idx) // max(min_batch, 1)))) if len(p)]
        value, metrics = 0.0, {}
        for i, part in enumerate(parts):
            w = len(part) / len(idx)
            sync = world == 1 or i == len(parts) - 1
            with contextlib.nullcontext() if sync else train_model.no_sync():
                with forward_context():
                    loss, m = learner.loss(train_model, learner.batch(part), state)
                (loss * w if len(parts) > 1 else loss).backward()
            value += float(loss.detach()) * w
            for k, v in m.items():
                metrics[k] = metrics.get(k, 0.0) + (v if k == "tokens" else v * w)
        return value, metrics

    def _evaluate(self, learner, model, optimizer, state, best_state, callbacks, ckpt, rank, fraction, totals,
                  count, stop):
        """Evaluate (rank 0), keep the best weights, apply patience, checkpoint; returns (best_state, stop)."""
        import torch

        cfg = self.config
        record = {"epoch": round(fraction, 4), "step": state.step, "seconds": time.perf_counter() - self._t_eval,
                  "elapsed": state.elapsed}
        record.update({f"train_{k}": v / max(count, 1) for k, v in totals.items()})
        flags = [0.0]
        if rank == 0:
            model.eval()
            with torch.no_grad():
                record.update(learner.evaluate(state))
            model.train()
            value = record.get(learner.monitor)
            improved = value is not None and math.isfinite(value) and (
                state.best is None or (value > state.best if learner.mode == "max" else value < state.best))
            if improved:
                epoch = round(fraction, 4)
                state.best, state.best_epoch, state.bad_epochs = value, int(epoch) if epoch.is_integer() else epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                state.bad_epochs += 1
            state.history.append(record)
            if cfg.patience and state.bad_epochs >= cfg.patience and not stop:
                state.stop_reason = (f"no improvement of {learner.monitor} for {cfg.patience} evaluations "
                                     + (f"(best {state.best:.4f} at epoch {state.best_epoch})" if state.best is not None
                                        else "(it was never a finite number)"))
                flags[0] = 1.0
            for cb in callbacks:
                cb.on_epoch_end(state, record)
            if ckpt is not None:
                save_checkpoint(ckpt, model=model, optimizer=optimizer, best_state=best_state,
                                loop_state={k: getattr(state, k) for k in _RESUMED}, run=self._run)
        flags = dist_utils.broadcast_floats(flags)
        self._t_eval = time.perf_counter()  # "seconds" of the next record: training time, not evaluation
        return best_state, stop or bool(flags[0])

    @staticmethod
    def clear_checkpoint(checkpoint_dir: str | Path | None) -> None:
        """Delete a checkpoint folder and any temporary folders an interrupted save left beside it."""
        if checkpoint_dir is not None:
            remove_checkpoint(Path(checkpoint_dir))


def _first_lines(e: Exception, n: int = 3) -> str:
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    return " ".join(lines[:n]) + (" ..." if len(lines) > n else "")
