"""The one training loop, data-parallel under torchrun with 2 CPU processes (gloo)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import planted_docs, write_jsonl


def free_port() -> int:
    """A port nobody listens on now (a fixed one collides when two test runs share the machine)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on Windows is not tested")
@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", planted_docs(400))
    from shoestring.cli import main

    assert main(["prepare", str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "prep")]) == 0
    common = ["pretrain", "vampire", str(tmp_path / "prep"), "--latent-dim", "10", "--hidden-dims", "10", "10",
              "--batch-size", "40", "--max-epochs", "4", "--patience", "0", "--threads", "1", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                        "--master_port", str(free_port()), "-m", "shoestring", *common, "-o", str(tmp_path / "ddp")],
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert main([*common, "-o", str(tmp_path / "single")]) == 0
    ddp = json.loads((tmp_path / "ddp" / "training_log.json").read_text())["history"]
    one = json.loads((tmp_path / "single" / "training_log.json").read_text())["history"]
    assert [h["epoch"] for h in ddp] == [1, 2, 3, 4]
    # same global batch and data order: the loss trajectories agree (batch-norm statistics are per process,
    # over 20 documents instead of 40, so not to the last digit)
    for a, b in zip(ddp, one):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=0.05)
    assert not list(tmp_path.glob("*.checkpoint"))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="not tested on Windows")
def test_processes_option_trains_like_one_and_opens_no_network_port(tmp_path):
    """`--processes 2`: the same data-parallel run as torchrun's, joined through a file store (no TCP store);
    gloo's own connections are bound to the loopback interface."""
    write_jsonl(tmp_path / "c.jsonl", planted_docs(400))
    from shoestring.cli import main
    from shoestring.training.launch import loopback_interface, strip_option

    assert strip_option(["a", "--processes", "2", "b", "--processes=3"], "--processes") == ["a", "b"]
    assert main(["prepare", str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "prep")]) == 0
    common = ["pretrain", "vampire", str(tmp_path / "prep"), "--latent-dim", "10", "--batch-size", "40",
              "--max-epochs", "3", "--patience", "0", "--threads", "1", "--no-progress"]
    r = subprocess.run([sys.executable, "-m", "shoestring", *common, "-o", str(tmp_path / "ddp"), "--processes", "2"],
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert main([*common, "-o", str(tmp_path / "single")]) == 0
    ddp = json.loads((tmp_path / "ddp" / "training_log.json").read_text())["history"]
    one = json.loads((tmp_path / "single" / "training_log.json").read_text())["history"]
    assert [h["epoch"] for h in ddp] == [1, 2, 3]
    for a, b in zip(ddp, one):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=0.05)
    assert loopback_interface() is not None  # where gloo's sockets go
    # a failing worker stops the others and its status comes back
    r = subprocess.run([sys.executable, "-m", "shoestring", *common, "-o", str(tmp_path / "ddp"), "--processes", "2"],
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "already exists" in r.stderr
