"""Every CLI command end to end on a tiny planted corpus, and the CLI's handling of bad input."""

import json

import numpy as np
import pytest

from conftest import planted_docs, write_jsonl
from shoestring.cli import main

FAST = ["--latent-dim", "10", "--hidden-dims", "10", "10", "--batch-size", "50", "--lr", "5e-3",
        "--kl-warmup", "10", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    write_jsonl(d / "train.jsonl", planted_docs(400))
    write_jsonl(d / "test.jsonl", planted_docs(60, seed=7))
    write_jsonl(d / "unlabeled.jsonl", [{"text": r["text"]} for r in planted_docs(100, seed=8)])
    return d


def run(*args) -> int:
    return main([str(a) for a in args])


def test_pipeline(work, capsys):
    assert run("prepare", work / "train.jsonl", "-o", work / "prep", "--stopwords", "en") == 0
    assert "360 training + 40 reference documents, V = " in capsys.readouterr().out  # 400 docs, 10% held out
    assert run("pretrain", "vampire", work / "prep", "-o", work / "vae", "--max-epochs", "15", *FAST) == 0
    out = capsys.readouterr().out
    assert "best NPMI" in out and (work / "vae" / "model.safetensors").exists()
    assert not (work / "vae.checkpoint").exists()

    assert run("topics", work / "vae", "--data", work / "prep", "--json", work / "topics.json") == 0
    out = capsys.readouterr().out
    assert "mean NPMI" in out and "topic diversity" in out
    assert len(json.loads((work / "topics.json").read_text())["topics"]) == 10

    assert run("report", work / "vae", "-o", work / "report.html") == 0
    html = (work / "report.html").read_text()
    assert "<svg" in html and "orbit" in html and "https://" not in html

    assert run("embed", work / "vae", work / "test.jsonl", "-o", work / "emb.npy") == 0
    assert np.load(work / "emb.npy").shape == (60, 10)
    assert run("embed", work / "vae", work / "test.jsonl", "-o", work / "emb.jsonl") == 0
    rows = [json.loads(x) for x in (work / "emb.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and len(rows[0]["vampire"]) == 10 and rows[0]["label"]
    assert "documents/s" in capsys.readouterr().out

    assert run("train", "classifier", work / "train.jsonl", "-o", work / "clf", "--vampire", work / "vae",
               "--unlabeled", work / "unlabeled.jsonl", "--max-epochs", "8", "--threads", "1", "--no-progress",
               "--dev", work / "test.jsonl") == 0
    assert "dev accuracy" in capsys.readouterr().out
    assert run("train", "classifier", work / "train.jsonl", "-o", work / "clf0", "--encoder", "cnn",
               "--max-epochs", "3", "--threads", "1", "--no-progress") == 0

    assert run("predict", work / "clf", work / "test.jsonl", "-o", work / "pred.jsonl") == 0
    preds = [json.loads(x) for x in (work / "pred.jsonl").read_text().splitlines()]
    assert len(preds) == 60 and {"predicted", "probability", "label"} <= set(preds[0])
    assert np.mean([p["predicted"] == p["label"] for p in preds]) > 0.9

    assert run("evaluate", work / "clf", work / "test.jsonl", "--json", work / "m.json") == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "confusion" in out
    assert json.loads((work / "m.json").read_text())["accuracy"] > 0.9
    # embed through the classifier's fine-tuned VAMPIRE (its learned scalar mix)
    assert run("embed", work / "clf", work / "test.jsonl", "-o", work / "emb2.npy") == 0


def test_resume_and_overwrite_rules(work, capsys):
    args = ["pretrain", "vampire", work / "prep2", "-o", work / "vae2", "--max-epochs", "2", *FAST]
    assert run("prepare", work / "train.jsonl", "-o", work / "prep2") == 0
    assert run(*args) == 0
    assert run(*args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run(*args, "--overwrite") == 0
    # an interrupted run leaves a checkpoint; --resume continues it to the new max-epochs
    from shoestring.learners.vampire.estimator import VAMPIRE

    ckpt = work / "vae3.checkpoint"
    VAMPIRE(latent_dim=10, hidden_dims=[10, 10], batch_size=50, max_epochs=2, progress=False).fit(
        work / "prep2", checkpoint_dir=ckpt)
    assert run("pretrain", "vampire", work / "prep2", "-o", work / "vae3", "--resume", "--max-epochs", "4",
               "--latent-dim", "10", "--hidden-dims", "10", "10", "--batch-size", "50", "--no-progress") == 0
    log = json.loads((work / "vae3" / "training_log.json").read_text())
    assert [h["epoch"] for h in log["history"]] == [1, 2, 3, 4]


def test_bad_input_exits_2_with_file_and_line(work, capsys):
    bad = work / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": oops}\n', encoding="utf-8")
    assert run("prepare", bad, "-o", work / "never") == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2: bad JSON" in err and "Traceback" not in err
    assert not (work / "never").exists()
    partial = work / "partial.jsonl"
    write_jsonl(partial, [{"text": "orbit", "label": "space"}, {"text": "garlic"}])
    assert run("train", "classifier", partial, "-o", work / "never") == 2
    assert "partial.jsonl:2: this training row has no 'label'" in capsys.readouterr().err
    assert run("pretrain", "vampire", work / "prep", "-o", work / "x", "--latent-dim", "5", "--hidden-dims", "10") == 2
    assert "--hidden-dims" in capsys.readouterr().err
    assert run("topics", work / "nope") == 2


def test_unseen_test_label(work, capsys):
    write_jsonl(work / "weird.jsonl", [{"text": "orbit rocket", "label": "weather"}])
    assert run("evaluate", work / "clf", work / "weird.jsonl") == 2
    assert "never seen in training" in capsys.readouterr().err
    assert run("evaluate", work / "clf", work / "weird.jsonl", "--unseen-labels", "count") == 0


def test_bench_fewshot_writes_json_and_table(work, tmp_path, capsys):
    data = tmp_path / "toy"
    data.mkdir()
    for split, n, seed in (("train", 300, 1), ("test", 100, 2)):
        write_jsonl(data / f"{split}.jsonl.gz", planted_docs(n, seed=seed))
    assert run("bench", "fewshot", "--data", data, "--labels", "20", "--seeds", "0", "1", "--methods", "vampire",
               "no_pretraining", "tfidf_lr", "--vampire-epochs", "5", "--workdir", tmp_path / "w", "--threads", "1",
               "--json", tmp_path / "r.json", "--markdown", tmp_path / "r.md") == 0
    res = json.loads((tmp_path / "r.json").read_text())
    methods = {r["method"] for r in res["records"]}
    assert methods == {"vampire", "no_pretraining", "tfidf_lr"}
    for r in res["records"]:
        assert r["n_labels"] == 20 and r["seeds"] == [0, 1] and 0 <= r["accuracy_mean"] <= 1
        assert "accuracy_std" in r and "macro_f1_mean" in r and r["n_test"] == 100
    assert "| toy | 20 |" in (tmp_path / "r.md").read_text()


def test_model_and_corpus_with_different_vocabularies_are_refused(work, capsys):
    write_jsonl(work / "other.jsonl", [{"text": "violin melody chord " * 3}] * 5 + [{"text": "orbit comet"}] * 5)
    assert run("prepare", work / "other.jsonl", "-o", work / "other_prep", "--min-df", "1") == 0
    assert run("topics", work / "vae", "--data", work / "other_prep") == 2
    assert "another vocabulary" in capsys.readouterr().err
