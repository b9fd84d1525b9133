import argparse
import json

import pytest

from shoestring.bench.config import FewshotConfig
from shoestring.data.cleanup import clean
from shoestring.errors import ConfigError
from shoestring.learners.vampire.config import VampireConfig
from shoestring.tasks.classify.config import ClassifierConfig


def test_cleanup_html_and_email():
    assert clean("Fed &quot;cuts&quot; rates #39;s<br />today", ["html"]) == 'Fed "cuts" rates \'s today'
    assert clean("From: a@b\nSubject: x\n\nthe body", ["email"]) == "the body"
    assert clean("no header here", ["email"]) == "no header here"
    assert clean("kept", [""]) == "kept"


def test_config_round_trip_and_unknown_keys(tmp_path):
    c = VampireConfig(latent_dim=20, hidden_dims=[20, 20]).validate()
    p = tmp_path / "c.json"
    p.write_text(json.dumps(c.to_dict()))
    assert VampireConfig.from_json(p) == c
    p.write_text(json.dumps({"latnet_dim": 5}))
    with pytest.raises(ConfigError, match="unknown VampireConfig setting.*latnet_dim"):
        VampireConfig.from_json(p)


def test_cli_options_come_from_the_config():
    parser = argparse.ArgumentParser()
    ClassifierConfig.add_arguments(parser)
    ns = parser.parse_args(["--encoder", "cnn", "--lr", "0.01", "--no-freeze-vampire"])
    c = ClassifierConfig.from_args(ns)
    assert (c.encoder, c.lr, c.freeze_vampire, c.batch_size) == ("cnn", 0.01, False, 32)
    with pytest.raises(SystemExit):
        parser.parse_args(["--encoder", "transformer"])


def test_bounds_and_fewshot_checks():
    with pytest.raises(ConfigError, match=r"lr \(--lr\) must be > 0"):
        ClassifierConfig(lr=-1.0).validate()
    with pytest.raises(ConfigError, match=r"lr \(--lr\) must be > 0"):
        ClassifierConfig(lr=0.0).validate()
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="finite"):
            ClassifierConfig(dropout=bad).validate()
    with pytest.raises(ConfigError, match="--data is required"):
        FewshotConfig().validate()
    with pytest.raises(ConfigError, match="unknown method"):
        FewshotConfig(data="x", methods=["bert"]).validate()
    with pytest.raises(ConfigError, match="--clean"):
        FewshotConfig(data="x", clean=["xml"]).validate()
