"""The label store (SQLite: labels, skips, undo, leases, the corpus check) and the label file formats (JSONL, CSV,
Prodigy, Label Studio): what is stored is what was acknowledged, bad input changes nothing, exports import back."""

import json
import sqlite3

import pytest

from conftest import write_jsonl
from shoestring.errors import ArtifactError, ConfigError, InputError
from shoestring.tasks.active.formats import export_file, export_text, import_file, read_rows
from shoestring.tasks.active.store import LabelStore, StoreError

TEXTS = ["rocket orbit planet", "butter garlic oven", "striker penalty goal", "comet galaxy nebula",
         "flour  sauce\tbasil", "referee stadium league"]
LABELS = ["space", "cooking", "football"]
TRUTH = ["space", "cooking", "football", "space", "cooking", "football"]


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def make(path, texts=TEXTS, labels=LABELS, sha="a" * 64, **kw):
    return LabelStore.create(path, corpus_path="corpus.jsonl", corpus_sha256=sha,
                             ids=[str(i) for i in range(len(texts))], texts=texts, labels=labels, **kw)


@pytest.fixture
def store(tmp_path):
    s = make(tmp_path / "c.labels.db", clock=Clock())
    yield s
    s.close()


def snapshot(store):
    return store.rows(labelled_only=False), store.events(), store.labels


def test_label_relabel_skip_and_undo_restore_the_previous_state(store):
    assert store.label(0, "space", "a") == {"status": "open", "label": None}
    assert store.label(0, "cooking", "a") == {"status": "labeled", "label": "space"}  # one row: the last write wins
    store.skip(1, "a")
    assert store.labelled() == {0: "cooking"} and store.skipped() == {1}
    assert store.counts() == {"space": 0, "cooking": 1, "football": 0}
    assert store.progress() == {"total": 6, "labelled": 1, "skipped": 1, "open": 4}

    u = store.undo("a")  # the skip
    assert (u["row"], u["action"], u["status"], u["restored"]) == (1, "skip", "open", True)
    u = store.undo("a")  # the relabel: back to the earlier label, not to nothing
    assert (u["row"], u["status"], u["label"]) == (0, "labeled", "space")
    assert store.labelled() == {0: "space"}
    assert store.undo("a")["status"] == "open" and store.labelled() == {}
    with pytest.raises(StoreError, match="nothing to undo") as e:
        store.undo("a")
    assert e.value.status == 409
    # the history is append-only: 3 actions and 3 undos, each undo naming the event it reverts
    ev = store.events("a")
    assert [x["action"] for x in ev] == ["label", "label", "skip", "undo", "undo", "undo"]
    assert [x["undoes"] for x in ev[3:]] == [ev[2]["id"], ev[1]["id"], ev[0]["id"]]
    store.label(2, "football", "a")
    with pytest.raises(StoreError, match="already labelled") as e:
        store.skip(2, "a")
    assert e.value.status == 409


def test_undo_leaves_another_clients_later_label_standing(store):
    store.label(3, "space", "a")
    store.label(3, "football", "b")  # both events are recorded; b's label wins
    u = store.undo("a")
    assert u["restored"] is False and store.labelled() == {3: "football"}
    assert [e["client"] for e in store.events()] == ["a", "b", "a"]
    assert store.undo("b")["label"] == "space"  # b's undo gives back what b replaced


def test_leases_keep_two_clients_apart_until_they_expire(store):
    assert store.lease(0, "a", 60) and store.lease_of("a") == 0
    assert not store.lease(0, "b", 60)  # a holds it
    assert store.leased_to_others("b") == {0} and store.leased_to_others("a") == set()
    assert store.lease(1, "a", 60)  # a moves on: its earlier lease ends
    assert store.lease_of("a") == 1 and store.lease(0, "b", 60)
    store.clock.t += 61
    assert store.lease_of("a") is None and store.lease(1, "b", 60)  # expired: free for anyone
    store.label(1, "cooking", "b")
    assert store.lease_of("b") is None and not store.lease(1, "a", 60)  # labelled: never leased again


def test_unknown_label_or_document_changes_nothing(store):
    store.label(0, "space", "a")
    before = snapshot(store)
    with pytest.raises(StoreError, match="unknown label 'sports'; the labels are space, cooking, football"):
        store.label(1, "sports", "a")
    with pytest.raises(StoreError, match="no document with id '99'") as e:
        store.row_of("99")
    assert e.value.status == 404
    with pytest.raises(StoreError, match="no document at row 99"):
        store.label(99, "space", "a")
    with pytest.raises(StoreError):
        store.label_many([(1, "space"), (2, "sports")], "import")  # all or nothing
    with pytest.raises(StoreError):
        store.label_many([(1, "space"), (77, "space")], "import")
    assert snapshot(store) == before


def test_durable_settings_and_restart(tmp_path, store):
    store.label(2, "football", "a")
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    again = make(store.path, labels=None)  # the recorded label set
    assert again.labelled() == {2: "football"} and again.labels == LABELS
    again.close()


def test_a_changed_corpus_is_refused_with_both_files_named(store):
    store.label(0, "space", "a")
    path = store.path
    store.close()
    with pytest.raises(InputError) as e:
        make(path, sha="b" * 64)
    msg = str(e.value)
    assert "corpus.jsonl (sha256 bbbbbbbbbbbb...)" in msg and "aaaaaaaaaaaa" in msg and str(path) in msg
    assert "--db" in msg and "--force-new" in msg
    new = make(path, sha="b" * 64, force_new=True)
    assert new.labelled() == {} and new.meta["corpus_sha256"] == "b" * 64
    new.close()
    (backup,) = path.parent.glob("c.labels.db.replaced-*")
    assert LabelStore(backup).labelled() == {0: "space"}  # the old labels are kept


def test_label_set_may_grow_but_not_lose_a_used_label(store):
    store.label(0, "space", "a")
    assert store.set_label_set(["space", "cooking", "football", "weather"])[-1] == "weather"
    assert store.set_label_set(["space", "football"]) == ["space", "football"]  # unused ones may go
    with pytest.raises(ConfigError, match="leaves out 'space', which is already used .1 x space."):
        store.set_label_set(["football"])
    with pytest.raises(ConfigError, match="given twice"):
        store.set_label_set(["a", "a"])
    assert store.labels == ["space", "football"]


def test_a_file_that_is_not_a_label_database(tmp_path):
    (tmp_path / "x.db").write_text("hello " * 100)
    with pytest.raises(ArtifactError, match="x.db: not a shoestring label database"):
        LabelStore(tmp_path / "x.db")
    with pytest.raises(ArtifactError, match="no such label database"):
        LabelStore(tmp_path / "missing.db")


def test_duplicate_document_ids_are_an_error(tmp_path):
    with pytest.raises(InputError, match="the document id '1' occurs more than once"):
        LabelStore.create(tmp_path / "x.db", corpus_path="c.jsonl", corpus_sha256="a" * 64, ids=["1", "2", "1"],
                          texts=["a", "b", "c"], labels=["x"])
    assert not (tmp_path / "x.db").exists()


# ---------------------------------------------------------------------------------------------- formats
@pytest.mark.parametrize("fmt,name", [("prodigy", "out.jsonl"), ("labelstudio", "out.json"), ("jsonl", "out.jsonl"),
                                      ("csv", "out.csv")])
def test_export_then_import_gives_the_same_labels(tmp_path, store, fmt, name):
    for row in (0, 1, 2, 4):
        store.label(row, TRUTH[row], "a")
    store.skip(5, "a")  # skipped documents are not exported
    assert export_file(store, tmp_path / name, fmt) == 4
    fresh = make(tmp_path / "fresh.db")
    report = import_file(fresh, tmp_path / name)  # the format from the name
    assert (report.rows, report.matched, report.changed, report.problems) == (4, 4, 4, {})
    assert fresh.labelled() == store.labelled()
    assert import_file(fresh, tmp_path / name).changed == 0  # importing twice changes nothing
    fresh.close()


def test_export_formats_look_like_the_tools_own(store):
    store.label(4, "cooking", "a")
    rows = store.rows()
    p = json.loads(export_text(rows, "prodigy", LABELS))
    assert p["accept"] == ["cooking"] and p["answer"] == "accept" and p["meta"] == {"id": "4"}
    assert [o["id"] for o in p["options"]] == LABELS
    (task,) = json.loads(export_text(rows, "labelstudio", LABELS))
    assert task["data"] == {"text": TEXTS[4], "doc_id": "4"}
    assert task["annotations"][0]["result"][0]["value"] == {"choices": ["cooking"]}
    assert export_text(rows, "csv", LABELS) == "id,text,label\n4,flour  sauce\tbasil,cooking\n"
    tricky = [{"row": 0, "id": "7", "text": 'say "hi", then\nleave', "label": "x"}]
    assert export_text(tricky, "csv", ["x"]) == 'id,text,label\n7,"say ""hi"", then\nleave",x\n'


def test_prodigy_import_reports_rows_it_cannot_use(tmp_path, store):
    lines = [{"text": "rocket orbit planet", "label": "space", "answer": "accept"},                  # textcat
             {"text": "butter garlic oven", "accept": ["cooking"], "answer": "accept"},             # choice
             {"text": "not in this corpus", "label": "space", "answer": "accept"},
             {"text": "striker penalty goal", "label": "football", "answer": "reject"},
             {"text": "flour sauce basil", "accept": ["cooking"]},                             # white space differs
             {"text": "comet galaxy nebula", "accept": ["space", "cooking"], "answer": "accept"},
             {"text": "referee stadium league", "label": "sports", "answer": "accept"},
             {"text": "also not in the corpus", "label": "space"}]
    f = write_jsonl(tmp_path / "prodigy.jsonl", lines)
    r = import_file(store, f)
    assert (r.rows, r.matched, r.changed) == (8, 3, 3)
    assert store.labelled() == {0: "space", 1: "cooking", 4: "cooking"}
    assert r.problems == {"text not in the corpus": [2, 3], "answer 'reject', not 'accept'": [1, 4],
                          "several options chosen": [1, 6],
                          "label 'sports' is not in the label set; pass --add-labels to add it": [1, 7]}
    assert "not imported: 2 rows (text not in the corpus), the first at line 3" in r.summary()
    r = import_file(store, f, add_labels=True)
    assert store.labels[-1] == "sports" and store.labelled()[5] == "sports" and r.changed == 1


def test_label_studio_import_names_the_line_each_task_starts_on(tmp_path, store):
    tasks = [{"data": {"text": "rocket orbit planet"},
              "annotations": [{"result": [{"type": "choices", "value": {"choices": ["space"]}}]}]},
             {"data": {"text": "unknown text"},
              "annotations": [{"result": [{"type": "choices", "value": {"choices": ["space"]}}]}]},
             {"data": {"body": "striker penalty goal"},  # the text under the labeling config's own name
              "annotations": [{"was_cancelled": True, "result": [{"type": "choices", "value": {"choices": ["x"]}}]},
                              {"result": [{"type": "choices", "value": {"choices": ["football"]}}]}]},
             {"data": {"text": "comet galaxy nebula"}, "annotations": []}]
    f = tmp_path / "ls.json"
    f.write_text(json.dumps(tasks, indent=2))
    starts = [i + 1 for i, line in enumerate(f.read_text().splitlines()) if line == "  {"]
    assert [r.line for r in read_rows(f)] == starts
    r = import_file(store, f)
    assert store.labelled() == {0: "space", 2: "football"}
    assert r.problems == {"text not in the corpus": [1, starts[1]], "no choice annotation": [1, starts[3]]}
    f.write_text('[{"data": {"text": "a"}}, oops]')
    with pytest.raises(InputError, match="ls.json:1: invalid JSON"):
        read_rows(f)


def test_cli_export_and_import(tmp_path, store, capsys):
    from shoestring.cli import main

    store.label(0, "space", "a")
    store.label(2, "football", "a")
    db = str(store.path)
    assert main(["label", "export", db, "-o", str(tmp_path / "l.json"), "--format", "labelstudio"]) == 0
    assert "2 labelled documents (labelstudio)" in capsys.readouterr().out
    assert main(["label", "export", db, "-o", str(tmp_path / "l.json")]) == 2  # no overwrite without --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["label", "export", db, "-o", str(tmp_path / "l.csv"), "--format", "prodigy"]) == 2
    assert "cannot tell the prodigy export format from the name 'l.csv'" in capsys.readouterr().err
    fresh = make(tmp_path / "fresh.db")
    fresh.close()
    assert main(["label", "import", str(tmp_path / "fresh.db"), str(tmp_path / "l.json")]) == 0
    assert "2 matched documents of the corpus, 2 labels written" in capsys.readouterr().out
    assert LabelStore(tmp_path / "fresh.db").labelled() == {0: "space", 2: "football"}
    (tmp_path / "other.jsonl").write_text('{"text": "nothing like it", "label": "space"}\n')
    assert main(["label", "import", db, str(tmp_path / "other.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "not imported: 1 row (text not in the corpus), the first at line 1" in err and "no row" in err
