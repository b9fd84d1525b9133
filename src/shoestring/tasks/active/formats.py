"""Labels in and out of a label database: JSON lines, CSV, Prodigy and Label Studio.

Export (``shoestring label export DB -o FILE --format F``) writes the labelled documents in corpus order:

- ``jsonl``: ``{"id": "17", "text": "...", "label": "sports"}`` per line (what ``shoestring train`` reads);
- ``csv``: columns ``id,text,label``;
- ``prodigy``: Prodigy's choice-task JSONL, ``{"text", "options": [{"id", "text"}...], "accept": ["sports"],
  "answer": "accept", "meta": {"id": "17"}}`` (``prodigy db-in`` loads it);
- ``labelstudio``: a Label Studio JSON task export, ``[{"id", "data": {"text", "doc_id"}, "annotations":
  [{"result": [{"type": "choices", "from_name": "label", "to_name": "text", "value": {"choices": ["sports"]}}]}]}]``.

Import (``shoestring label import DB FILE``) reads Prodigy JSONL - text classification
(``{"text", "label", "answer": "accept"}``) or choice tasks (``"accept": [labels]``) - Label Studio JSON task
exports, and this module's own ``jsonl``/``csv``. Documents are matched to the corpus by their text (exactly,
else with runs of white space collapsed); a text that occurs several times in the corpus labels each copy.
Rows that cannot be used are counted by reason with the first line they occur on, never silently dropped:
no match in the corpus, a label outside the label set, a rejected or ignored answer, several labels.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

from shoestring.errors import ConfigError, InputError

EXPORT_FORMATS = ("jsonl", "csv", "prodigy", "labelstudio")
IMPORT_FORMATS = ("auto", "prodigy", "labelstudio", "jsonl", "csv")
SUFFIXES = {"jsonl": (".jsonl",), "csv": (".csv",), "prodigy": (".jsonl",), "labelstudio": (".json",)}
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "prodigy": "application/x-ndjson",
               "labelstudio": "application/json"}


def check_format(fmt: str, formats=EXPORT_FORMATS) -> str:
    if fmt not in formats:
        raise ConfigError(f"unknown format {fmt!r}", hint=f"choose one of {', '.join(formats)}")
    return fmt


# ---------------------------------------------------------------------------------------------- export
def export_text(rows: list[dict], fmt: str, labels: list[str]) -> str:
    """The export file's content. ``rows``: :meth:`LabelStore.rows` (labelled documents, corpus order);
    ``labels``: the label set (Prodigy's options)."""
    check_format(fmt)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "text", "label"])
        w.writerows([r["id"], r["text"], r["label"]] for r in rows)
        return buf.getvalue()
    if fmt == "labelstudio":
        tasks = [{"id": r["row"] + 1, "data": {"text": r["text"], "doc_id": r["id"]},
                  "annotations": [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                               "value": {"choices": [r["label"]]}}]}]} for r in rows]
        return json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
    if fmt == "prodigy":
        options = [{"id": x, "text": x} for x in labels]
        out = ({"text": r["text"], "options": options, "accept": [r["label"]], "answer": "accept",
                "meta": {"id": r["id"]}} for r in rows)
    else:
        out = ({"id": r["id"], "text": r["text"], "label": r["label"]} for r in rows)
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out)


def export_file(store, path, fmt: str, *, overwrite: bool = False) -> int:
    """Write ``store``'s labels to ``path`` (atomically); returns the number of documents written."""
    import os
    import uuid

    from shoestring.artifacts import check_output_file

    path = check_output_file(path, overwrite, SUFFIXES[check_format(fmt)], f"{fmt} export")
    rows = store.rows()
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(export_text(rows, fmt, store.labels), encoding="utf-8", newline="")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(rows)


# ---------------------------------------------------------------------------------------------- import
@dataclasses.dataclass
class Row:
    """One labelled text read from an import file; ``problem`` says why it cannot be used (else None)."""

    line: int
    text: str | None
    label: str | None
    problem: str | None = None


@dataclasses.dataclass
class ImportReport:
    """What an import did: rows read, documents labelled (``changed``: those whose label changed), and the rows
    not used, by reason, each with its count and first line."""

    path: str
    rows: int = 0
    matched: int = 0
    changed: int = 0
    problems: dict = dataclasses.field(default_factory=dict)  # reason -> [count, first line]

    def add_problem(self, reason: str, line: int) -> None:
        entry = self.problems.setdefault(reason, [0, line])
        entry[0] += 1

    @property
    def not_imported(self) -> int:
        return sum(n for n, _ in self.problems.values())

    def summary(self) -> str:
        lines = [f"{self.path}: {self.rows} rows; {self.matched} matched documents of the corpus, "
                 f"{self.changed} labels written"]
        for reason, (n, first) in sorted(self.problems.items(), key=lambda kv: kv[1][1]):
            lines.append(f"  not imported: {n} row{'s' if n != 1 else ''} ({reason}), the first at line {first}")
        return "\n".join(lines)


def detect_import_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "labelstudio"
    if name.endswith((".jsonl", ".ndjson")):
        return "prodigy"
    raise ConfigError(f"cannot tell the import format from the name {path.name!r}",
                      hint="pass --format prodigy, labelstudio, jsonl or csv")


def read_rows(path, fmt: str = "auto") -> list[Row]:
    """The labelled texts of an import file, each with its line number."""
    path = Path(path)
    fmt = detect_import_format(path) if check_format(fmt, IMPORT_FORMATS) == "auto" else fmt
    if not path.is_file():
        raise InputError("no such file", path=path)
    text = _read_text(path)
    if fmt == "labelstudio":
        return list(_labelstudio_rows(text, path))
    if fmt == "csv":
        return list(_csv_rows(text, path))
    return list(_jsonl_rows(text, path))


def _read_text(path: Path) -> str:
    import gzip

    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InputError("is not valid UTF-8", path=path, line=line, hint="save the file as UTF-8") from None


def _jsonl_rows(text: str, path: Path):
    """Prodigy JSONL (textcat or choice) and plain ``{"text", "label"}`` lines."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg} (column {e.colno})", path=path, line=n) from None
        if not isinstance(o, dict):
            raise InputError("a line must be a JSON object", path=path, line=n)
        t = o.get("text")
        t = t if isinstance(t, str) and t.strip() else None
        answer = o.get("answer", "accept")
        if t is None:
            yield Row(n, None, None, "no text")
        elif answer != "accept":
            yield Row(n, t, None, f"answer {answer!r}, not 'accept'")
        elif "accept" in o:  # a choice task: the options chosen
            chosen = o["accept"] if isinstance(o["accept"], list) else [o["accept"]]
            if len(chosen) != 1:
                yield Row(n, t, None, "no option chosen" if not chosen else "several options chosen")
            else:
                yield Row(n, t, str(chosen[0]))
        elif isinstance(o.get("label"), (str, int)) and str(o["label"]).strip():
            yield Row(n, t, str(o["label"]).strip())
        else:
            yield Row(n, t, None, "no label")


def _csv_rows(text: str, path: Path):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [f for f in ("text", "label") if f not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"no {' or '.join(missing)} column (columns: {', '.join(reader.fieldnames or [])})",
                         path=path, line=1, hint="the header must name the text and label columns")
    for r in reader:
        n = reader.line_num
        t, y = r.get("text") or "", (r.get("label") or "").strip()
        yield Row(n, t, y) if t.strip() and y else Row(n, t or None, None, "no text" if not t.strip() else "no label")


def _labelstudio_rows(text: str, path: Path):
    """A Label Studio JSON export: a list of tasks, each with ``data`` and ``annotations`` (``completions`` in
    old versions). The last annotation that is not cancelled and has a choice counts."""
    for n, task in _json_array_items(text, path):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            yield Row(n, None, None, "not a task with 'data'")
            continue
        data = task["data"]
        t = data.get("text")
        if not isinstance(t, str):  # the text may sit under the labeling config's own name
            t = next((v for v in data.values() if isinstance(v, str) and v.strip()), None)
        if not t or not t.strip():
            yield Row(n, None, None, "no text")
            continue
        choices = None
        for ann in task.get("annotations") or task.get("completions") or []:
            if not isinstance(ann, dict) or ann.get("was_cancelled"):
                continue
            for res in ann.get("result") or []:
                if isinstance(res, dict) and res.get("type") == "choices":
                    choices = (res.get("value") or {}).get("choices")
        if not choices:
            yield Row(n, t, None, "no choice annotation")
        elif len(choices) != 1:
            yield Row(n, t, None, "several choices")
        else:
            yield Row(n, t, str(choices[0]))


def _json_array_items(text: str, path: Path):
    """``(line, item)`` for each element of a top-level JSON array (the line it starts on, for reports)."""
    dec = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "[":
        raise InputError("a Label Studio export must be a JSON array of tasks", path=path,
                         line=text.count("\n", 0, i) + 1,
                         hint="export the project from Label Studio as JSON (not JSON-MIN or CSV)")
    i = _skip_ws(text, i + 1)
    if i < len(text) and text[i] == "]":
        return
    while True:
        line = text.count("\n", 0, i) + 1
        try:
            item, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from None
        yield line, item
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        if i < len(text) and text[i] == "]":
            return
        raise InputError("invalid JSON: expected ',' or ']' between tasks", path=path, line=text.count("\n", 0, i) + 1)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _normal(text: str) -> str:
    return " ".join(text.split())


def import_file(store, path, fmt: str = "auto", *, add_labels: bool = False, client: str | None = None
                ) -> ImportReport:
    """Label ``store``'s documents from an export of another tool (see the module docstring), in one
    transaction. ``add_labels``: labels outside the label set are added to it (else those rows are reported)."""
    path = Path(path)
    rows = read_rows(path, fmt)
    report = ImportReport(str(path), rows=len(rows))
    exact: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}
    for r in store.rows(labelled_only=False):
        exact.setdefault(r["text"], []).append(r["row"])
        loose.setdefault(_normal(r["text"]), []).append(r["row"])
    known = store.labels
    if add_labels:
        new = [y for y in dict.fromkeys(r.label for r in rows if r.problem is None) if y not in known]
        if new:
            known = store.set_label_set(known + new)
    pairs: dict[int, str] = {}
    for r in rows:
        if r.problem is not None:
            report.add_problem(r.problem, r.line)
            continue
        targets = exact.get(r.text) or loose.get(_normal(r.text))
        if not targets:
            report.add_problem("text not in the corpus", r.line)
        elif r.label not in known:
            report.add_problem(f"label {r.label!r} is not in the label set; pass --add-labels to add it", r.line)
        else:
            for t in targets:
                pairs[t] = r.label  # a later row for the same document wins, as a later label does in the app
    report.matched = len(pairs)
    report.changed = store.label_many(sorted(pairs.items()), client or f"import:{path.name}")
    return report
