"""Fine-tuning a compact BERT for classification: learns a planted task, exports to transformers, CLI."""

import json

import numpy as np
import pytest
import torch

from conftest import write_jsonl
from shoestring.data.config import TokensConfig
from shoestring.data.tokens import prepare_tokens
from shoestring.learners.mlm.estimator import MaskedLM
from shoestring.tasks.classify.finetune import BertClassifier

TOPICS = {"pets": "cat dog mat park ball leash puppy kitten", "weather": "rain hills storm cloud wind snow sun fog"}


def planted(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = ["pets", "weather"][i % 2]
        rows.append({"text": " ".join(rng.choice(TOPICS[label].split(), 6)), "label": label})
    return rows


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ft")
    write_jsonl(d / "train.jsonl", planted(200, 0))
    write_jsonl(d / "test.jsonl", planted(40, 1))
    corpus = prepare_tokens(d / "train.jsonl", d / "tok", TokensConfig(vocab_size=60, min_frequency=1),
                            progress=False)
    MaskedLM(preset=None, layers=1, hidden=32, heads=2, seq_len=16, batch_size=8, max_epochs=2,
             progress=False).fit(corpus).save_pretrained(d / "lm")
    return d


def test_fine_tuning_learns_and_exports_to_transformers(lm_dir, tmp_path):
    transformers = pytest.importorskip("transformers")
    train, test = planted(60, 2), planted(40, 1)
    # dropout 0: a 32-wide one-layer model on 54 examples is at the edge of learning with BERT's 0.1, and
    # its result then depends on the thread count other tests left behind
    clf = BertClassifier(mlm=lm_dir / "lm", lr=1e-3, max_epochs=15, batch_size=8, dropout=0.0, progress=False,
                         seed=0)
    clf.fit([r["text"] for r in train], [r["label"] for r in train])
    assert clf.evaluate([r["text"] for r in test], [r["label"] for r in test])["accuracy"] > 0.9
    clf.save_pretrained(tmp_path / "clf")
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "clf")).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "clf"))
    texts = [r["text"] for r in test[:5]]
    with torch.no_grad():
        ref = torch.softmax(hf(**tok(texts, padding=True, return_tensors="pt")).logits, -1).numpy()
    np.testing.assert_allclose(clf.predict_proba(texts), ref, atol=1e-5)
    assert hf.config.id2label[0] == "pets"
    again = BertClassifier.from_pretrained(tmp_path / "clf")
    np.testing.assert_allclose(again.predict_proba(texts), ref, atol=1e-5)
    # the pre-trained model itself was not changed by fine-tuning
    a = MaskedLM.from_pretrained(lm_dir / "lm").model_.state_dict()
    assert all(torch.equal(a[k], v) for k, v in clf.lm_.model_.state_dict().items())


def test_cli_finetune_predict_evaluate_embed(lm_dir, tmp_path, capsys):
    from shoestring.cli import main

    assert main(["train", "finetune", str(lm_dir / "train.jsonl"), "-o", str(tmp_path / "clf"), "--mlm",
                 str(lm_dir / "lm"), "--max-epochs", "3", "--lr", "1e-3", "--no-progress"]) == 0
    assert "2 classes" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "clf"), str(lm_dir / "test.jsonl"), "-o", str(tmp_path / "p.jsonl")]) == 0
    rows = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and {"predicted", "probability"} <= set(rows[0])
    assert main(["evaluate", str(tmp_path / "clf"), str(lm_dir / "test.jsonl")]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["embed", str(lm_dir / "lm"), str(lm_dir / "test.jsonl"), "-o", str(tmp_path / "e.npy")]) == 0
    assert np.load(tmp_path / "e.npy").shape == (40, 32)
    # a checkpoint that is not a BERT: a clear error, exit 2
    assert main(["train", "finetune", str(lm_dir / "train.jsonl"), "-o", str(tmp_path / "x"), "--mlm",
                 str(tmp_path / "clf" / "nothing")]) == 2
