"""The label store: one SQLite file that holds a labeling project's documents, labels and history.

``shoestring label`` keeps everything a person does in this file, so that closing the browser, a crash or a
``kill -9`` loses nothing that was acknowledged, and a restart continues where labeling stopped::

    store = LabelStore.create("news.labels.db", corpus_path="news.jsonl", corpus_sha256=sha,
                              ids=ids, texts=texts, labels=["sports", "world", "business"])
    row = store.row_of("17")                      # document id -> row (0-based position in the corpus)
    store.label(row, "sports", client="tab-1")    # one row per document: the last write wins
    store.undo("tab-1")                           # that client's last action is reverted

Tables:

- ``meta``: the corpus file, its sha256, the label set (JSON, in button order), the id field, the schema version
  (and the corpus the VAMPIRE beside the database was pre-trained on);
- ``docs``: one row per document (``row``, ``doc_id``, ``text``, ``line``), its state (``open``, ``labeled`` or
  ``skipped``), its ``label``, and the *lease*: a document handed to a client is reserved for it for a few
  minutes, so two people labeling at once are not shown the same document;
- ``events``: append-only history, one row per label, skip or undo with its time, client id, the state before
  and (for an undo) the event it reverts. Undo restores the state recorded in the event it reverts, so
  relabel-then-undo gives back the earlier label, not nothing.

Durability: WAL journal and ``synchronous=FULL``: every write is one transaction fsynced before it is
acknowledged. Every method validates its input before it writes, so a request with an unknown label or
document changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path

from shoestring.errors import ArtifactError, ConfigError, InputError

SCHEMA_VERSION = 1
LEASE_SECONDS = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    row INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    line INTEGER,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'labeled', 'skipped')),
    label TEXT,
    updated REAL,
    lease_client TEXT,
    lease_until REAL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    client TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('label', 'skip', 'undo')),
    row INTEGER NOT NULL REFERENCES docs(row),
    label TEXT,
    prev_status TEXT NOT NULL,
    prev_label TEXT,
    undoes INTEGER REFERENCES events(id)
);
CREATE INDEX IF NOT EXISTS events_client ON events(client, id);
CREATE INDEX IF NOT EXISTS events_row ON events(row, id);
CREATE INDEX IF NOT EXISTS events_undoes ON events(undoes);
CREATE INDEX IF NOT EXISTS docs_lease ON docs(lease_client);
"""


class StoreError(InputError):
    """A request the store refuses; nothing was written. ``status`` is the HTTP status the web app answers
    with (400 bad value, 404 no such document, 409 conflicts with the document's state)."""

    def __init__(self, message: str, *, status: int = 400, **kw):
        super().__init__(message, **kw)
        self.status = status


def check_label_set(labels) -> list[str]:
    """Labels as given, stripped; empty names and duplicates are an error."""
    out = []
    for x in labels:
        x = str(x).strip()
        if not x:
            raise ConfigError("a label name is empty", hint="e.g. --labels sports,world,business")
        if x in out:
            raise ConfigError(f"the label {x!r} is given twice")
        out.append(x)
    if not out:
        raise ConfigError("no labels given", hint="--labels a,b,c or --labels-file FILE (one label per line)")
    return out


class LabelStore:
    """An open label database (see the module docstring). ``LabelStore(path)`` opens an existing one;
    :meth:`create` makes one for a corpus or reopens it after checking the corpus is unchanged.

    One connection serves every thread, behind a lock: a person labels a few documents a second, and SQLite
    serializes writers anyway. ``clock`` returns the time (seconds); tests replace it to expire leases."""

    def __init__(self, path, *, clock=time.time):
        self.path = Path(path)
        if not self.path.is_file():
            raise ArtifactError("no such label database", path=self.path,
                                hint="start labeling with `shoestring label CORPUS --labels a,b` first")
        self.clock = clock
        self._lock = threading.RLock()
        try:
            self._db = _connect(self.path)
        except sqlite3.DatabaseError as e:
            raise ArtifactError(f"not a shoestring label database ({e})", path=self.path) from None
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise ArtifactError(f"not a shoestring label database ({e})", path=self.path) from None
        if "corpus_sha256" not in meta:
            self._db.close()
            raise ArtifactError("not a shoestring label database (no corpus recorded)", path=self.path)
        if int(meta.get("schema", 0)) > SCHEMA_VERSION:
            self._db.close()
            raise ArtifactError("was written by a newer shoestring", path=self.path, hint="upgrade shoestring")
        self.meta = meta

    # ------------------------------------------------------------------ creating and checking
    @classmethod
    def create(cls, path, *, corpus_path, corpus_sha256: str, ids, texts, labels, lines=None,
               id_field: str | None = None, force_new: bool = False, clock=time.time) -> "LabelStore":
        """The database at ``path`` for this corpus: made (with every document) if it does not exist; reopened
        if it was made from the same corpus (same sha256 and id field), with the label set updated to
        ``labels`` (None: keep the recorded one). New labels may be added; removing one that is in use is an
        error. A different corpus is an error naming both files, unless ``force_new``: the old database is
        then kept beside it as ``NAME.replaced-TIME`` and a new one made."""
        path = Path(path)
        if path.exists() and force_new:
            backup = _move_aside(path)
            import logging

            logging.getLogger("shoestring").warning("--force-new: the earlier database is kept as %s", backup)
        if path.exists():
            store = cls(path, clock=clock)
            try:
                store._check_corpus(corpus_path, corpus_sha256, id_field, len(ids))
                if labels is not None:
                    store.set_label_set(labels)
            except BaseException:
                store.close()
                raise
            return store
        if labels is None:
            raise ConfigError("a new label database needs its labels",
                              hint="--labels a,b,c or --labels-file FILE (one label per line)")
        labels = check_label_set(labels)
        ids = [str(i) for i in ids]
        if len(set(ids)) != len(ids):
            seen = set()
            dup = next(i for i in ids if i in seen or seen.add(i))
            raise InputError(f"the document id {dup!r} occurs more than once", path=corpus_path,
                             hint="give every document a unique id, or leave out --id-field (ids are row numbers)")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)
        db = _connect(tmp)
        try:
            db.executescript(_SCHEMA)
            meta = {"schema": str(SCHEMA_VERSION), "corpus_path": str(corpus_path), "corpus_sha256": corpus_sha256,
                    "n_docs": str(len(ids)), "id_field": id_field or "", "labels": json.dumps(labels),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            lines = lines if lines is not None else [None] * len(ids)
            db.executemany("INSERT INTO docs (row, doc_id, text, line) VALUES (?, ?, ?, ?)",
                           ((r, i, t, n) for r, (i, t, n) in enumerate(zip(ids, texts, lines))))
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the database is one file before it gets its name
        finally:
            db.close()
        # a half-made database never carries the real name: the rename happens once every document is in
        tmp.replace(path)
        for suffix in ("-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        return cls(path, clock=clock)

    def _check_corpus(self, corpus_path, sha256: str, id_field: str | None, n_docs: int) -> None:
        was = self.meta
        if was["corpus_sha256"] != sha256:
            raise InputError(f"the corpus {corpus_path} (sha256 {sha256[:12]}...) is not the one this label "
                             f"database was made from: {was['corpus_path']} (sha256 {was['corpus_sha256'][:12]}...)",
                             path=self.path,
                             hint="label a changed corpus in a new database (--db NEW.labels.db, then `shoestring "
                                  f"label import NEW.labels.db` an export of this one), or pass --force-new to start "
                                  f"{self.path.name} over (the old file is kept beside it)")
        if (was.get("id_field") or "") != (id_field or ""):
            raise ConfigError(f"this label database takes document ids from "
                              f"{repr(was['id_field']) if was.get('id_field') else 'row numbers'}, not "
                              f"{repr(id_field) if id_field else 'row numbers'}", path=self.path,
                              hint="use the same --id-field as when it was made")
        if int(was["n_docs"]) != n_docs:
            raise ConfigError(f"the corpus has {n_docs} documents, the database {was['n_docs']}: the read settings "
                              "(--format, --text-field) differ from when it was made", path=self.path,
                              hint="use the same read settings as when it was made")

    def set_label_set(self, labels) -> list[str]:
        """Replace the label set (the order is the buttons' order). Labels in use cannot be removed."""
        labels = check_label_set(labels)
        with self._tx() as db:
            used = {r[0] for r in db.execute("SELECT DISTINCT label FROM docs WHERE status = 'labeled'")}
            gone = sorted(used - set(labels))
            if gone:
                counts = dict(db.execute("SELECT label, COUNT(*) FROM docs WHERE status = 'labeled' GROUP BY label"))
                raise ConfigError(f"the label set leaves out {', '.join(repr(g) for g in gone)}, which "
                                  f"{'is' if len(gone) == 1 else 'are'} already used "
                                  f"({', '.join(f'{counts[g]} x {g}' for g in gone)})", path=self.path,
                                  hint="keep every used label in --labels (new ones may be added), or start a new "
                                       "database with --db")
            db.execute("UPDATE meta SET value = ? WHERE key = 'labels'", (json.dumps(labels),))
        self.meta["labels"] = json.dumps(labels)
        return labels

    def set_meta(self, key: str, value: str) -> None:
        """Record a fact about the project (e.g. which corpus the VAMPIRE beside the database was trained on)."""
        with self._tx() as db:
            db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, str(value)))
        self.meta[key] = str(value)

    # ------------------------------------------------------------------ reading
    @property
    def labels(self) -> list[str]:
        return json.loads(self.meta["labels"])

    @property
    def n_docs(self) -> int:
        return int(self.meta["n_docs"])

    def row_of(self, doc_id) -> int:
        """The row of document id ``doc_id`` (a string, or an int for row-number ids)."""
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
            raise StoreError(f"a document id must be a string or an integer, not {type(doc_id).__name__}")
        r = self._read("SELECT row FROM docs WHERE doc_id = ?", (str(doc_id),))
        if not r:
            raise StoreError(f"no document with id {str(doc_id)!r} in the corpus", status=404)
        return r[0][0]

    def doc(self, row: int) -> dict:
        """``{"row", "id", "text", "line", "status", "label"}`` of one document."""
        r = self._read("SELECT row, doc_id, text, line, status, label FROM docs WHERE row = ?", (int(row),))
        if not r:
            raise StoreError(f"no document at row {row}", status=404)
        return dict(zip(("row", "id", "text", "line", "status", "label"), r[0]))

    def labelled(self) -> dict[int, str]:
        """``{row: label}`` of every labelled document."""
        return dict(self._read("SELECT row, label FROM docs WHERE status = 'labeled'"))

    def skipped(self) -> set[int]:
        return {r for (r,) in self._read("SELECT row FROM docs WHERE status = 'skipped'")}

    def counts(self) -> dict[str, int]:
        """Labelled documents per label, every label of the set included (0 when unused)."""
        got = dict(self._read("SELECT label, COUNT(*) FROM docs WHERE status = 'labeled' GROUP BY label"))
        return {x: got.get(x, 0) for x in self.labels}

    def progress(self) -> dict[str, int]:
        got = dict(self._read("SELECT status, COUNT(*) FROM docs GROUP BY status"))
        return {"total": self.n_docs, "labelled": got.get("labeled", 0), "skipped": got.get("skipped", 0),
                "open": got.get("open", 0)}

    def texts(self) -> list[str]:
        return [t for (t,) in self._read("SELECT text FROM docs ORDER BY row")]

    def rows(self, *, labelled_only: bool = True) -> list[dict]:
        """Documents in corpus order as ``{"row", "id", "text", "line", "status", "label"}`` (the export's rows)."""
        where = "WHERE status = 'labeled' " if labelled_only else ""
        cols = ("row", "id", "text", "line", "status", "label")
        return [dict(zip(cols, r)) for r in
                self._read(f"SELECT row, doc_id, text, line, status, label FROM docs {where}ORDER BY row")]

    def events(self, client: str | None = None) -> list[dict]:
        """The history, oldest first (of one client, or everyone's)."""
        cols = ("id", "ts", "client", "action", "row", "label", "prev_status", "prev_label", "undoes")
        q = f"SELECT {', '.join(cols)} FROM events"
        rows = self._read(q + " WHERE client = ? ORDER BY id", (client,)) if client else self._read(q + " ORDER BY id")
        return [dict(zip(cols, r)) for r in rows]

    # ------------------------------------------------------------------ writing
    def label(self, row: int, label: str, client: str) -> dict:
        """Label (or relabel) a document; its lease ends. Returns the state before: ``{"status", "label"}``."""
        if label not in self.labels:
            raise StoreError(f"unknown label {label!r}; the labels are {', '.join(self.labels)}",
                             hint="add a label by restarting with it in --labels")
        with self._tx() as db:
            prev = self._state(db, row)
            self._event(db, client, "label", row, label, prev)
            db.execute("UPDATE docs SET status = 'labeled', label = ?, updated = ?, lease_client = NULL, "
                       "lease_until = NULL WHERE row = ?", (label, self.clock(), row))
        return prev

    def label_many(self, pairs, client: str) -> int:
        """Label many documents in one transaction (an import): ``pairs`` of ``(row, label)``. Returns how
        many changed (a document that already has that label is left as it is)."""
        pairs = list(pairs)
        bad = sorted({y for _, y in pairs if y not in self.labels})
        if bad:
            raise StoreError(f"unknown label(s) {', '.join(map(repr, bad))}; the labels are "
                             f"{', '.join(self.labels)}")
        changed = 0
        with self._tx() as db:
            for row, y in pairs:
                prev = self._state(db, row)
                if prev == {"status": "labeled", "label": y}:
                    continue
                self._event(db, client, "label", row, y, prev)
                db.execute("UPDATE docs SET status = 'labeled', label = ?, updated = ?, lease_client = NULL, "
                           "lease_until = NULL WHERE row = ?", (y, self.clock(), row))
                changed += 1
        return changed

    def skip(self, row: int, client: str) -> dict:
        """Set a document aside (it is not offered again); a labelled one cannot be skipped."""
        with self._tx() as db:
            prev = self._state(db, row)
            if prev["status"] == "labeled":
                raise StoreError(f"document row {row} is already labelled {prev['label']!r}: relabel it, or undo",
                                 status=409)
            self._event(db, client, "skip", row, None, prev)
            db.execute("UPDATE docs SET status = 'skipped', updated = ?, lease_client = NULL, lease_until = NULL "
                       "WHERE row = ?", (self.clock(), row))
        return prev

    def undo(self, client: str) -> dict:
        """Revert ``client``'s most recent label or skip that is not undone yet: the document gets back the
        state recorded before it. If another client changed that document since, their change stands (the
        last write wins) and the undo is recorded without changing it: ``restored`` is then False.

        Returns ``{"row", "action", "status", "label", "restored"}``; nothing to undo is a 409 error."""
        with self._tx() as db:
            target = db.execute(
                "SELECT id, action, row, label, prev_status, prev_label FROM events e WHERE client = ? "
                "AND action IN ('label', 'skip') AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.id) "
                "ORDER BY id DESC LIMIT 1", (client,)).fetchone()
            if target is None:
                raise StoreError("nothing to undo", status=409)
            eid, action, row, label, prev_status, prev_label = target
            now = self._state(db, row)
            made = {"status": "labeled" if action == "label" else "skipped", "label": label}
            later = db.execute(
                "SELECT 1 FROM events o WHERE o.row = ? AND o.id > ? AND o.client <> ? AND o.action IN "
                "('label', 'skip') AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = o.id) LIMIT 1",
                (row, eid, client)).fetchone()
            restored = later is None and now == made
            after = {"status": prev_status, "label": prev_label} if restored else now
            db.execute("INSERT INTO events (ts, client, action, row, label, prev_status, prev_label, undoes) "
                       "VALUES (?, ?, 'undo', ?, ?, ?, ?, ?)",
                       (self.clock(), client, row, after["label"], now["status"], now["label"], eid))
            if restored:
                db.execute("UPDATE docs SET status = ?, label = ?, updated = ? WHERE row = ?",
                           (prev_status, prev_label, self.clock(), row))
        return {"row": row, "action": action, **after, "restored": restored}

    # ------------------------------------------------------------------ leases
    def lease(self, row: int, client: str, seconds: float = LEASE_SECONDS) -> bool:
        """Reserve an open document for ``client`` (ending its other leases); False when the document is not
        open or another client holds it."""
        now = self.clock()
        with self._tx() as db:
            got = db.execute("UPDATE docs SET lease_client = ?, lease_until = ? WHERE row = ? AND status = 'open' "
                             "AND (lease_client IS NULL OR lease_client = ? OR lease_until < ?)",
                             (client, now + seconds, row, client, now)).rowcount
            if got:
                db.execute("UPDATE docs SET lease_client = NULL, lease_until = NULL WHERE lease_client = ? AND "
                           "row <> ?", (client, row))
        return bool(got)

    def lease_of(self, client: str) -> int | None:
        """The open document ``client`` holds a live lease on, if any."""
        r = self._read("SELECT row FROM docs WHERE lease_client = ? AND lease_until >= ? AND status = 'open' "
                       "ORDER BY lease_until DESC LIMIT 1", (client, self.clock()))
        return r[0][0] if r else None

    def leased_to_others(self, client: str) -> set[int]:
        return {r for (r,) in self._read("SELECT row FROM docs WHERE lease_client IS NOT NULL AND lease_client <> ? "
                                         "AND lease_until >= ?", (client, self.clock()))}

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def _tx(self):
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")  # the write lock now: another process cannot slip in between
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _read(self, sql: str, args=()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _state(self, db, row) -> dict:
        if isinstance(row, bool) or not isinstance(row, int):
            raise StoreError(f"a row must be an integer, not {row!r}")
        r = db.execute("SELECT status, label FROM docs WHERE row = ?", (row,)).fetchone()
        if r is None:
            raise StoreError(f"no document at row {row} (the corpus has {self.n_docs})", status=404)
        return {"status": r[0], "label": r[1]}

    def _event(self, db, client, action, row, label, prev) -> None:
        db.execute("INSERT INTO events (ts, client, action, row, label, prev_status, prev_label) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", (self.clock(), client, action, row, label, prev["status"],
                                                     prev["label"]))


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE ... COMMIT of LabelStore._tx
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # an acknowledged label is on disk, even after SIGKILL or power loss
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _move_aside(path: Path) -> Path:
    """Rename a database (after folding its WAL into it) to ``NAME.replaced-TIME``."""
    db = _connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    backup = path.with_name(f"{path.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(backup)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return backup
