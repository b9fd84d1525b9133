"""The one estimator base: configuration, the scikit-learn parameter protocol, training runs, saved folders.

Every shoestring model (VAMPIRE, word vectors, the compact BERT, the classifiers) is an :class:`Estimator`. The
base owns what they all do the same way, so a learner keeps only its ``fit``/``transform``/``predict`` and
the hooks that write and read its own files:

- **configuration**: hyper-parameters live in one typed config (``config_class``); ``Model(config, **params)``
  validates them, ``random_state`` is scikit-learn's name for ``seed``; non-config constructor arguments
  (``vampire=``, ``init_from=``) are listed in ``extra_params`` and kept exactly as given (nothing is read
  from disk in ``__init__``, so ``sklearn.base.clone`` works);
- ``get_params``/``set_params`` (scikit-learn's protocol) and ``_check_fitted``;
- ``_run``: a learner through the one :class:`~shoestring.training.loop.Trainer`, recorded in one shape
  (``training_``: ``stop_reason``, ``epochs``, ``best_epoch``, ``steps``, ``seconds`` of the training clock,
  ``wall_seconds``, ``best`` and the monitored metric's name) with the evaluation ``history_``;
- ``save_pretrained``/``from_pretrained``: a self-describing folder written atomically (by rank 0 only under
  ``torchrun``), ``shoestring_config.json`` (the same name for every kind; Hugging Face kinds also have HF's
  ``config.json``), ``training_log.json``, a ``README.md`` model card and the hashed ``manifest.json``. Each kind
  writes and reads its own files in ``_save_files``/``_load_files`` and describes itself in ``_card``.

Two capabilities, checked with ``isinstance``: an :class:`Embedder` (``transform(texts) -> array``, ``dim``) and a
:class:`Classifier` (``predict_proba(texts)``, ``classes_``). :func:`shoestring.load` opens any saved folder.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from shoestring.artifacts import atomic_folder, model_card, read_manifest, write_json
from shoestring.errors import ArtifactError
from shoestring.training.distributed import is_rank0

CONFIG_FILE = "shoestring_config.json"
LEGACY_CONFIG_FILE = "config.json"  # what VAMPIRE, classifier and word-vector folders used before 0.2


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into fixed-width vectors."""

    dim: int

    def transform(self, texts) -> Any: ...


@runtime_checkable
class Classifier(Protocol):
    """Anything that gives class probabilities for texts (columns in ``classes_`` order)."""

    classes_: list

    def predict_proba(self, texts) -> Any: ...


class Estimator:
    """Base class; see the module docstring. Subclasses set ``kind``, ``config_class`` and the file hooks."""

    kind: ClassVar[str] = ""
    config_class: ClassVar[type] = None
    extra_params: ClassVar[tuple[str, ...]] = ()
    fitted_attribute: ClassVar[str] = "model_"
    # kinds whose folders this class reads (a fine-tuned BERT classifier's encoder reads as a masked LM)
    reads_kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config=None, **params):
        extras = {k: params.pop(k) for k in list(params) if k in self.extra_params}
        if "random_state" in params:
            params["seed"] = params.pop("random_state")
        base = config if config is not None else self.config_class()
        self.config = base.replace(**params) if params else base.validate()
        for k in self.extra_params:
            setattr(self, k, extras.get(k))

    # ------------------------------------------------------------------ scikit-learn's parameter protocol
    def get_params(self, deep: bool = True) -> dict:
        """Constructor arguments: every config field (``random_state`` for ``seed``) and the extra ones, as given."""
        out = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        out["random_state"] = out.pop("seed")
        out.update({k: getattr(self, k) for k in self.extra_params})
        return out

    def set_params(self, **params):
        for k in self.extra_params:
            if k in params:
                setattr(self, k, params.pop(k))
        if "random_state" in params:
            params["seed"] = params.pop("random_state")
        if params:
            self.config = self.config.replace(**params)
        return self

    def __repr__(self) -> str:
        default = self.config_class()
        changed = [f"{f.name}={getattr(self.config, f.name)!r}" for f in dataclasses.fields(self.config)
                   if getattr(self.config, f.name) != getattr(default, f.name)]
        changed += [f"{k}={getattr(self, k)!r}" for k in self.extra_params if getattr(self, k) is not None]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_fitted(self) -> None:
        if not hasattr(self, self.fitted_attribute):
            raise ArtifactError(f"this {type(self).__name__} is not fitted yet: call fit() or from_pretrained()")

    # ------------------------------------------------------------------ training
    def _run(self, learner, config=None, *, callbacks=None, checkpoint_dir=None, resume: bool = False,
             signature: dict | None = None, **extra):
        """Train ``learner`` with the one loop; set ``history_`` and ``training_``; return the final state.

        ``config``: the run's settings when they differ from ``self.config`` (e.g. a smaller batch for a tiny
        corpus; ``self.config`` stays as the user set it). ``extra``: more entries for ``training_``."""
        from shoestring.training.loop import Trainer

        t0 = time.time()
        state = Trainer(config or self.config, callbacks=callbacks).fit(
            learner, checkpoint_dir=checkpoint_dir, resume=resume, signature=signature)
        self.history_ = state.history
        self.training_ = {"stop_reason": state.stop_reason, "epochs": state.epoch, "best_epoch": state.best_epoch,
                          "steps": state.step, "seconds": round(state.elapsed, 2),
                          "wall_seconds": round(time.time() - t0, 2), "monitor": learner.monitor,
                          "best": state.best, **extra}
        return state

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path, *, overwrite: bool = False, **kw) -> Path:
        """Write the model's self-describing folder (atomically: an interrupted save leaves no half folder and
        never harms an earlier one; an existing folder is replaced only with ``overwrite``)."""
        self._check_fitted()
        if not is_rank0():  # under torchrun every process holds the model; one writes it
            return Path(path)
        with atomic_folder(path, self.kind, overwrite=overwrite) as tmp:
            self._save_files(tmp, **kw)
            write_json(tmp / CONFIG_FILE, {"kind": self.kind, "config": self.config.to_dict(),
                                           **self._config_extras()})
            write_json(tmp / "training_log.json", {"history": getattr(self, "history_", []),
                                                    "training": getattr(self, "training_", {}),
                                                    "data": getattr(self, "data_", {})})
            card = self._card(**kw)
            (tmp / "README.md").write_text(model_card(settings=self.config.to_dict(), **card), encoding="utf-8")
        return Path(path)

    @classmethod
    def from_pretrained(cls, path):
        """Load a folder written by :meth:`save_pretrained` (checked against its manifest first)."""
        path = Path(path)
        manifest = read_manifest(path, cls.reads_kinds or cls.kind)
        meta, source = read_config_file(path)
        self = cls(cls.config_class.from_dict(meta["config"], source=str(source)))
        self._load_files(path, meta, manifest)
        log = path / "training_log.json"
        if log.exists():
            d = json.loads(log.read_text(encoding="utf-8"))
            self.history_, self.training_, self.data_ = d.get("history", []), d.get("training", {}), d.get("data", {})
        return self

    # ------------------------------------------------------------------ hooks for each kind
    def _save_files(self, folder: Path, **kw) -> None:
        """Write this kind's own files (weights, vocabulary, ...) into ``folder``."""
        raise NotImplementedError

    def _load_files(self, folder: Path, meta: dict, manifest: dict) -> None:
        """Read this kind's own files; ``meta`` is the saved shoestring config file's content."""
        raise NotImplementedError

    def _config_extras(self) -> dict:
        """What the saved config records beside the settings (classes, vocabulary size, ...)."""
        return {}

    def _card(self, **kw) -> dict:
        """The model card's title, summary, usage, data, metrics and extra sections (keyword arguments of
        :func:`~shoestring.artifacts.model_card`)."""
        return {"title": type(self).__name__, "summary": ""}


def read_config_file(path: Path) -> tuple[dict, Path]:
    """A saved folder's shoestring config and the file it came from: ``shoestring_config.json``, or
    ``config.json`` in folders written before that name was shared by every kind."""
    for name in (CONFIG_FILE, LEGACY_CONFIG_FILE):
        f = Path(path) / name
        if f.exists():
            try:
                meta = json.loads(f.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ArtifactError(f"{name} is corrupt: {e}", path=path) from None
            if "config" in meta:
                return meta, f
    raise ArtifactError(f"has no {CONFIG_FILE}", path=path, hint="the folder is incomplete; re-create it")
