"""Errors that tell the user what went wrong, where, and how to fix it.

Every error shoestring raises on purpose derives from :class:`ShoestringError`; the CLI prints its message
(without a traceback) and exits with status 2. Messages name the file and line when there is one, and end
with a hint.
"""

from __future__ import annotations

import os


class ShoestringError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing message."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None, line: int | None = None,
                 hint: str | None = None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.hint = hint
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        text = where + message
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class InputError(ShoestringError):
    """The user's data cannot be read or used as given (bad JSON, invalid UTF-8, missing field, ...)."""


class ConfigError(ShoestringError):
    """A setting is invalid; raised at start-up, before any work is done."""


class ArtifactError(ShoestringError):
    """A saved folder is missing, truncated, tampered with, or does not match what it is used with."""


class TrainingError(ShoestringError):
    """Training diverged (NaN/inf loss) or cannot proceed."""
