"""Training checkpoints in safetensors + JSON (no pickle): model, optimizer, RNG and loop state.

``save_state_dict``/``load_state_dict`` flatten a nested ``state_dict`` (such as an optimizer's, with its
per-parameter tensors and JSON-able hyper-parameters) into a safetensors file of tensors and a JSON skeleton.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from shoestring.artifacts import write_json


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


def save_checkpoint(folder: Path, *, model, optimizer, best_state, loop_state: dict) -> None:
    """Save everything needed to resume; loop_state.json is written last, so it marks a complete checkpoint."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    save_state_dict(model.state_dict(), folder / "model")
    save_state_dict(optimizer.state_dict(), folder / "optimizer")
    if best_state is not None:
        save_state_dict(best_state, folder / "best")
    save_state_dict({"torch": torch.get_rng_state()}, folder / "rng")
    write_json(folder / "loop_state.json", loop_state)


def load_checkpoint(folder: Path) -> dict:
    import torch

    state = json.loads((folder / "loop_state.json").read_text(encoding="utf-8"))
    out = {"loop_state": state, "model": load_state_dict(folder / "model"),
           "optimizer": load_state_dict(folder / "optimizer"),
           "best": load_state_dict(folder / "best") if (folder / "best.json").exists() else None}
    rng = load_state_dict(folder / "rng")["torch"]
    out["rng"] = rng.to(torch.uint8)
    return out
