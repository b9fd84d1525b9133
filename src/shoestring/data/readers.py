"""Stream documents from JSONL(.gz), CSV/TSV(.gz), plain text (one document per line), or a folder of .txt files.

Every reader yields :class:`Document` records one at a time (constant memory), keeps extra fields, and
reports bad input with the file and line: invalid UTF-8, bad JSON, a missing text field. Empty or
whitespace-only documents are skipped and counted in :class:`ReadStats`, never fatal.

Formats are chosen from the file name (``.jsonl``, ``.json``, ``.ndjson``, ``.csv``, ``.tsv``, ``.txt``,
each optionally ``.gz``) or explicitly with ``format=``. A folder is read as a set of ``.txt`` files, one
document each; files in sub-folders take the sub-folder's name as their label (the scikit-learn
``load_files`` convention)::

    corpus/
      sports/a.txt      -> label "sports"
      finance/b.txt     -> label "finance"
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

from shoestring.data.config import FORMATS
from shoestring.data.labels import normalize_label
from shoestring.errors import InputError


@dataclasses.dataclass
class Document:
    text: str
    label: str | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    source: str = ""
    line: int = 0


@dataclasses.dataclass
class ReadStats:
    """What a read saw: documents yielded, skipped empty ones, and labelled ones."""

    documents: int = 0
    skipped_empty: int = 0
    labeled: int = 0
    first_empty: str | None = None  # "file:line" of the first skipped document, for the log
    strict_labels: bool = True      # an empty or non-scalar label is an error (else: the row counts as unlabelled)
    bad_labels: int = 0

    def skip(self, source: str, line: int) -> None:
        self.skipped_empty += 1
        if self.first_empty is None:
            self.first_empty = f"{source}:{line}"


def detect_format(path: str | os.PathLike) -> str:
    p = Path(path)
    if p.is_dir():
        return "folder"
    name = p.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".csv", "csv"),
                     (".tsv", "tsv"), (".txt", "txt"), (".text", "txt")):
        if name.endswith(ext):
            return fmt
    raise InputError("cannot tell the format from the file name", path=path,
                     hint="use a .jsonl/.csv/.tsv/.txt(.gz) name or pass --format jsonl|csv|tsv|txt")


def _open_binary(path: Path):
    raw = open(path, "rb")
    if path.name.lower().endswith(".gz"):
        return raw, gzip.GzipFile(fileobj=raw)
    return raw, raw


def _decoded_lines(path: Path, progress=None) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line without newline), strict UTF-8, progress in compressed bytes."""
    raw, f = _open_binary(path)
    last = 0
    try:
        for lineno, b in enumerate(f, 1):
            try:
                s = b.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"invalid UTF-8 at byte {e.start} of the line", path=path, line=lineno,
                                 hint="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
            if lineno == 1 and s.startswith("\ufeff"):
                s = s[1:]
            if progress is not None and lineno % 256 == 0:
                pos = raw.tell()
                progress.update(pos - last)
                last = pos
            yield lineno, s.rstrip("\r\n")
    except (OSError, EOFError) as e:  # truncated or corrupt gzip
        raise InputError(f"cannot read the file: {e}", path=path, hint="is the file complete?") from None
    finally:
        if progress is not None:
            progress.update(max(0, os.path.getsize(path) - last))
        f.close()
        if f is not raw:
            raw.close()


def _read_jsonl(path: Path, text_field: str, label_field: str, stats: ReadStats, progress,
                keep_empty=False) -> Iterator[Document]:
    for lineno, s in _decoded_lines(path, progress):
        if not s.strip():
            continue  # blank lines between records are not documents
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise InputError(f"bad JSON: {e.msg} (column {e.colno})", path=path, line=lineno,
                             hint="each line must be one JSON object, e.g. {\"text\": \"...\", \"label\": \"...\"}"
                             ) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=lineno)
        if text_field not in obj:
            raise InputError(f"missing the text field {text_field!r} (fields: {', '.join(obj) or 'none'})",
                             path=path, line=lineno, hint="name the text field with --text-field")
        text = obj.pop(text_field)
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise InputError(f"field {text_field!r} must be a string, got {type(text).__name__}",
                             path=path, line=lineno)
        label = _label(obj.pop(label_field, None), path, lineno, f"{label_field!r} field", stats)
        yield from _emit(text, label, obj, str(path), lineno, stats, keep_empty)


def _read_csv(path: Path, delimiter: str, text_field: str, label_field: str, stats: ReadStats,
              progress, keep_empty=False) -> Iterator[Document]:
    lines = (s for _, s in _decoded_lines(path, progress))
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InputError(f"bad CSV header: {e}", path=path, line=1) from None
    if text_field not in header:
        raise InputError(f"the header has no column {text_field!r} (columns: {', '.join(header)})", path=path,
                         line=1, hint="name the text column with --text-field")
    ti = header.index(text_field)
    li = header.index(label_field) if label_field in header else None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise InputError(f"bad CSV row: {e}", path=path, line=reader.line_num) from None
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"expected {len(header)} columns, found {len(row)}", path=path,
                             line=reader.line_num, hint="quote fields that contain the delimiter or newlines")
        # an empty cell is a missing label (what pandas writes for NaN)
        label = _label(row[li], path, reader.line_num, f"{label_field!r} column", stats) \
            if li is not None and row[li].strip() else None
        extra = {h: v for k, (h, v) in enumerate(zip(header, row)) if k not in (ti, li)}
        yield from _emit(row[ti], label, extra, str(path), reader.line_num, stats, keep_empty)


def _read_txt(path: Path, stats: ReadStats, progress, keep_empty=False) -> Iterator[Document]:
    for lineno, s in _decoded_lines(path, progress):
        yield from _emit(s, None, {}, str(path), lineno, stats, keep_empty)


def _read_folder(path: Path, stats: ReadStats, progress, keep_empty=False) -> Iterator[Document]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".txt", ".text"))
    if not files:
        raise InputError("the folder contains no .txt files", path=path)
    for p in files:
        rel = p.relative_to(path)
        label = rel.parts[0] if len(rel.parts) > 1 else None
        try:
            text = p.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            line = p.read_bytes()[: e.start].count(b"\n") + 1
            raise InputError(f"invalid UTF-8 at byte {e.start}", path=p, line=line,
                             hint="re-encode the file as UTF-8") from None
        if progress is not None:
            progress.update(p.stat().st_size)
        yield from _emit(text, label, {"file": str(rel)}, str(p), 1, stats, keep_empty)


def _label(value, path, line, field, stats: ReadStats):
    try:
        return normalize_label(value, path=path, line=line, field=field)
    except InputError:
        if stats.strict_labels:
            raise
        stats.bad_labels += 1  # where labels are only metadata (prepare, tokenize), such a row is unlabelled
        return None


def _emit(text, label, extra, source, line, stats: ReadStats, keep_empty=False):
    if not text.strip():
        stats.skip(source, line)
        if not keep_empty:
            return
    stats.documents += 1
    if label is not None:
        stats.labeled += 1
    yield Document(text, label, extra, source, line)


def read_documents(paths, *, format: str = "auto", text_field: str = "text", label_field: str = "label",
                   stats: ReadStats | None = None, progress: bool | str = False,
                   keep_empty: bool = False) -> Iterator[Document]:
    """Yield the documents of one or more files/folders in order.

    ``stats`` (a :class:`ReadStats`) is filled as the generator runs; ``progress`` shows a byte-level progress
    bar on stderr (pass a string to set its description). Empty and whitespace-only documents are skipped
    (and counted in ``stats.skipped_empty``) unless ``keep_empty``: ``embed`` and ``predict`` keep them, so
    output row i stays input row i. Labels are normalized by :func:`~shoestring.data.labels.normalize_label`.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    for p in paths:
        if not p.exists():
            raise InputError("no such file or folder", path=p)
    stats = stats if stats is not None else ReadStats()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = sum(q.stat().st_size if q.is_file() else sum(f.stat().st_size for f in q.rglob("*.txt"))
                    for q in paths)
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=progress if isinstance(progress, str) else "reading",
                   leave=False, dynamic_ncols=True, mininterval=0.5, disable=None)
    try:
        for p in paths:
            fmt = detect_format(p) if format == "auto" else ("folder" if p.is_dir() else format)
            if fmt == "jsonl":
                yield from _read_jsonl(p, text_field, label_field, stats, bar, keep_empty)
            elif fmt in ("csv", "tsv"):
                yield from _read_csv(p, "," if fmt == "csv" else "\t", text_field, label_field, stats, bar,
                                     keep_empty)
            elif fmt == "txt":
                yield from _read_txt(p, stats, bar, keep_empty)
            else:
                yield from _read_folder(p, stats, bar, keep_empty)
    finally:
        if bar is not None:
            bar.close()


def read_texts_labels(paths, **kw) -> tuple[list[str], list[str | None], ReadStats]:
    """Read a (small) labelled file fully: texts, labels (None where missing) and the stats."""
    stats = ReadStats()
    texts, labels = [], []
    for d in read_documents(paths, stats=stats, **kw):
        texts.append(d.text)
        labels.append(d.label)
    return texts, labels, stats


def sha256_files(paths) -> str:
    """A hash of the input files' bytes (folders: every file, in sorted order), for manifests."""
    import hashlib

    h = hashlib.sha256()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for p in map(Path, paths):
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for q in files:
            with open(q, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


__all__ = ["Document", "ReadStats", "read_documents", "read_texts_labels", "detect_format", "sha256_files",
           "FORMATS"]


def read_records(path, fields: tuple[str, ...], *, optional: tuple[str, ...] = ()) -> Iterator[tuple[int, dict]]:
    """``(line, {field: value})`` for each row of a JSONL/CSV/TSV file (gzip allowed) that has every field of
    ``fields`` (and those of ``optional`` it has): sentence pairs, STS rows, (anchor, positive, negative)
    triples. A row missing a field is an error naming the file, the line and the fields it has."""
    path = Path(path)
    wanted = list(fields) + list(optional)
    # the first field is read as the "text" (so empty rows are rows too); the others ride along as extras
    for d in read_documents([path], text_field=fields[0], label_field="\0no-label", keep_empty=True):
        row = {fields[0]: d.text, **{k: d.extra[k] for k in wanted[1:] if k in d.extra and d.extra[k] != ""}}
        missing = [k for k in fields if k not in row]
        if missing:
            raise InputError(f"missing {', '.join(repr(k) for k in missing)} (fields: "
                             f"{', '.join([fields[0], *d.extra]) or 'none'})", path=path, line=d.line,
                             hint=f"each row needs {', '.join(fields)}")
        yield d.line, row
