"""Training checkpoints in safetensors + JSON (no pickle): model, optimizer, RNG, loop state and run settings.

``save_state_dict``/``load_state_dict`` flatten a nested ``state_dict`` (such as an optimizer's, with its
per-parameter tensors and JSON-able hyper-parameters) into a safetensors file of tensors and a JSON skeleton.

A checkpoint is written as a set: every file goes into a temporary sibling folder (``.NAME.tmp``), which is
synced and then swapped in with two renames (the previous checkpoint becomes ``.NAME.old`` until the new one is
in place). A crash while writing leaves the previous checkpoint as it was; a crash between the renames is
undone by :func:`recover_checkpoint`, which the loop calls before it reads or writes a checkpoint. A failed
write (a full disk) raises :class:`~shoestring.errors.TrainingError` and keeps the previous checkpoint.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from pathlib import Path

from shoestring.artifacts import write_json
from shoestring.errors import TrainingError

COMPLETE = "loop_state.json"  # written last into a checkpoint: a folder holding it is complete


def _flatten(obj, prefix, tensors):
    import torch

    if isinstance(obj, torch.Tensor):
        key = prefix or "_"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, "", tensors) if not isinstance(k, (str, int)) else k,
                              _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    return obj


def _unflatten(obj, tensors):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_unflatten(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
    return obj


def save_state_dict(state: dict, path_stem: Path) -> None:
    """Write ``<stem>.safetensors`` and ``<stem>.json`` atomically."""
    from safetensors.torch import save_file

    tensors: dict = {}
    skeleton = _flatten(state, "", tensors)
    tmp = path_stem.with_name(f".{path_stem.name}.{uuid.uuid4().hex[:6]}.safetensors")
    save_file(tensors, str(tmp))
    os.replace(tmp, path_stem.with_suffix(".safetensors"))
    write_json(path_stem.with_suffix(".json"), skeleton)


def load_state_dict(path_stem: Path) -> dict:
    from safetensors.torch import load_file

    tensors = load_file(str(path_stem.with_suffix(".safetensors")))
    skeleton = json.loads(path_stem.with_suffix(".json").read_text(encoding="utf-8"))
    return _unflatten(skeleton, tensors)


def siblings(folder: Path) -> tuple[Path, Path]:
    """(the folder a new checkpoint is written into, the folder the previous one waits in during the swap)."""
    folder = Path(folder)
    return folder.with_name(f".{folder.name}.tmp"), folder.with_name(f".{folder.name}.old")


def is_complete(folder: Path) -> bool:
    return (Path(folder) / COMPLETE).is_file()


def recover_checkpoint(folder: Path) -> None:
    """Leave ``folder`` holding the newest complete checkpoint, if there is one, and no temporary siblings.

    A crash between the swap's two renames leaves no ``folder`` but a complete ``.tmp`` (newest) and ``.old``;
    a crash while writing leaves a partial ``.tmp``, which is dropped."""
    folder = Path(folder)
    tmp, old = siblings(folder)
    if not folder.exists():
        for candidate in (tmp, old):
            if is_complete(candidate):
                os.replace(candidate, folder)
                break
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True)


def remove_checkpoint(folder: Path) -> None:
    """Delete a checkpoint and its temporary siblings."""
    folder = Path(folder)
    for f in (folder, *siblings(folder)):
        shutil.rmtree(f, ignore_errors=True)


def _fsync(path: Path, directory: bool = False) -> None:
    if directory:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return  # directories cannot be opened on some platforms (Windows): their entries are synced anyway
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
        return
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def save_checkpoint(folder: Path, *, model, optimizer, best_state, loop_state: dict, run: dict | None = None) -> None:
    """Save everything needed to resume, as a set (see the module's notes); ``run`` (JSON: the run's settings
    and signature) is what ``--resume`` checks against. A failed write raises TrainingError and keeps the
    previous checkpoint."""
    import torch

    folder = Path(folder)
    tmp, old = siblings(folder)
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        save_state_dict(model.state_dict(), tmp / "model")
        save_state_dict(optimizer.state_dict(), tmp / "optimizer")
        if best_state is not None:
            save_state_dict(best_state, tmp / "best")
        save_state_dict({"torch": torch.get_rng_state()}, tmp / "rng")
        if run is not None:
            write_json(tmp / "run.json", run)
        write_json(tmp / COMPLETE, loop_state)
        for f in tmp.iterdir():
            _fsync(f)
        _fsync(tmp, directory=True)
        # the swap: the previous checkpoint stays complete (as .old) until the new one has its name
        if folder.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(folder, old)
        os.replace(tmp, folder)
        _fsync(folder.parent, directory=True)
    except OSError as e:
        if not folder.exists() and is_complete(old):
            try:
                os.replace(old, folder)
            except OSError:
                pass  # recover_checkpoint puts it back on the next start
        shutil.rmtree(tmp, ignore_errors=True)
        full = e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
        reason = "the disk is full" if full else (e.strerror or str(e))
        raise TrainingError(
            f"could not write the training checkpoint ({reason}); training stopped, and the previous checkpoint, if "
            f"any, is kept", path=folder,
            hint=("free disk space on the drive that holds it (or write the model elsewhere), then continue with "
                  "--resume") if full else
                 "check that the folder is writable and has free space, then continue with --resume") from None
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(folder: Path) -> dict:
    """The checkpoint's model, optimizer, best weights, RNG, loop state and run settings (None in checkpoints
    from before they were recorded)."""
    import torch

    folder = Path(folder)
    state = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
    out = {"loop_state": state, "model": load_state_dict(folder / "model"),
           "optimizer": load_state_dict(folder / "optimizer"),
           "best": load_state_dict(folder / "best") if (folder / "best.json").exists() else None,
           "run": json.loads((folder / "run.json").read_text(encoding="utf-8"))
           if (folder / "run.json").exists() else None}
    rng = load_state_dict(folder / "rng")["torch"]
    out["rng"] = rng.to(torch.uint8)
    return out
