"""The continuous-output masked-LM objective (ELMo-C's output layer on a compact BERT): it learns, every loss
trains, the target table is the corpus's piece vectors, the export is a BertModel, and bad settings fail early."""

import json

import numpy as np
import pytest
import torch

from shoestring.errors import ConfigError, InputError
from shoestring.learners.mlm.config import MLMConfig
from shoestring.learners.mlm.estimator import MaskedLM
from shoestring.training.callbacks import Callback
from test_mlm import SENTENCES, small_corpus

KW = dict(preset=None, layers=2, hidden=64, heads=2, seq_len=32, batch_size=8, objective="continuous",
          targets_dim=8, eval_every=10_000, progress=False, threads=1)


def test_tiny_model_learns_to_point_at_the_masked_piece(tmp_path):
    corpus = small_corpus(tmp_path, docs=[SENTENCES[i % 5] for i in range(400)])  # 8 held-out documents
    lm = MaskedLM(lr=3e-3, max_epochs=30, m_corr=0.15, m_pred=0.15, seed=0, **KW).fit(corpus)
    first, last = lm.history_[0], lm.history_[-1]
    # five sentences repeated: every masked piece is recoverable from its context, and the nearest neighbour of
    # the predicted vector among the corpus's piece vectors becomes the true piece
    assert last["train_loss"] < 0.2 * first["train_loss"]
    # (the 8 held-out documents have 7 masked pieces: one miss is 0.86; the tokenizer's training, and so the
    # piece ids, vary between runs)
    assert first["valid_top1"] < 0.5 and last["valid_top1"] > 0.8 and last["valid_mean_rank"] < 1.5
    t = lm.training_
    assert "PPMI-SVD piece vectors (8-d)" in t["targets"] and t["targets_seconds"] >= 0
    # the frozen table is the pieces' vectors: pieces that occur get table rows, specials fixed random ones
    assert "table" in t["targets"] and "5 special" in t["targets"]


@pytest.mark.parametrize("loss", ["max_margin", "vmf"])
def test_the_other_losses_train(tmp_path, loss):
    corpus = small_corpus(tmp_path)
    lm = MaskedLM(lr=3e-3, max_epochs=15, seed=0, continuous_loss=loss, **KW).fit(corpus)
    losses = [h["train_loss"] for h in lm.history_]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert lm.history_[-1]["valid_mean_rank"] < lm.history_[0]["valid_mean_rank"]


def test_export_is_a_bert_model_that_transformers_and_shoestring_load_alike(tmp_path):
    transformers = pytest.importorskip("transformers")
    corpus = small_corpus(tmp_path)
    lm = MaskedLM(max_epochs=2, seed=0, **KW).fit(corpus)
    lm.save_pretrained(tmp_path / "c")
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    assert cfg["architectures"] == ["BertModel"]  # no softmax head was trained, none is exported
    from safetensors.torch import load_file

    assert not any(k.startswith(("cls.", "bert.")) for k in load_file(str(tmp_path / "c" / "model.safetensors")))
    assert "continuous-output masked-LM" in (tmp_path / "c" / "README.md").read_text()
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "c"))
    hf = transformers.AutoModel.from_pretrained(str(tmp_path / "c")).eval()
    enc = tok(SENTENCES[:3], padding=True, return_tensors="pt")
    keep = enc["attention_mask"].bool()
    with torch.no_grad():
        torch.testing.assert_close(lm.model_.encode(enc["input_ids"], pad=~keep)[keep],
                                   hf(**enc).last_hidden_state[keep], atol=1e-5, rtol=1e-5)
    again = MaskedLM.from_pretrained(tmp_path / "c")
    assert again.config.objective == "continuous" and again.config.targets_dim == 8
    np.testing.assert_array_equal(again.transform(SENTENCES), lm.transform(SENTENCES))
    # saved again from the loaded encoder: still a BertModel, not a masked-LM with an untrained head
    again.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["architectures"] == ["BertModel"]


def test_resume_equals_uninterrupted_with_the_same_targets(tmp_path):
    corpus = small_corpus(tmp_path)
    kw = {**KW, "layers": 1, "hidden": 32, "max_epochs": 3, "seed": 3}
    a = MaskedLM(**kw).fit(corpus)

    class Interrupt(Callback):
        def on_step_end(self, state, loss):
            if state.step == 2 * state.steps_per_epoch + 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        MaskedLM(**kw).fit(corpus, checkpoint_dir=tmp_path / "ck", callbacks=[Interrupt()])
    b = MaskedLM(**kw).fit(corpus, checkpoint_dir=tmp_path / "ck", resume=True)
    assert b.history_[-1]["train_loss"] == pytest.approx(a.history_[-1]["train_loss"], rel=1e-5)
    assert b.history_[-1]["valid_mean_rank"] == pytest.approx(a.history_[-1]["valid_mean_rank"])


def test_bad_settings_fail_before_training(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"--continuous-loss, --targets-dim only apply to other objectives than "
                                          r"--objective mlm"):
        MLMConfig(continuous_loss="cosine", targets_dim=50).validate()
    with pytest.raises(ConfigError, match="--targets-dim"):
        MLMConfig(objective="electra", targets_dim=50).validate()
    with pytest.raises(ConfigError, match="continuous_loss"):
        MLMConfig(objective="continuous", continuous_loss="euclid").validate()
    assert MLMConfig(objective="continuous", continuous_loss="vmf", targets_dim=300).validate()
    # a target width the corpus cannot give: a clear error naming the corpus and the fix, nothing written
    corpus = small_corpus(tmp_path)
    with pytest.raises(InputError, match=r"target vectors \(PPMI-SVD of the corpus's pieces, d = 100\) cannot be "
                                         r"fitted(.|\n)*lower --targets-dim"):
        MaskedLM(**{**KW, "targets_dim": None}).fit(corpus)
    from shoestring.cli import main

    rc = main(["pretrain", "mlm", str(tmp_path / "tok"), "-o", str(tmp_path / "out"), "--continuous-loss",
               "vmf", "--no-progress"])
    assert rc == 2 and "only apply to other objectives" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_word_vectors_from_tokens_equal_those_from_texts():
    from shoestring.data.tokenizer import WORD_TOKENIZER, Tokenizer
    from shoestring.learners.vectors.ppmi import WordVectors

    texts = [SENTENCES[i % 5] + " " + SENTENCES[(3 * i) % 5] for i in range(40)]
    a = WordVectors(dim=4, min_count=1).fit(texts)
    tok = Tokenizer(WORD_TOKENIZER)
    b = WordVectors(dim=4, min_count=1).fit_tokens([tok(t) for t in texts])
    assert a.vocab_.tokens == b.vocab_.tokens
    np.testing.assert_array_equal(a.vectors_, b.vectors_)


# ------------------------------------------------------------------------------------------------ mlm_simcse
def test_fragment_means_pool_each_document_inside_each_sequence():
    from shoestring.learners.mlm.objectives.mlm_simcse import fragment_means

    h = torch.arange(2 * 8 * 3, dtype=torch.float32).reshape(2, 8, 3)
    # sequence 0 holds the end of document 4 and all of document 5; sequence 1 the rest of 5 (1 token) and 6
    segments = torch.tensor([[4, 4, 4, 4, 5, 5, 5, 5], [5, 6, 6, 6, 6, 6, 6, 6]])
    z = fragment_means(h, segments, min_tokens=2)
    expected = torch.stack([h[0, :4].mean(0), h[0, 4:].mean(0), h[1, 1:].mean(0)])  # the 1-token fragment left out
    torch.testing.assert_close(z, expected)
    assert fragment_means(h, segments, min_tokens=1).shape == (4, 3)
    torch.testing.assert_close(fragment_means(h, None), h.mean(1))  # --cross-document: whole sequences


def test_mlm_and_simcse_jointly_lower_both_losses_and_export_a_masked_lm(tmp_path):
    transformers = pytest.importorskip("transformers")
    docs = [SENTENCES[i % 5] for i in range(60)] + ["the park has green hills and red balls"] * 4
    corpus = small_corpus(tmp_path, docs=docs)
    lm = MaskedLM(preset=None, layers=2, hidden=64, heads=2, seq_len=32, batch_size=8, lr=3e-3, max_epochs=30,
                  objective="mlm_simcse", dropout=0.1, eval_every=10_000, progress=False, threads=1,
                  seed=0).fit(corpus)
    first, last = lm.history_[0], lm.history_[-1]
    assert first["train_fragments"] >= 8  # documents of 7-10 tokens, 32-token sequences, 8 sequences a batch
    assert last["train_mlm_loss"] < 0.6 * first["train_mlm_loss"]
    assert last["train_contrastive_loss"] < 0.6 * first["train_contrastive_loss"]
    assert last["train_loss"] == pytest.approx(last["train_mlm_loss"] + last["train_contrastive_loss"], rel=1e-4)
    lm.save_pretrained(tmp_path / "j")
    assert json.loads((tmp_path / "j" / "config.json").read_text())["architectures"] == ["BertForMaskedLM"]
    assert "masked-LM and SimCSE jointly" in (tmp_path / "j" / "README.md").read_text()
    hf = transformers.AutoModelForMaskedLM.from_pretrained(str(tmp_path / "j")).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "j"))
    enc = tok(SENTENCES[:2], padding=True, return_tensors="pt")
    keep = enc["attention_mask"].bool()
    with torch.no_grad():
        torch.testing.assert_close(lm.model_.mlm_logits(lm.model_.encode(enc["input_ids"], pad=~keep))[keep],
                                   hf(**enc).logits[keep], atol=1e-4, rtol=1e-4)
    with pytest.raises(ConfigError, match="--simcse-weight only apply to other objectives"):
        MLMConfig(simcse_weight=0.5).validate()
