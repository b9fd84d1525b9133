"""Class labels as they come out of real files, made into one clean string per class.

Spreadsheets and pandas exports write the same class in different ways: ``1`` and ``1.0`` in one column (a
float column because some rows were empty), ``true`` as a JSON boolean. :func:`normalize_label` maps every
scalar to one string so they are one class: integers and integral floats to ``"1"``, other numbers to their
shortest repr, booleans to ``"true"``/``"false"``. Missing values (``None``, NaN) stay ``None`` (an unlabelled
row). An empty or whitespace-only label, or a list or object, cannot be a class: :func:`normalize_label`
raises :class:`~shoestring.errors.InputError` naming the file and line.

>>> [normalize_label(v) for v in (1, 1.0, "1.0", " 2 ", True, "sports", None, float("nan"))]
['1', '1', '1', '2', 'true', 'sports', None, None]
"""

from __future__ import annotations

import math
import numbers
import re

from shoestring.errors import InputError

_INTEGRAL = re.compile(r"^[+-]?\d+\.0*$")  # "1.0", "2.", "-3.00": what a float column writes for integers


def normalize_label(value, *, path=None, line: int | None = None, field: str = "label") -> str | None:
    """One string per class (see the module docstring); ``None`` for a missing label."""
    if value is None:
        return None
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return None
        if math.isinf(v):
            raise InputError(f"the {field} is {v}, which cannot be a class", path=path, line=line)
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(value, str):
        s = value.strip()
        if not s:
            raise InputError(f"the {field} is empty", path=path, line=line,
                             hint=f"give the row a {field}, or leave the {field} out for an unlabelled row")
        if _INTEGRAL.match(s):
            s = str(int(s.split(".")[0]))
        return s
    raise InputError(f"the {field} must be a single value (a string or a number), got {type(value).__name__} "
                     f"{str(value)[:60]}", path=path, line=line,
                     hint="one label per row; for several labels per row, split the row")


def check_classes(labels: list[str], what: str = "training") -> None:
    """A classifier needs at least two examples of at least two classes: say so plainly instead of fitting a
    one-class model."""
    if len(labels) < 2:
        raise InputError(f"{len(labels)} labelled {what} example(s): a classifier needs at least 2",
                         hint="label more examples")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise InputError(f"every {what} example has the label {classes[0]!r}: a classifier needs at least two "
                         "classes", hint="label examples of the other classes too (check --label-field)")
