"""What several commands share: their common options (declared once here), reading labelled files, and the
model folder with its checkpoint beside it."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("shoestring")


# ---------------------------------------------------------------------------------------------- options
def add_output(p, what: str = "model folder to write", *, required: bool = True, default=None) -> None:
    """``-o/--output`` and ``--overwrite`` (nothing is ever replaced without it)."""
    p.add_argument("-o", "--output", required=required, default=default, help=what)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")


def add_config(p) -> None:
    p.add_argument("--config", help="a JSON file of settings (command-line options override it)")


def add_resume(p) -> None:
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")


def add_processes(p) -> None:
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="train data-parallel in N processes on this machine (no network port is opened; for "
                        "several machines use torchrun, see the README)")


def add_read(p) -> None:
    """The read options (``--format``, ``--text-field``, ``--label-field``) from :class:`ReadConfig`."""
    from shoestring.data.config import ReadConfig

    ReadConfig.add_arguments(p)


def read_kw(a) -> dict:
    from shoestring.data.config import ReadConfig

    return ReadConfig.from_args(a).read_kw()


def load_config(cls, a):
    """The command's config: the dataclass defaults, then ``--config FILE``, then the options typed."""
    return cls.from_args(a, cls.from_json(a.config) if getattr(a, "config", None) else None)


# ---------------------------------------------------------------------------------------------- data
def read_labelled(paths, a, what: str):
    """Texts and labels of labelled files; a row without a label is an error naming the file and line."""
    from shoestring.data.readers import read_documents
    from shoestring.errors import InputError

    texts, labels = [], []
    kw = read_kw(a)
    for d in read_documents(paths, progress=f"reading {what}", **kw):
        if d.label is None:
            raise InputError(f"this {what} row has no {kw['label_field']!r} label", path=d.source, line=d.line,
                             hint=f"label every {what} row, or remove unlabelled rows")
        texts.append(d.text)
        labels.append(d.label)
    if not texts:
        raise InputError(f"no {what} documents", path=", ".join(map(str, paths)))
    return texts, labels


def read_texts(paths, a, what: str = "texts") -> list[str]:
    from shoestring.data.readers import read_documents

    return [d.text for d in read_documents(paths, progress=f"reading {what}", **read_kw(a))]


def output_and_checkpoint(a) -> tuple[Path, Path]:
    """The model folder (refused if it exists, unless --overwrite or --resume) and its checkpoint folder
    beside it (a stale one from an interrupted run is cleared unless --resume)."""
    from shoestring.artifacts import check_writable
    from shoestring.training.distributed import is_rank0
    from shoestring.training.loop import Trainer

    out = Path(a.output)
    if not a.resume and is_rank0():  # the others would find the folder rank 0 just wrote
        check_writable(out, a.overwrite)
    ckpt = out.parent / f"{out.name}.checkpoint"
    if ckpt.exists() and not a.resume:
        log.warning("%s exists from an interrupted run: it is replaced (use --resume to continue it)", ckpt)
        Trainer.clear_checkpoint(ckpt)
    return out, ckpt
