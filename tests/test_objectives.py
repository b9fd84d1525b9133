"""Masked-LM objectives as plug-ins: the registry, invalid combinations rejected, old configs still load, and
a new objective used without touching the learner."""

import json

import pytest

from shoestring.errors import ConfigError
from shoestring.learners.mlm.config import MLMConfig
from shoestring.learners.mlm.objectives import OBJECTIVES, get_objective, register_objective
from shoestring.learners.mlm.objectives.mlm import MaskedLMObjective
from test_mlm import small_corpus

pytest.importorskip("torch")


def test_unset_rates_resolve_per_objective():
    assert MLMConfig().validate().mask_rates() == (0.4, 0.4, True)  # the defaults as before
    assert MLMConfig(m_pred=0.15).validate().mask_rates() == (0.15, 0.15, True)  # m_corr follows m_pred
    assert MLMConfig(m_corr=0.2, m_pred=0.4, replace_rule=False).validate().mask_rates() == (0.2, 0.4, False)
    assert MLMConfig(objective="electra", m_pred=0.3).validate().mask_rates() == (0.3, 0.3, False)
    # explicit values electra honours anyway are fine
    assert MLMConfig(objective="electra", m_corr=0.3, m_pred=0.3, replace_rule=False).validate()


def test_electra_rejects_m_corr_other_than_m_pred_and_the_replace_rule():
    with pytest.raises(ConfigError, match=r"m-corr 0.15 and --m-pred 0.4.*\[MASK\] at every predicted position"
                                          r".*so m_corr is m_pred(.|\n)*hint: drop --m-corr"):
        MLMConfig(objective="electra", m_corr=0.15, m_pred=0.4).validate()
    with pytest.raises(ConfigError, match="80-10-10 rule does not apply"):
        MLMConfig(objective="electra", replace_rule=True).validate()


def test_cli_rejects_electra_with_m_corr_at_start_up(tmp_path, capsys):
    from shoestring.cli import main

    rc = main(["pretrain", "mlm", str(tmp_path / "missing-tokens"), "-o", str(tmp_path / "out"), "--objective",
               "electra", "--m-corr", "0.15", "--m-pred", "0.4", "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "m_corr is m_pred" in err and "drop --m-corr" in err
    assert not (tmp_path / "out").exists()


def test_unknown_objective_lists_the_known_ones():
    with pytest.raises(ConfigError, match="must be one of mlm, electra, continuous, mlm_simcse; got 'bogus'"):
        get_objective("bogus")
    with pytest.raises(ConfigError, match="mlm, electra, continuous, mlm_simcse"):
        MLMConfig(objective="bogus").validate()


def test_configs_saved_before_still_load():
    # every field concrete, as older versions wrote them: electra ignored m_corr and the replace rule
    old = {**MLMConfig().to_dict(), "objective": "electra", "m_corr": 0.4, "m_pred": 0.3, "replace_rule": True}
    assert MLMConfig.from_dict(old).mask_rates() == (0.3, 0.3, False)
    old_mlm = {**MLMConfig().to_dict(), "m_corr": 0.4, "replace_rule": True}
    assert MLMConfig.from_dict(old_mlm).mask_rates() == (0.4, 0.4, True)
    # a file that sets only m_corr cannot be such a save: it is checked as given
    with pytest.raises(ConfigError, match="m_corr is m_pred"):
        MLMConfig.from_dict({"objective": "electra", "m_corr": 0.15})


class ProbeObjective(MaskedLMObjective):
    """Masked-LM plus a metric of its own, defined outside the package."""

    def loss(self, module, tensors, ids):
        loss, metrics = super().loss(module, tensors, ids)
        return loss, {**metrics, "probe": 1.0}

    def evaluate(self, learner, n_sequences):
        return {**super().evaluate(learner, n_sequences), "valid_probe": 2.0}

    def describe(self, config):
        return "probe " + super().describe(config)


def test_a_registered_objective_trains_without_touching_the_learner(tmp_path):
    from shoestring.learners.mlm.estimator import MaskedLM

    with pytest.raises(TypeError):
        register_objective("probe", object)
    with pytest.raises(ValueError, match="already registered"):
        register_objective("mlm", ProbeObjective)
    register_objective("probe", ProbeObjective)
    try:
        corpus = small_corpus(tmp_path)
        kw = dict(preset=None, layers=1, hidden=32, heads=2, seq_len=16, batch_size=8, max_epochs=2, eval_every=4,
                  progress=False, seed=1, threads=1)
        probe = MaskedLM(objective="probe", **kw).fit(corpus)
        mlm = MaskedLM(objective="mlm", **kw).fit(corpus)
        assert all(h["train_probe"] == 1.0 and h["valid_probe"] == 2.0 for h in probe.history_)
        # the same objective under another name: the same numbers
        assert [h["train_loss"] for h in probe.history_] == [h["train_loss"] for h in mlm.history_]
        assert [h["valid_loss"] for h in probe.history_] == [h["valid_loss"] for h in mlm.history_]
        probe.save_pretrained(tmp_path / "probe")
        assert json.loads((tmp_path / "probe" / "config.json").read_text())["model_type"] == "bert"
        assert "probe masked-LM with m_corr = 0.4" in (tmp_path / "probe" / "README.md").read_text()
        assert MaskedLM.from_pretrained(tmp_path / "probe").config.objective == "probe"
    finally:
        OBJECTIVES.pop("probe", None)
