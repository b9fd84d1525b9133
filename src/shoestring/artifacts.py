"""Self-describing saved folders, written atomically and checked on load.

Every folder shoestring writes (a prepared corpus, a VAMPIRE model, a classifier) holds a
``manifest.json``::

    {"kind": "vampire", "format_version": 1, "shoestring_version": "0.1.0", "created": "...",
     "files": {"config.json": {"sha256": "...", "bytes": 123}, "model.safetensors": {...}}, ...}

Writes go to a hidden temporary folder beside the target, which is renamed into place only when complete,
so an interrupted write never leaves a half-written model and never destroys the previous one. An existing
folder is only replaced when the caller passes ``overwrite=True``. Loading checks the kind and every file's
size and sha256, so a truncated copy or a hand-edited weight file is reported instead of silently used.
Weights are safetensors and everything else JSON: nothing is ever unpickled.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import glob
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from shoestring.errors import ArtifactError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Fail early (before any work) if ``path`` exists and ``overwrite`` is not set."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ArtifactError("already exists; refusing to overwrite it", path=path,
                            hint="choose another output folder or pass --overwrite")
    if path.exists() and not path.is_dir():
        raise ArtifactError("exists and is not a folder", path=path)
    return path


def check_output_file(path: str | os.PathLike, overwrite: bool, suffixes: tuple[str, ...],
                      what: str = "output") -> Path:
    """Fail early (before any work) for a file output: it exists and ``overwrite`` is not set, it is a folder,
    or its name does not end in one of ``suffixes`` (the format follows the extension, so ``-o x.npy`` never
    receives JSON lines)."""
    path = Path(path)
    if not path.name.lower().endswith(suffixes):
        from shoestring.errors import ConfigError

        raise ConfigError(f"cannot tell the {what} format from the name {path.name!r}",
                          hint=f"name it {' or '.join('NAME' + x for x in suffixes)}")
    if path.is_dir():
        raise ArtifactError("is a folder, not a file", path=path, hint="give a file name")
    if path.exists() and not overwrite:
        raise ArtifactError("already exists; refusing to overwrite it", path=path,
                            hint="choose another file name or pass --overwrite")
    if not path.parent.exists():
        raise ArtifactError("the folder to write into does not exist", path=path.parent,
                            hint="create it first, or choose another path")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


_STALE_SECONDS = 3600  # a temporary folder without a process id in its name (older versions) counts as stale after


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the hidden temporary folders (``.NAME.tmp-PID-TAG``, ``.NAME.old-PID-TAG``) that an interrupted write
    of ``path`` left beside it: those whose process is gone. Returns what was removed (and logs it)."""
    import logging
    import time

    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for p in path.parent.glob(f".{glob.escape(path.name)}.*-*"):
        rest = p.name[len(path.name) + 2:]
        kind, _, tag = rest.partition("-")
        if kind not in ("tmp", "old"):
            continue
        pid, _, _ = tag.partition("-")
        if pid.isdigit() and "-" in tag:
            stale = not _alive(int(pid))
        else:
            try:
                stale = time.time() - p.stat().st_mtime > _STALE_SECONDS
            except OSError:
                continue
        if stale:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
            removed.append(p)
    for p in removed:
        logging.getLogger("shoestring").warning("removed %s, left by an interrupted run", p)
    return removed


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, kind: str, *, overwrite: bool = False,
                  info: dict | None = None) -> Iterator[Path]:
    """``with atomic_folder(out, "vampire") as tmp:`` write files into ``tmp``; on success the manifest is
    added and ``tmp`` replaces ``out`` in one rename. On an exception nothing at ``out`` changes."""
    from shoestring import __version__

    path = check_writable(path, overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArtifactError(f"cannot create the folder: {e.strerror or e}", path=path.parent) from None
    clean_stale(path)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # the process id tells a later run whether the writer is gone
    tmp = path.parent / f".{path.name}.tmp-{tag}"
    try:
        tmp.mkdir()
    except OSError as e:
        raise ArtifactError(f"cannot write here: {e.strerror or e}", path=path.parent) from None
    try:
        yield tmp
        files = {}
        for f in sorted(tmp.rglob("*")):
            if f.is_file() and f.name != MANIFEST:
                files[f.relative_to(tmp).as_posix()] = {"sha256": _sha256(f), "bytes": f.stat().st_size}
        manifest = {"kind": kind, "format_version": FORMAT_VERSION, "shoestring_version": __version__,
                    "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    **(info or {}), "files": files}
        write_json(tmp / MANIFEST, manifest)
        old = None
        if path.exists():
            check_writable(path, overwrite)
            old = path.parent / f".{path.name}.old-{tag}"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:  # disk full, quota, permissions: the earlier folder (if any) is untouched
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArtifactError(f"could not write it: {e.strerror or e}; nothing was changed there", path=path,
                            hint="free disk space (or choose a folder on another disk) and run again"
                            if e.errno in (errno.ENOSPC, errno.EDQUOT) else None) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_manifest(path: str | os.PathLike, kind: str | tuple[str, ...] | None = None, *,
                  verify: bool = True) -> dict:
    """Read and check a folder's manifest: the kind, and (``verify``) every listed file's size and hash."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError("no such folder", path=path)
    mpath = path / MANIFEST
    if not mpath.exists():
        raise ArtifactError("not a shoestring folder (no manifest.json)", path=path,
                            hint="pass the folder written by `shoestring prepare`/`pretrain`/`train`")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"manifest.json is corrupt: {e}", path=mpath) from None
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds and manifest.get("kind") not in kinds:
        raise ArtifactError(f"is a {manifest.get('kind')!r} folder, expected {' or '.join(kinds)}", path=path)
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ArtifactError("was written by a newer shoestring", path=path, hint="upgrade shoestring")
    if verify:
        for name, meta in manifest.get("files", {}).items():
            f = path / name
            if not f.exists():
                raise ArtifactError(f"is missing {name} (listed in its manifest)", path=path,
                                    hint="the folder is incomplete; copy it again or re-create it")
            if f.stat().st_size != meta["bytes"]:
                raise ArtifactError(f"{name} has {f.stat().st_size} bytes, the manifest says {meta['bytes']}: "
                                    "the file is truncated or was changed", path=path,
                                    hint="copy the folder again or re-create it")
            if _sha256(f) != meta["sha256"]:
                raise ArtifactError(f"{name} does not match its sha256 in the manifest: the file was changed",
                                    path=path, hint="copy the folder again or re-create it")
    return manifest


def write_json(path: str | os.PathLike, obj, *, atomic: bool = True) -> None:
    path = Path(path)
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    if not atomic:
        path.write_text(text, encoding="utf-8")
        return
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file (an SVG, a table) atomically: a reader sees the old file or the new one, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def gzip_text_writer(path: str | os.PathLike, compresslevel: int = 6) -> Iterator:
    """A UTF-8 text handle writing a gzip file whose header holds no timestamp and no file name (``gzip.open``
    stamps both), so the same text gives the same bytes and the manifest's sha256 repeats run after run."""
    import gzip
    import io

    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=compresslevel,
                                                mtime=0) as gz, io.TextIOWrapper(gz, encoding="utf-8") as f:
        yield f


def write_jsonl(path: str | os.PathLike, rows) -> None:
    """Write dict rows as JSON lines (gzip-compressed for a ``.gz`` name), atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with (gzip_text_writer(tmp) if path.name.endswith(".gz") else open(tmp, "w", encoding="utf-8")) as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, default=_json_default) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def environment() -> dict:
    """Versions recorded in model cards and manifests."""
    import platform
    import sys

    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for mod in ("torch", "numpy", "scipy", "sklearn"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return env


def cpu_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what ``platform`` knows), for benchmark records:
    timings, and results bought with a time budget, are only comparable on the same CPU."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def model_card(title: str, summary: str, *, usage: str = "", data: dict | None = None,
               metrics: dict | None = None, settings: dict | None = None, extra: str = "") -> str:
    """A README.md model card: what the model is, how to load it, the data, metrics, settings, versions, time."""
    import datetime as dt

    def table(d: dict) -> str:
        rows = ["| | |", "|---|---|"]
        for k, v in d.items():
            if isinstance(v, float):
                v = f"{v:.4g}"
            rows.append(f"| {k} | {str(v).replace('|', '/')} |")
        return "\n".join(rows)

    parts = [f"# {title}", "", summary, ""]
    if usage:
        parts += ["## Usage", "", usage.strip(), ""]
    if data:
        parts += ["## Data", "", table(data), ""]
    if metrics:
        parts += ["## Metrics", "", table(metrics), ""]
    if extra:
        parts += [extra.strip(), ""]
    if settings:
        parts += ["## Settings", "", "```json", json.dumps(settings, indent=2, default=_json_default), "```", ""]
    env = environment()
    env["written"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    from shoestring import __version__

    env["shoestring"] = __version__
    parts += ["## Versions and time", "", table(env), "",
              "Weights are safetensors, everything else JSON; `manifest.json` lists every file's sha256.", ""]
    return "\n".join(parts)


def write_npy(path: str | os.PathLike, array) -> None:
    """Save a numpy array atomically (no pickle: ``allow_pickle=False``)."""
    import numpy as np

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}.npy")
    np.save(tmp, array, allow_pickle=False)
    os.replace(tmp, path)
