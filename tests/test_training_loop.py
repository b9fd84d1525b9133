"""The shared training loop: checkpoints written as a set, --resume checks, progress output, loop hygiene."""

from __future__ import annotations

import errno
import io
import json
import logging
import math
from pathlib import Path

import pytest
import torch

from shoestring.errors import ConfigError, TrainingError
from shoestring.training import checkpoint as ckpt_mod
from shoestring.training.callbacks import ProgressBar, remaining_seconds
from shoestring.training.config import TrainConfig
from shoestring.training.loop import Trainer, TrainState


class Toy:
    """Regression with a small MLP (with dropout, so the restored RNG matters): fast and deterministic."""

    monitor, mode = "valid_loss", "min"

    def __init__(self, hidden: int = 8, n: int = 64, nan: bool = False, dropout: float = 0.2):
        g = torch.Generator().manual_seed(0)
        self.X = torch.randn(n, 4, generator=g)
        self.y = self.X @ torch.randn(4, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
        torch.manual_seed(1)
        self.model = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Dropout(dropout),
                                         torch.nn.Linear(hidden, 1))
        self.n_examples = n
        self.nan = nan

    def batch(self, idx):
        return self.X[idx], self.y[idx]

    def loss(self, model, batch, state):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        return (loss * float("nan") if self.nan else loss), {}

    def evaluate(self, state):
        return {"valid_loss": float(((self.model(self.X) - self.y) ** 2).mean())}


def config(**kw):
    return TrainConfig(**{**dict(batch_size=16, lr=1e-2, max_epochs=4, patience=0, progress=False), **kw}).validate()


def fit(ckpt=None, resume=False, toy=None, signature=None, callbacks=None, **kw):
    toy = toy or Toy()
    state = Trainer(config(**kw), callbacks=callbacks).fit(toy, checkpoint_dir=ckpt, resume=resume,
                                                           signature=signature)
    return state, toy


def losses(state):
    return [r["train_loss"] for r in state.history]


def epoch_of(folder):
    return json.loads((folder / "loop_state.json").read_text())["epoch"]


# ------------------------------------------------------------------------------------------ checkpoint sets
def test_crash_while_writing_keeps_the_previous_checkpoint_and_resume_matches(tmp_path, monkeypatch):
    full, _ = fit(tmp_path / "full")
    ckpt = tmp_path / "ck"
    real, calls = ckpt_mod.save_state_dict, []

    def crashing(state, stem):
        calls.append(stem.name)
        if len(calls) == 4 * 2 + 3:  # the 3rd file of the 3rd checkpoint (model, optimizer, best, rng each)
            raise KeyboardInterrupt  # the process is killed mid-write
        real(state, stem)

    monkeypatch.setattr(ckpt_mod, "save_state_dict", crashing)
    with pytest.raises(KeyboardInterrupt):
        fit(ckpt)
    monkeypatch.setattr(ckpt_mod, "save_state_dict", real)
    assert epoch_of(ckpt) == 2
    saved = ckpt_mod.load_checkpoint(ckpt)  # the previous checkpoint, whole
    assert saved["loop_state"]["epoch"] == 2
    resumed, _ = fit(ckpt, resume=True)
    assert losses(resumed) == losses(full)
    assert [r["valid_loss"] for r in resumed.history] == [r["valid_loss"] for r in full.history]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "full"]  # the partial one was cleaned


def test_crash_between_the_swap_renames_is_recovered(tmp_path, monkeypatch):
    full, _ = fit(tmp_path / "full")
    ckpt = tmp_path / "ck"
    real, moved = ckpt_mod.os.replace, []

    def replace(src, dst):
        real(src, dst)
        if Path(src) == ckpt:  # the previous checkpoint set aside: the first of the swap's two renames
            moved.append(src)
            if len(moved) == 2:  # the 3rd checkpoint: the 2nd is now .ck.old, the complete 3rd still .ck.tmp
                raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        fit(ckpt)
    monkeypatch.setattr(ckpt_mod.os, "replace", real)
    assert not ckpt.exists() and (tmp_path / ".ck.tmp").exists() and (tmp_path / ".ck.old").exists()
    resumed, _ = fit(ckpt, resume=True)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert losses(resumed) == losses(full)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "full"]


def test_disk_full_is_a_clear_error_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    ckpt = tmp_path / "ck"
    real, calls = ckpt_mod.save_state_dict, []

    def full_disk(state, stem):
        calls.append(stem.name)
        if len(calls) == 4 + 2:  # the optimizer file of the 2nd checkpoint
            raise OSError(errno.ENOSPC, "No space left on device")
        real(state, stem)

    monkeypatch.setattr(ckpt_mod, "save_state_dict", full_disk)
    with pytest.raises(TrainingError) as e:
        fit(ckpt)
    msg = str(e.value)
    assert "checkpoint" in msg and "disk is full" in msg and "previous checkpoint" in msg
    assert str(ckpt) in msg and "free disk space" in msg and "--resume" in msg
    assert epoch_of(ckpt) == 1 and ckpt_mod.load_checkpoint(ckpt)["loop_state"]["epoch"] == 1
    assert not (tmp_path / ".ck.tmp").exists()


def test_clear_checkpoint_removes_the_temporary_siblings(tmp_path):
    for name in ("ck", ".ck.tmp", ".ck.old"):
        (tmp_path / name).mkdir()
    Trainer.clear_checkpoint(tmp_path / "ck")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ --resume checks
def test_resume_with_a_changed_signature_names_the_key(tmp_path):
    ckpt = tmp_path / "ck"
    fit(ckpt, max_epochs=2, signature={"vocabulary": 10, "corpus": "abc"})
    with pytest.raises(ConfigError) as e:
        fit(ckpt, resume=True, signature={"vocabulary": 12, "corpus": "abc"})
    msg = str(e.value)
    assert "vocabulary 10 -> 12" in msg and "corpus abc" not in msg
    assert "run with the original settings, or start fresh without --resume" in msg
    with pytest.raises(ConfigError, match="batch_size 16 -> 8"):
        fit(ckpt, resume=True, batch_size=8, signature={"vocabulary": 10, "corpus": "abc"})
    with pytest.raises(ConfigError, match="seed 0 -> 1"):
        fit(ckpt, resume=True, seed=1, signature={"vocabulary": 10, "corpus": "abc"})


def test_resume_with_changed_minutes_logs_a_notice(tmp_path, caplog):
    ckpt = tmp_path / "ck"
    fit(ckpt, max_epochs=2, minutes=2.0)
    with caplog.at_level(logging.WARNING, logger="shoestring"):
        state, _ = fit(ckpt, resume=True, max_epochs=3, minutes=5.0, lr=2e-2)
    assert [r["epoch"] for r in state.history] == [1, 2, 3]
    text = caplog.text
    assert "--resume keeps these changed settings" in text
    assert "minutes 2.0 -> 5.0" in text and "max_epochs 2 -> 3" in text and "lr 0.01 -> 0.02" in text


def test_resume_into_a_model_of_another_shape_is_a_clear_error(tmp_path):
    ckpt = tmp_path / "ck"
    fit(ckpt, max_epochs=1)
    with pytest.raises(ConfigError, match="weights do not fit this model") as e:
        fit(ckpt, resume=True, toy=Toy(hidden=16))
    assert "without --resume" in str(e.value)


def test_vampire_resume_checks_its_signature(planted_corpus, tmp_path):
    from conftest import small_vampire

    ckpt = tmp_path / "ck"
    small_vampire(max_epochs=1).fit(planted_corpus, checkpoint_dir=ckpt)
    with pytest.raises(ConfigError, match="latent_dim 10 -> 12"):
        small_vampire(max_epochs=2, latent_dim=12, hidden_dims=[12, 12]).fit(planted_corpus, checkpoint_dir=ckpt,
                                                                              resume=True)


# ------------------------------------------------------------------------------------------ progress
def test_plain_progress_lines_when_not_a_terminal(capsys):
    fit(max_epochs=1, progress=False)  # progress=False: nothing at all
    assert capsys.readouterr() == ("", "")
    out = io.StringIO()  # not a terminal: no bar
    fit(max_epochs=3, callbacks=[ProgressBar(file=out, interval=0.0)])
    lines = out.getvalue().splitlines()
    steps = [x for x in lines if x.startswith("epoch 1/3  step 1  loss ")]
    assert steps and "elapsed " in steps[0] and "remaining ~" in steps[0]
    evals = [x for x in lines if x.startswith("epoch 3/3  step 12  loss ") and "valid_loss " in x]
    assert evals, lines
    assert lines[-1].startswith("training stopped: reached --max-epochs 3")
    quiet = io.StringIO()
    fit(max_epochs=3, callbacks=[ProgressBar(file=quiet)])  # default interval: 30 s, longer than this run
    lines = [x for x in quiet.getvalue().splitlines() if x.startswith("epoch")]
    # the first evaluation, then nothing until 30 s have passed (a log is not flooded by short epochs)
    assert [x.split("  loss ")[0] for x in lines] == ["epoch 1/3  step 4"]


def test_eta_respects_the_budget():
    state = TrainState(steps_per_epoch=10, max_epochs=100, epoch=1, step=10, elapsed=30.0)
    assert remaining_seconds(state) == pytest.approx(30.0 / 10 * 990)
    state.budget = 60.0
    assert remaining_seconds(state) == pytest.approx(30.0)
    out = io.StringIO()
    bar = ProgressBar(file=out, interval=0.0)
    bar.on_fit_start(TrainState(steps_per_epoch=10, max_epochs=100, budget=60.0))
    bar.on_epoch_end(state, {"epoch": 1, "train_loss": 2.0})
    assert "remaining ~30s" in out.getvalue()

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = ProgressBar(file=Terminal())
    tty.on_fit_start(TrainState(steps_per_epoch=10, max_epochs=100, budget=60.0))
    assert tty.bar.total == 1000
    for _ in range(10):
        tty.on_step_end(state, 1.0)
    # 10 steps took 30 s of the 60 s budget: the bar ends where the budget does, not at 1000 steps
    assert tty.bar.total == 20
    tty.on_fit_end(state)


# ------------------------------------------------------------------------------------------ loop hygiene
def test_thread_count_is_restored_on_return_and_on_error():
    before = torch.get_num_threads()
    other = 1 if before > 1 else 2
    fit(max_epochs=1, threads=other)
    assert torch.get_num_threads() == before
    with pytest.raises(TrainingError):
        fit(max_epochs=1, threads=other, toy=Toy(nan=True))
    assert torch.get_num_threads() == before


def test_cpu_threads_bounds_torch_and_blas_and_restores_both():
    from threadpoolctl import threadpool_info

    from shoestring.training.threads import cpu_threads

    def blas():  # the BLAS pools (numpy's, scipy's); torch's own OpenMP pool is torch.get_num_threads()
        return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=1)

    before, blas_before = torch.get_num_threads(), blas()
    torch.set_num_threads(2)  # a 2-core machine's default, on any machine
    try:
        with cpu_threads(1):
            assert (torch.get_num_threads(), blas()) == (1, 1)
        assert torch.get_num_threads() == 2 and blas() == blas_before
        with pytest.raises(ValueError), cpu_threads(1):
            raise ValueError
        assert torch.get_num_threads() == 2
        with cpu_threads(None):  # None: nothing changes
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_nan_advice_is_generic_or_the_learners():
    with pytest.raises(TrainingError) as e:
        fit(max_epochs=1, toy=Toy(nan=True))
    assert "--lr" in str(e.value) and "KL" not in str(e.value) and "kl" not in str(e.value)
    toy = Toy(nan=True)
    toy.nan_advice = "lower the toy's temperature"
    with pytest.raises(TrainingError, match="lower the toy's temperature"):
        fit(max_epochs=1, toy=toy)
    from shoestring.learners.vampire.learner import VampireLearner

    assert "--kl-annealing" in VampireLearner.nan_advice


def test_grad_accum_and_eval_every_are_train_settings():
    from shoestring.cli import build_parser
    from shoestring.learners.mlm.config import MLMConfig
    from shoestring.learners.vampire.config import VampireConfig
    from shoestring.tasks.classify.config import ClassifierConfig

    assert (TrainConfig().grad_accum, TrainConfig().eval_every) == (1, None)
    assert (MLMConfig().grad_accum, MLMConfig().eval_every) == (1, 200)
    with pytest.raises(ConfigError, match="--grad-accum"):
        MLMConfig(batch_size=10, grad_accum=3).validate()
    # configs saved before the fields existed still load, with the defaults
    old = {k: v for k, v in VampireConfig().to_dict().items() if k not in ("grad_accum", "eval_every")}
    assert VampireConfig.from_dict(old).grad_accum == 1
    old = {k: v for k, v in ClassifierConfig().to_dict().items() if k not in ("grad_accum", "eval_every")}
    assert ClassifierConfig.from_dict(old).eval_every is None
    a = build_parser().parse_args(["pretrain", "vampire", "data", "-o", "out", "--grad-accum", "2",
                                   "--eval-every", "5"])
    c = VampireConfig.from_args(a)
    assert (c.grad_accum, c.eval_every) == (2, 5)
    a = build_parser().parse_args(["pretrain", "mlm", "data", "-o", "out", "--grad-accum", "2"])
    assert MLMConfig.from_args(a).grad_accum == 2 and MLMConfig.from_args(a).eval_every == 200
    # eval_every: evaluations (and checkpoints) mid-epoch for any learner
    state, _ = fit(max_epochs=2, eval_every=3)
    assert [r["step"] for r in state.history] == [3, 4, 6, 8]
    # gradient accumulation gives the same gradients (this model has no batch-norm)
    a, _ = fit(max_epochs=2, toy=Toy(dropout=0.0))
    b, _ = fit(max_epochs=2, toy=Toy(dropout=0.0), grad_accum=2)
    assert all(math.isclose(x, y, rel_tol=1e-4) for x, y in zip(losses(a), losses(b)))


def test_one_optimizer_module_and_one_seeding_helper():
    import numpy as np

    from shoestring.learners.mlm import model as mlm_model
    from shoestring.training import optim
    from shoestring.training.seed import seed_everything

    assert not hasattr(mlm_model, "lr_factor") and not hasattr(mlm_model, "param_groups")  # one home only
    assert optim.lr_factor(0.5, 0.0, "linear") == 0.5 and optim.lr_factor(0.03, 0.06, "linear") == 0.5
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3))
    groups = optim.param_groups(net, 0.01)
    assert [len(g["params"]) for g in groups] == [1, 3]
    assert isinstance(optim.adam(net.parameters(), 1e-3), torch.optim.Adam)
    opt = optim.adamw(groups, 1e-3, betas=(0.9, 0.98), eps=1e-6)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.98)
    seed_everything(7)
    a = (np.random.rand(), torch.rand(1).item())
    seed_everything(7)
    assert (np.random.rand(), torch.rand(1).item()) == a


def test_bf16_precision_runs_the_forward_under_autocast_and_keeps_float32_weights():
    from shoestring.training.precision import native_bf16, resolve

    seen = []

    class Spy(Toy):
        def loss(self, model, batch, state):
            x, y = batch
            out = model(x)
            seen.append(out.dtype)
            return ((out.float() - y) ** 2).mean(), {}

    state, toy = fit(toy=Spy(), precision="bf16")
    assert set(seen) == {torch.bfloat16}  # the Linear layers' products ran in bfloat16 ...
    assert all(p.dtype == torch.float32 for p in toy.model.parameters())  # ... on float32 weights
    assert losses(state)[-1] < losses(state)[0]
    for precision, dtype in (("fp32", torch.float32),
                             ("auto", torch.bfloat16 if native_bf16("cpu") else torch.float32)):
        seen.clear()
        fit(toy=Spy(), precision=precision)
        assert set(seen) == {dtype}
    assert resolve("auto", "cpu") == ("bf16" if native_bf16("cpu") else "fp32")
    with pytest.raises(ConfigError, match="precision"):
        config(precision="fp16")
    with pytest.raises(ConfigError, match="unknown precision 'fp16'"):
        resolve("fp16", "cpu")
