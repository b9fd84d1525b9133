"""Output layers of a word-level LM (ELMo-C): the vMF normaliser, every loss's gradient, learning on planted data,
sampled softmax against the full one, and target tables with sub-word vectors for words outside them."""

import math
import string

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import ive

from shoestring.errors import ConfigError, InputError
from shoestring.learners.lm.outputs import (AdaptiveSoftmax, CandidateSampler, ContinuousOutput, FullSoftmax,
                                            SampledSoftmax, default_cutoffs)
from shoestring.learners.lm.targets import SubwordEmbeddings, TargetEmbeddings, char_ngrams
from shoestring.learners.lm.vmf import bessel_ratio, log_cmk


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tensors are tiny: a second thread only adds synchronization, and waits on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------- vMF normaliser
def direct_log_cmk(kappa, m):
    """log C_m(κ) straight from its definition, scipy in float64 (I_v(κ) = ive(v, κ) e^κ)."""
    v = m / 2 - 1
    return v * np.log(kappa) - (m / 2) * np.log(2 * np.pi) - (np.log(ive(v, kappa)) + kappa)


@pytest.mark.parametrize("m", [2, 3, 10, 50])
def test_log_cmk_and_its_gradient_match_a_direct_computation(m):
    kappa = np.logspace(-3, 3, 31)
    k = torch.tensor(kappa, requires_grad=True)
    out = log_cmk(k, m)
    out.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), direct_log_cmk(kappa, m), rtol=1e-11, atol=1e-11)
    h = 1e-4 * np.maximum(kappa, 1.0)  # central differences: small enough for truncation, large for round-off
    numeric = (direct_log_cmk(kappa + h, m) - direct_log_cmk(kappa - h, m)) / (2 * h)
    np.testing.assert_allclose(k.grad.numpy(), numeric, rtol=1e-5, atol=1e-10)


def test_log_cmk_at_m300_is_finite_decreasing_with_a_bessel_ratio_gradient():
    kappa = torch.logspace(-3, 4, 400, dtype=torch.float64, requires_grad=True)
    out = log_cmk(kappa, 300)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(kappa.grad).all()
    # d/dκ log C_m = -I_150/I_149 in (-1, 0): log C_m decreases, and near κ = 0 slopes like -κ/m
    assert (kappa.grad <= 0).all() and (kappa.grad > -1).all()
    assert (out.diff() < 0).all()
    assert kappa.grad[0].item() == pytest.approx(-1e-3 / 300, rel=1e-3)
    # float32 in, float32 out: computed in float64 inside
    k32 = torch.logspace(-3, 4, 50, requires_grad=True)
    log_cmk(k32, 300).sum().backward()
    assert k32.grad.dtype == torch.float32 and torch.isfinite(k32.grad).all()


def test_log_cmk_at_m300_against_mpmath_including_where_ive_underflows():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    kappa = [1e-3, 0.1, 1.0, 2.0, 5.0, 50.0, 700.0, 1e4]  # below ~2.4 ive(149, κ) underflows: the expansion runs
    ours = log_cmk(torch.tensor(kappa, dtype=torch.float64), 300).numpy()
    ref = [float(149 * mpmath.log(k) - 150 * mpmath.log(2 * mpmath.pi) - mpmath.log(mpmath.besseli(149, k)))
           for k in kappa]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    ratio = bessel_ratio(149, np.array(kappa))
    np.testing.assert_allclose(ratio, [float(mpmath.besseli(150, k) / mpmath.besseli(149, k)) for k in kappa],
                               rtol=1e-12)


def test_log_cmk_at_zero_is_one_over_the_sphere_area_and_the_approximation_tracks_the_exact_gradient():
    m = 300
    zero = log_cmk(torch.zeros(1, dtype=torch.float64), m).item()
    assert zero == pytest.approx(math.lgamma(m / 2) - math.log(2) - (m / 2) * math.log(math.pi), abs=1e-9)
    k = torch.logspace(-3, 4, 200, dtype=torch.float64, requires_grad=True)
    log_cmk(k, m, approximate=True).sum().backward()
    exact = -bessel_ratio(m / 2 - 1, k.detach().numpy())
    np.testing.assert_allclose(k.grad.numpy(), exact, rtol=1e-3)  # Kumar & Tsvetkov's bound: within 0.04% here
    assert log_cmk(torch.zeros(1, dtype=torch.float64), m, approximate=True).item() == pytest.approx(zero)


# ---------------------------------------------------------------------------------------------- gradients
V_SMALL, H_SMALL, N_SMALL = 12, 8, 6


def _small_case(seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(N_SMALL, H_SMALL, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randint(V_SMALL, (N_SMALL,), generator=g)
    E = torch.randn(V_SMALL, 5, dtype=torch.float64, generator=g)
    return h, t, E


def _loss_fns():
    """name -> (layer, targets) -> function of the hidden states, deterministic (samples fixed)."""
    def sampled(layer, t):
        ids, tries = layer.sampler.sample(layer.num_samples)
        t = t.clone()
        t[0] = int(ids[0])  # an accidental hit, so its removal is checked too
        return lambda h: layer.sampled_loss(h, t, ids, tries)

    def margin_sampled(layer, t):
        negatives = torch.tensor([0, 3, 5, 7, 11])
        return lambda h: layer.losses(layer.predict(h), t, negatives).mean()

    plain = lambda layer, t: (lambda h: layer(h, t))  # noqa: E731
    return {
        "full": (lambda E: FullSoftmax(H_SMALL, V_SMALL), plain),
        "adaptive": (lambda E: AdaptiveSoftmax(H_SMALL, V_SMALL, cutoffs=[4, 8], div_value=2.0), plain),
        "sampled": (lambda E: SampledSoftmax(H_SMALL, V_SMALL, num_samples=6), sampled),
        "cosine": (lambda E: ContinuousOutput(H_SMALL, E, "cosine"), plain),
        "max_margin_all": (lambda E: ContinuousOutput(H_SMALL, E, "max_margin", negatives=None), plain),
        "max_margin_sampled": (lambda E: ContinuousOutput(H_SMALL, E, "max_margin"), margin_sampled),
        "vmf": (lambda E: ContinuousOutput(H_SMALL, E, "vmf"), plain),
        "vmf_regularized": (lambda E: ContinuousOutput(H_SMALL, E, "vmf", lambda1=0.02, lambda2=0.1), plain),
        "vmf_approx": (lambda E: ContinuousOutput(H_SMALL, E, "vmf", log_normalizer="approx"), plain),
    }


@pytest.mark.parametrize("name", list(_loss_fns()))
def test_gradcheck_every_loss(name):
    torch.manual_seed(0)
    h, t, E = _small_case()
    make, wrap = _loss_fns()[name]
    layer = make(E).double()
    fn = wrap(layer, t)
    assert torch.isfinite(fn(h))
    assert torch.autograd.gradcheck(fn, (h,), eps=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------- learning
V_PLANT, C_PLANT, D_PLANT = 50, 64, 16


def _planted(n, seed, protos):
    """Planted (context -> word) data: word w's contexts scatter around its own random prototype. With more
    context dimensions than words the prototypes are linearly independent, so a linear map can send them to any
    target table, and any function of w (a frequency cluster included) is linearly decodable."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randint(V_PLANT, (n,), generator=g)
    return protos[w] + 0.3 * torch.randn(n, C_PLANT, generator=g), w


LAYERS = {
    "full": lambda E: FullSoftmax(C_PLANT, V_PLANT),
    "adaptive": lambda E: AdaptiveSoftmax(C_PLANT, V_PLANT),
    "sampled": lambda E: SampledSoftmax(C_PLANT, V_PLANT, num_samples=10),
    "cosine": lambda E: ContinuousOutput(C_PLANT, E, "cosine"),
    "max_margin": lambda E: ContinuousOutput(C_PLANT, E, "max_margin", negatives=10),
    "vmf": lambda E: ContinuousOutput(C_PLANT, E, "vmf"),
    "vmf_regularized": lambda E: ContinuousOutput(C_PLANT, E, "vmf", lambda1=0.02, lambda2=0.1),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_each_output_layer_learns_planted_words(name):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(V_PLANT, C_PLANT, generator=g)
    E = F.normalize(torch.randn(V_PLANT, D_PLANT, generator=g), dim=1)
    encoder = torch.nn.Linear(C_PLANT, C_PLANT)  # the tiny linear map standing in for an LM encoder
    out = LAYERS[name](E)
    opt = torch.optim.Adam([*encoder.parameters(), *out.parameters()], lr=1e-2)
    losses = []
    for step in range(200):
        x, w = _planted(64, 1000 + step, protos)
        loss = out(encoder(x), w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.02
    out.eval()
    x, w = _planted(500, 1, protos)
    ranks = out.rank(encoder(x), w)
    assert (ranks == 1).float().mean().item() >= 0.95  # the right word first (nearest neighbour / most probable)


def test_rank_on_a_hand_computed_example():
    layer = FullSoftmax(2, 3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[3.0, 0.0], [1.0, 0.0], [2.0, 0.0]]))
        layer.linear.bias.zero_()
    h = torch.tensor([[1.0, 0.0]] * 3)  # logits (3, 1, 2) for every row
    assert layer.rank(h, torch.tensor([0, 1, 2]), batch_size=2).tolist() == [1, 3, 2]


def test_the_continuous_output_trains_only_its_projection():
    h, d, V = 64, 30, 1000
    E = torch.randn(V, d)
    out = ContinuousOutput(h, E, "vmf")
    assert out.trainable_parameters() == h * d + d  # P and its bias: nothing that grows with V
    assert [n for n, _ in out.named_parameters()] == ["projection.weight", "projection.bias"]
    assert dict(out.named_buffers())["embeddings"].shape == (V, d)
    assert FullSoftmax(h, V).trainable_parameters() == V * (h + 1)
    assert SampledSoftmax(h, V, num_samples=10).trainable_parameters() == V * (h + 1)
    before = out.embeddings.clone()
    opt = torch.optim.SGD(out.parameters(), lr=1.0)
    out(torch.randn(8, h), torch.randint(V, (8,))).backward()
    opt.step()
    assert torch.equal(out.embeddings, before)  # the table is frozen
    torch.testing.assert_close(out.embeddings.norm(dim=1), torch.ones(V))  # and stored with unit rows


# ---------------------------------------------------------------------------------------------- sampled softmax
def test_sampled_softmax_with_k_equal_to_V_approaches_the_full_softmax():
    torch.manual_seed(0)
    V, H, N = 50, 8, 32
    layer = SampledSoftmax(H, V, num_samples=V).double()
    with torch.no_grad():
        layer.weight.weight.mul_(4)  # a peaked distribution, so a bad estimate would show
    h = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    t = torch.randint(V, (N,))
    layer.eval()
    full = layer(h, t)  # evaluation: the full softmax
    (g_full,) = torch.autograd.grad(full, h)
    assert full.item() == pytest.approx(F.cross_entropy(layer.logits(h), t).item())
    with torch.no_grad():  # evaluation without gradients goes in row chunks: the same number
        assert layer.full_loss(h, t, batch_size=5).item() == pytest.approx(full.item())

    def estimate(k, repeats=20):
        layer.train()
        layer.num_samples = k
        vals, grads = [], []
        for _ in range(repeats):
            loss = layer(h, t)
            vals.append(loss.item())
            grads.append(torch.autograd.grad(loss, h)[0])
        g = torch.stack(grads).mean(0)
        return np.mean(vals), ((g - g_full).norm() / g_full.norm()).item()

    loss_all, grad_err_all = estimate(V)
    loss_few, grad_err_few = estimate(10)
    assert loss_all == pytest.approx(full.item(), rel=0.01)  # every word drawn: expected counts -> 1
    assert grad_err_all < 0.03
    assert abs(loss_few - full.item()) > abs(loss_all - full.item()) and grad_err_few > grad_err_all


def test_accidental_hits_are_removed_and_samplers_draw_from_their_proposal():
    torch.manual_seed(0)
    layer = SampledSoftmax(4, 20, num_samples=5)
    h, t = torch.randn(3, 4), torch.tensor([2, 7, 9])
    tries = 40
    with_hit = layer.sampled_loss(h, t, np.array([2, 3, 4]), tries)  # word 2 is row 0's target
    rows = [layer.sampled_loss(h[i:i + 1], t[i:i + 1], ids, tries)
            for i, ids in enumerate([np.array([3, 4]), np.array([2, 3, 4]), np.array([2, 3, 4])])]
    assert with_hit.item() == pytest.approx(torch.stack(rows).mean().item())

    sampler = CandidateSampler.log_uniform(1000, random_state=0)
    ids, T = sampler.sample(100)
    assert len(set(ids.tolist())) == 100 and T >= 100
    draws = sampler._draw(200_000)
    assert np.mean(draws == 0) == pytest.approx(sampler.probs[0], rel=0.05)  # Q(0) = log 2 / log 1001
    assert sampler.probs.sum() == pytest.approx(1.0)
    uni = CandidateSampler.unigram(np.arange(100, 0, -1), power=0.75, random_state=0)
    assert np.mean(uni._draw(200_000) == 0) == pytest.approx(100 ** 0.75 / np.sum(np.arange(1, 101) ** 0.75), rel=0.05)
    # a word never counted (a special token) still has Q > 0, so its logQ correction is finite
    layer = SampledSoftmax(4, 3, num_samples=2, sampler="unigram", counts=[5, 0, 3])
    assert torch.isfinite(layer(torch.randn(4, 4), torch.tensor([0, 1, 1, 2])))


def test_adaptive_cutoffs_and_invalid_settings():
    assert default_cutoffs(800_000) == [20000, 40000, 200000]  # Transformer-XL's WikiText-103 boundaries
    assert default_cutoffs(100_000) == [20000, 40000]
    assert default_cutoffs(50) == [12, 24]
    counts = np.array([50, 30, 10, 5, 3, 1, 1])  # 80% of tokens in 2 words, 95% in 4, 99% in 6
    assert default_cutoffs(7, counts) == [2, 4, 6]
    with pytest.raises(InputError, match="sorted by frequency"):
        default_cutoffs(3, [1, 5, 2])
    with pytest.raises(ConfigError, match="cutoffs"):
        AdaptiveSoftmax(8, 100, cutoffs=[50, 20])
    with pytest.raises(ConfigError, match="0 dimensions"):
        AdaptiveSoftmax(8, 20)  # two tails at div_value 4: 8 / 16 rounds to 0
    with pytest.raises(ConfigError, match="num_samples"):
        SampledSoftmax(8, 100, num_samples=101)
    with pytest.raises(ConfigError, match="loss must be one of"):
        ContinuousOutput(8, torch.randn(10, 4), "l2")
    with pytest.raises(ValueError, match="flatten"):
        FullSoftmax(8, 10)(torch.randn(2, 3, 8), torch.zeros(2, 3, dtype=torch.long))


# ---------------------------------------------------------------------------------------------- target tables
REAL = ["goalkeeper", "football", "referee", "stadium", "striker", "keeper", "goal", "penalty", "midfield", "defender"]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    filler = ["".join(rng.choice(list(string.ascii_lowercase), rng.integers(4, 10))) for _ in range(300)]
    words = REAL + filler
    return TargetEmbeddings(words, rng.standard_normal((len(words), 16)))


def test_out_of_table_words_get_subword_vectors_next_to_the_word_they_share_ngrams_with(table):
    built = table.build(["goalkeeper", "goalkeepers", "Goalkeeper", "footballs", "zzgoazz", "</s>", "жжж"])
    src = dict(zip(built.tokens, built.sources))
    assert src == {"goalkeeper": "table", "goalkeepers": "subword", "Goalkeeper": "lowercase", "footballs": "subword",
                   "zzgoazz": "subword", "</s>": "special", "жжж": "random"}
    E = built.embeddings.numpy()
    torch.testing.assert_close(built.embeddings.norm(dim=1), torch.ones(7))  # no zero row, whatever the source
    goalkeeper = table.vectors[table.index["goalkeeper"]]
    sims = table.vectors @ E[1]  # "goalkeepers" shares 30 of its 38 n-grams with "goalkeeper"
    assert sims.argmax() == table.index["goalkeeper"] and sims.max() > 0.9
    assert (table.vectors @ E[3]).argmax() == table.index["football"]
    np.testing.assert_allclose(E[2], goalkeeper, rtol=1e-6)
    # one known n-gram ("goa") is enough for a non-zero sub-word vector
    vecs, known = table.subwords.transform(["zzgoazz", "жжж"])
    assert known.tolist()[1] == 0 and known[0] >= 1 and np.linalg.norm(vecs[0]) > 0
    # random vectors are fixed by the word, not by the order words come in
    np.testing.assert_array_equal(table.embed("жжж"), E[6])
    assert table.subwords.fit_cosine_ > 0.99


def test_the_subword_fit_is_the_ridge_least_squares_solution():
    rng = np.random.default_rng(1)
    words = list(dict.fromkeys("".join(rng.choice(list("abcde"), rng.integers(3, 7))) for _ in range(40)))
    vectors = rng.standard_normal((len(words), 3))
    sw = SubwordEmbeddings(ridge=0.1, max_iter=1000, tol=1e-8).fit(words, vectors)
    A = sw._bags(words, sw.ngram_index_, grow=False)[0].toarray().astype(np.float64)
    B = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # the fit targets directions
    lam = 0.1 * np.mean(np.sum(A * A, axis=1))
    closed_form = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ B)
    np.testing.assert_allclose(sw.ngram_vectors_, closed_form, atol=1e-4)


def test_char_ngrams_have_fasttext_boundary_markers():
    assert char_ngrams("cat", 3, 4) == ["<ca", "cat", "at>", "<cat", "cat>"]
    assert len(char_ngrams("goalkeepers")) == 11 + 10 + 9 + 8  # "<goalkeepers>" has 13 characters
    assert len(set(char_ngrams("goalkeepers")) & set(char_ngrams("goalkeeper"))) == 30


def test_bad_tables_and_vocabularies_are_input_errors(table):
    with pytest.raises(InputError, match="none of the 3 words"):
        table.build(["яблоко", "груша", "слива"])
    with pytest.raises(InputError, match="16-dimensional, but the output layer expects 300-d"):
        table.build(["goal"], dim=300)
    with pytest.raises(InputError, match="matrix for 3 tokens"):
        TargetEmbeddings(["a", "b", "c"], np.zeros((2, 5)))
    with pytest.raises(InputError, match="no token has a finite, non-zero vector"):
        TargetEmbeddings(["a", "b"], np.zeros((2, 5)))
    with pytest.raises(InputError, match="zero vectors"):
        ContinuousOutput(8, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(InputError, match=r"\(V, d\) matrix"):
        ContinuousOutput(8, torch.ones(10))


def test_a_table_from_domain_word_vectors():
    from shoestring.learners.vectors.ppmi import WordVectors

    texts = [f"the {a} keeper saved a {b} shot from the {c} striker" for a in ("brave", "tall", "young")
             for b in ("low", "hard", "curling") for c in ("home", "away", "rival")] * 4
    wv = WordVectors(dim=4, min_count=2).fit(texts)
    te = TargetEmbeddings.from_word_vectors(wv)
    built = te.build(["keeper", "Keeper", "keepers", "<unk>"], dim=4)
    assert built.sources == ["table", "lowercase", "subword", "special"]
    assert "PPMI" in built.summary() and built.embeddings.shape == (4, 4)


def test_a_fasttext_table_trained_on_the_users_texts():
    pytest.importorskip("gensim")
    texts = [f"the {a} goalkeeper saved a {b} penalty" for a in ("brave", "tall", "young", "old")
             for b in ("low", "hard", "late")] * 10
    te = TargetEmbeddings.from_fasttext(texts, dim=8, epochs=2, min_count=2, workers=1)
    built = te.build(["goalkeeper", "goalkeepers", "</s>"])
    assert built.sources == ["table", "subword", "special"]  # FastText's own n-grams for the unseen plural
    assert torch.isfinite(built.embeddings).all()


@pytest.mark.slow
def test_glove_table_with_fitted_subwords():
    from shoestring.bench.baselines import BaselineUnavailableError

    try:
        te = TargetEmbeddings.from_glove(subwords=SubwordEmbeddings(max_words=20000))
    except BaselineUnavailableError as err:
        pytest.skip(str(err))
    built = te.build(["The", "goalkeeper", "Zürichsee", "shoestringification", "</s>"], dim=50)
    assert built.sources == ["lowercase", "table", "subword", "subword", "special"]
    E = built.embeddings.numpy()
    # the fitted n-grams of "goalkeeper..." point at football words
    top = [te.tokens[i] for i in np.argsort(-(te.vectors @ te.embed("goalkeeperish")))[:10]]
    assert {"goalkeeper", "keeper", "goalkeepers"} & set(top)
    assert np.all(np.isfinite(E))
