import gzip
import json

import pytest

from shoestring.data.readers import ReadStats, read_documents, read_texts_labels
from shoestring.errors import InputError


def test_jsonl_gz_keeps_extra_fields_and_skips_empty(tmp_path):
    p = tmp_path / "c.jsonl.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"text": "hello world", "label": "a", "id": 7}) + "\n")
        f.write(json.dumps({"text": "   ", "label": "b"}) + "\n")
        f.write("\n")
        f.write(json.dumps({"text": "no label here"}) + "\n")
    stats = ReadStats()
    docs = list(read_documents(p, stats=stats))
    assert [d.text for d in docs] == ["hello world", "no label here"]
    assert docs[0].label == "a" and docs[0].extra == {"id": 7} and docs[1].label is None
    assert (stats.documents, stats.skipped_empty, stats.labeled) == (2, 1, 1)
    assert stats.first_empty.endswith(":2")


def test_csv_tsv_txt_and_folder(tmp_path):
    (tmp_path / "a.csv").write_text('text,label,source\n"one, two",x,web\nthree,,mail\n', encoding="utf-8")
    docs = list(read_documents(tmp_path / "a.csv"))
    assert [(d.text, d.label, d.extra) for d in docs] == [("one, two", "x", {"source": "web"}),
                                                         ("three", None, {"source": "mail"})]
    (tmp_path / "a.tsv").write_text("label\ttext\ny\tfour five\n", encoding="utf-8")
    assert [(d.text, d.label) for d in read_documents(tmp_path / "a.tsv")] == [("four five", "y")]
    (tmp_path / "a.txt").write_text("first doc\n\nsecond doc\n", encoding="utf-8")
    assert [d.text for d in read_documents(tmp_path / "a.txt")] == ["first doc", "second doc"]
    folder = tmp_path / "corpus"
    (folder / "sports").mkdir(parents=True)
    (folder / "sports" / "1.txt").write_text("a match", encoding="utf-8")
    (folder / "loose.txt").write_text("no class", encoding="utf-8")
    texts, labels, _ = read_texts_labels(folder)
    assert sorted(zip(texts, labels), key=str) == sorted([("a match", "sports"), ("no class", None)], key=str)


def test_invalid_utf8_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: invalid UTF-8"):
        list(read_documents(p))


def test_bad_json_names_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "ok"}\n{"text": "unterminated}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2: bad JSON"):
        list(read_documents(p))


def test_missing_text_field(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"c.jsonl:1: missing the text field 'text' \(fields: body\)") as e:
        list(read_documents(p))
    assert "--text-field" in str(e.value)
    assert [d.text for d in read_documents(p, text_field="body")] == ["x"]


def test_csv_without_text_column_and_ragged_rows(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("body,label\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column 'text'"):
        list(read_documents(p))
    p.write_text("text,label\nx,y,z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c.csv:2: expected 2 columns"):
        list(read_documents(p))


def test_unknown_extension_and_missing_file(tmp_path):
    p = tmp_path / "c.xml"
    p.write_text("<x/>", encoding="utf-8")
    with pytest.raises(InputError, match="--format"):
        list(read_documents(p))
    with pytest.raises(InputError, match="no such file"):
        list(read_documents(tmp_path / "nope.jsonl"))


def test_truncated_gzip(tmp_path):
    p = tmp_path / "c.jsonl.gz"
    data = gzip.compress(("\n".join(json.dumps({"text": f"doc {i}"}) for i in range(2000))).encode())
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read the file"):
        list(read_documents(p))
