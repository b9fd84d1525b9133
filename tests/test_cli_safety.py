"""What a new user hit: row alignment, labels, file outputs, nonsense settings, closed pipes, full disks, leftovers."""

import errno
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import planted_docs, write_jsonl
from shoestring.cli import main

FAST = ["--latent-dim", "10", "--batch-size", "50", "--threads", "1", "--no-progress"]


def run(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("safety")
    write_jsonl(d / "train.jsonl", planted_docs(300))
    assert run("prepare", d / "train.jsonl", "-o", d / "prep") == 0
    assert run("pretrain", "vampire", d / "prep", "-o", d / "vae", "--max-epochs", "3", *FAST) == 0
    assert run("train", "classifier", d / "train.jsonl", "-o", d / "clf", "--vampire", d / "vae", "--max-epochs",
               "3", "--threads", "1", "--no-progress") == 0
    rows = planted_docs(10, seed=3)
    rows[3]["text"], rows[7]["text"] = "   ", ""
    write_jsonl(d / "holes.jsonl", rows)
    return d


# ------------------------------------------------------------------------------------ row alignment
def test_embed_keeps_empty_rows_as_flagged_zero_vectors(work, capsys):
    assert run("embed", work / "vae", work / "holes.jsonl", "-o", work / "e.npy") == 0
    X = np.load(work / "e.npy")
    assert X.shape[0] == 10 and not X[3].any() and not X[7].any() and X[0].any()
    assert "2 empty rows (first: row 4)" in capsys.readouterr().out
    assert run("embed", work / "vae", work / "holes.jsonl", "-o", work / "e.jsonl") == 0
    rows = [json.loads(x) for x in (work / "e.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and [i for i, r in enumerate(rows) if r.get("empty")] == [3, 7]
    np.testing.assert_allclose(np.array([r["vampire"] for r in rows]), X, atol=1e-5)


def test_predict_keeps_empty_rows_flagged(work, capsys):
    assert run("predict", work / "clf", work / "holes.jsonl", "-o", work / "p.jsonl") == 0
    rows = [json.loads(x) for x in (work / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and [i for i, r in enumerate(rows) if r.get("empty")] == [3, 7]
    assert all(r["predicted"] for r in rows)
    assert "2 empty texts" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ file outputs
def test_file_outputs_are_never_silently_replaced(work, capsys):
    out = work / "preds.jsonl"
    assert run("predict", work / "clf", work / "holes.jsonl", "-o", out) == 0
    before = out.read_bytes()
    assert run("predict", work / "clf", work / "train.jsonl", "-o", out) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before
    assert run("predict", work / "clf", work / "train.jsonl", "-o", out, "--overwrite") == 0
    assert len(out.read_text().splitlines()) == 300
    # the format follows the extension, or the command is refused before any work
    assert run("predict", work / "clf", work / "holes.jsonl", "-o", work / "p.npy") == 2
    assert "NAME.jsonl" in capsys.readouterr().err and not (work / "p.npy").exists()
    assert run("embed", work / "vae", work / "holes.jsonl", "-o", work / "e.txt") == 2
    (work / "m.json").write_text("{}")
    assert run("evaluate", work / "clf", work / "train.jsonl", "--json", work / "m.json") == 2
    assert (work / "m.json").read_text() == "{}"
    assert run("evaluate", work / "clf", work / "train.jsonl", "--json", work / "m.json", "--overwrite") == 0
    assert json.loads((work / "m.json").read_text())["n"] == 300
    capsys.readouterr()
    (work / "t.json").write_text("{}")
    assert run("topics", work / "vae", "--json", work / "t.json") == 2


# ------------------------------------------------------------------------------------ labels
def test_numeric_labels_are_one_class_each(tmp_path):
    from shoestring.data.readers import read_texts_labels

    write_jsonl(tmp_path / "n.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": 1.0},
                                       {"text": "c", "label": "1.0"}, {"text": "d", "label": 0},
                                       {"text": "e", "label": 0.0}, {"text": "f", "label": True},
                                       {"text": "g", "label": None}, {"text": "h", "label": 2.5}])
    _, labels, _ = read_texts_labels(tmp_path / "n.jsonl")
    assert labels == ["1", "1", "1", "0", "0", "true", None, "2.5"]
    (tmp_path / "n.csv").write_text("text,label\na,1\nb,1.0\nc,\nd, 0 \n")
    _, labels, _ = read_texts_labels(tmp_path / "n.csv")
    assert labels == ["1", "1", None, "0"]


@pytest.mark.parametrize("label,message", [("", "label' field is empty"), (["a"], "single value"),
                                           ({"x": 1}, "single value"), ("  ", "is empty")])
def test_bad_labels_are_errors_with_file_and_line(label, message, tmp_path, capsys):
    write_jsonl(tmp_path / "b.jsonl", [{"text": "orbit", "label": "space"}, {"text": "garlic", "label": label}])
    assert run("train", "classifier", tmp_path / "b.jsonl", "-o", tmp_path / "never") == 2
    err = capsys.readouterr().err
    assert "b.jsonl:2:" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()


def test_one_class_or_one_example_is_refused(tmp_path, capsys):
    from shoestring.errors import InputError
    from shoestring.tasks.classify.estimator import TextClassifier

    with pytest.raises(InputError, match="at least two classes"):
        TextClassifier(progress=False).fit(["a b", "c d", "e f"], [1, 1.0, "1"])
    with pytest.raises(InputError, match="at least 2"):
        TextClassifier(progress=False).fit(["a b"], ["x"])
    clf = TextClassifier(progress=False, max_epochs=1).fit(["orbit rocket", "garlic onion"] * 3, [1, 0.0] * 3)
    assert clf.classes_ == ["0", "1"]
    write_jsonl(tmp_path / "one.jsonl", [{"text": f"orbit {i}", "label": "space"} for i in range(5)])
    assert run("train", "classifier", tmp_path / "one.jsonl", "-o", tmp_path / "never") == 2
    assert "at least two classes" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ nonsense settings
@pytest.mark.parametrize("minutes,message", [("0", "must be > 0"), ("nan", "finite"), ("inf", "finite"),
                                             ("-1", "must be > 0")])
def test_nonsense_budgets_are_refused(work, minutes, message, capsys):
    assert run("pretrain", "vampire", work / "prep", "-o", work / "never", "--minutes", minutes, *FAST) == 2
    err = capsys.readouterr().err
    assert message in err and "--minutes" in err
    assert not (work / "never").exists()


def test_bench_labels_larger_than_train_split(tmp_path, capsys):
    data = tmp_path / "toy"
    data.mkdir()
    for split, n in (("train", 50), ("test", 20)):
        write_jsonl(data / f"{split}.jsonl.gz", planted_docs(n))
    assert run("bench", "fewshot", "--data", data, "--labels", "500", "--methods", "tfidf_lr",
               "--workdir", tmp_path / "w") == 2
    err = capsys.readouterr().err
    assert "--labels 500" in err and "50 rows of the train split" in err


def test_tiny_vocabulary_is_a_clear_error_before_training(work, tmp_path, capsys):
    assert run("prepare", work / "train.jsonl", "-o", tmp_path / "p1", "--max-vocab", "1") == 0
    assert run("pretrain", "vampire", tmp_path / "p1", "-o", tmp_path / "v1", *FAST) == 2
    err = capsys.readouterr().err
    assert "vocabulary has 1 word" in err and "--max-vocab" in err and "Traceback" not in err
    assert not (tmp_path / "v1").exists()


# ------------------------------------------------------------------------------------ pipes, disks, leftovers
def test_closed_pipe_exits_quietly(work):
    p = subprocess.Popen([sys.executable, "-m", "shoestring", "topics", str(work / "vae"), "-n", "300"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(10)
    p.stdout.close()  # as `| head -c 10` does
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_disk_full_during_prepare_keeps_the_earlier_folder(work, tmp_path, monkeypatch, capsys):
    import scipy.sparse as sp

    assert run("prepare", work / "train.jsonl", "-o", tmp_path / "p") == 0
    before = (tmp_path / "p" / "manifest.json").read_bytes()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sp, "save_npz", full)
    assert run("prepare", work / "train.jsonl", "-o", tmp_path / "p", "--overwrite", "--max-vocab", "20") == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "free disk space" in err and "Traceback" not in err
    assert (tmp_path / "p" / "manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p"]  # no temporary folder left behind


def test_stale_temporary_folders_are_cleaned_up(work, tmp_path, caplog):
    import os

    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    stale = tmp_path / f".p.tmp-{dead}-0badcafe"
    stale.mkdir()
    (stale / "train.npz").write_bytes(b"half")
    old_style = tmp_path / ".p.tmp-0badcafe"
    old_style.mkdir()
    os.utime(old_style, (0, 0))  # written long ago by an older version (no process id in its name)
    live = tmp_path / f".p.tmp-{os.getpid()}-1234abcd"  # a write in progress: left alone
    live.mkdir()
    with caplog.at_level("WARNING", logger="shoestring"):
        assert run("prepare", work / "train.jsonl", "-o", tmp_path / "p") == 0
    assert not stale.exists() and not old_style.exists() and live.exists()
    assert "left by an interrupted run" in caplog.text
