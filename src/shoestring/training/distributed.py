"""Data parallelism with plain PyTorch DDP, launched by ``torchrun --nproc_per_node N``.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; :func:`setup` joins
the process group with gloo on CPU or nccl on GPU. Without torchrun everything runs in one process and these
helpers are no-ops. Every process sees the same data and seeds; each takes every ``world``-th example of the
epoch's shared permutation, so a global batch of B examples is B / world per process.
"""

from __future__ import annotations

import os


def is_rank0() -> bool:
    """Whether this process is rank 0 (or alone), from the environment torchrun / ``--processes`` set: no torch
    import, so callers that only write files stay light."""
    return int(os.environ.get("RANK", "0")) == 0


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup(device) -> tuple[int, int]:
    """Join the process group when launched by torchrun; return (rank, world size)."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return world()
    if not dist.is_initialized():
        backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
        from shoestring.training.launch import INIT_ENV

        init = os.environ.get(INIT_ENV)  # `--processes N`: a file store, no network listener (see launch.py)
        if init:
            dist.init_process_group(backend, init_method=init, rank=int(os.environ["RANK"]),
                                    world_size=int(os.environ["WORLD_SIZE"]))
        else:
            dist.init_process_group(backend)
    return world()


def resolve_device(name: str):
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            return torch.device(f"cuda:{local}")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        from shoestring.errors import ConfigError

        raise ConfigError(f"unknown device {name!r}", hint="use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        from shoestring.errors import ConfigError

        raise ConfigError("--device cuda was asked for but no CUDA GPU is available", hint="use --device cpu")
    return dev


def broadcast_floats(values: list[float], src: int = 0) -> list[float]:
    """Rank ``src``'s values on every rank (used for stop decisions, so all ranks leave the loop together)."""
    import torch
    import torch.distributed as dist

    rank, size = world()
    if size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(t, src=src)
    return t.tolist()


def all_reduce_mean(value: float) -> float:
    import torch
    import torch.distributed as dist

    rank, size = world()
    if size == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / size


def barrier() -> None:
    """Wait for every process (a no-op outside torchrun)."""
    import torch.distributed as dist

    if world()[1] > 1:
        dist.barrier()


def leave_process_group() -> None:
    """Under torchrun (or ``--processes``), leave the process group cleanly; a no-op when torch.distributed was
    never imported (so the CLI's other commands never import torch for it)."""
    import sys

    if "torch.distributed" not in sys.modules:
        return
    import gc

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # wait for rank 0 to finish writing before anyone tears the group down: a process leaving while
        # another still talks to it can abort gloo ("terminate called without an active exception")
        try:
            dist.barrier()
        finally:
            gc.collect()  # nothing left holding the group (a DDP reducer in a reference cycle) past this point
            dist.destroy_process_group()
