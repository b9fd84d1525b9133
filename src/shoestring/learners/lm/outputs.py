"""Output layers of a word-level language model: from hidden states to a loss, four ways.

An encoder (an LSTM LM, say) gives a hidden state h_i (size h) for each of N positions and the next word w_i is
its target. Every layer here is an ``nn.Module`` with the same contract, so the encoder and the training loop
never know which one they use:

=========================  ================================================================================
``forward(hidden, ids)``   ``hidden`` (N, h) float, ``ids`` (N,) long in [0, V): the mean loss over the N
``scores(hidden)``         (N, V): higher is more likely (log-probabilities; cosines for the continuous output)
``rank(hidden, ids)``      (N,) rank of the true word under ``scores`` (1 = first), computed in row chunks
``trainable_parameters()`` the number of trained output parameters
=========================  ================================================================================

With V words the softmax's V x h matrix dominates a word-level LM: at V = 800k and h = 512 it is 410M
parameters (80% of ELMo's), and each token costs O(V h) to train. The four layers trade exactness for that cost:

====================  =======================================================  ==================  ============
layer                 loss per position                                        train cost / token  parameters
====================  =======================================================  ==================  ============
``FullSoftmax``       -log softmax(W h + b)_w                                  O(V h)              V (h + 1)
``AdaptiveSoftmax``   Grave et al. 2017: a frequent-word head + smaller tails  O(c h) mostly       see below
``SampledSoftmax``    Jean et al. 2015: softmax over w and k sampled words     O(k h)              V (h + 1)
``ContinuousOutput``  ELMo-C (Li et al. 2019): distance from ê = P h to e_w    O(d h)              d (h + 1)
====================  =======================================================  ==================  ============

``ContinuousOutput`` predicts the pre-trained embedding e_w of the target word (d = 300 in ELMo-C) instead of
a distribution over words; E (V x d) is frozen, so its only trained parameters are the projection P. Its
``loss`` is ``cosine`` (1 - cos(ê, e_w); the ELMo-C reference's default), ``max_margin`` (a hinge against an
informative negative) or ``vmf`` (Kumar & Tsvetkov's NLL of a von Mises-Fisher distribution,
:mod:`shoestring.learners.lm.vmf`). Target tables come from :mod:`shoestring.learners.lm.targets`.

The adaptive softmax's parameters: (c + n) h for a head over c words and n tail clusters, plus h h_j + h_j |tail_j|
for tail j, with h_j = h / div_value^(j+1) (div_value = 4): at V = 800k, h = 512 and the default cutoffs, 22.8M
against the full softmax's 410M.

Which one? ``FullSoftmax`` up to a few tens of thousands of words; ``AdaptiveSoftmax`` for a true softmax at
large V (its perplexities are exact; ids must be sorted by frequency); ``SampledSoftmax`` when the model
must still score every word but training is to be cheap; ``ContinuousOutput`` when the LM is trained for its
representations (ELMo-C: 4x faster than ELMo with comparable downstream results), not for perplexity.
``benchmarks/output_layers.py`` measures the four against V.

Example::

    out = ContinuousOutput(512, TargetEmbeddings.from_glove().build(vocab), loss="cosine")
    loss = out(hidden.reshape(-1, 512), next_ids.reshape(-1))     # scalar; backward reaches the encoder
    ranks = out.rank(hidden_valid, ids_valid)                      # 1 = the true word is the nearest neighbour
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shoestring.errors import ConfigError, InputError

LOSSES = ("cosine", "max_margin", "vmf")


def _check_batch(hidden: torch.Tensor, targets: torch.Tensor) -> None:
    if hidden.dim() != 2 or targets.dim() != 1 or targets.shape[0] != hidden.shape[0]:
        raise ValueError(f"an output layer takes hidden states (N, h) and target ids (N,); got "
                         f"{tuple(hidden.shape)} and {tuple(targets.shape)} (flatten (B, T, h) with reshape(-1, h))")


class OutputLayer(nn.Module):
    """The contract every output layer keeps (see the module docstring)."""

    vocab_size: int

    def scores(self, hidden: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def trainable_parameters(self) -> int:
        """Parameters the optimizer updates (frozen tables and buffers excluded)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @torch.no_grad()
    def rank(self, hidden: torch.Tensor, targets: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """(N,) the rank of each true word among all V by ``scores`` (1 = best; ties counted in its favour).
        ``batch_size`` rows at a time, so the (N, V) scores never exist at once."""
        _check_batch(hidden, targets)
        out = []
        for s in range(0, hidden.shape[0], batch_size):
            sc = self.scores(hidden[s:s + batch_size])
            true = sc.gather(1, targets[s:s + batch_size, None])
            out.append(1 + (sc > true).sum(1))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def rank_metrics(ranks: torch.Tensor) -> dict[str, float]:
    """The mean rank, top-1 and top-10 rates of the true words' ranks (1 = first), as validation reports them."""
    r = ranks.double()
    return {"valid_mean_rank": float(r.mean()), "valid_top1": float((r <= 1).double().mean()),
            "valid_top10": float((r <= 10).double().mean())}


# ---------------------------------------------------------------------------------------------- softmaxes
class FullSoftmax(OutputLayer):
    """p(w | h) = softmax(W h + b)_w over all V words; loss -log p(w_i | h_i). The exact reference.

    ``trainable_parameters() = V (h + 1)``; every training step costs O(N V h) and N x V logits of memory.
    """

    def __init__(self, hidden_size: int, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.linear = nn.Linear(hidden_size, vocab_size)

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_batch(hidden, targets)
        return F.cross_entropy(self.linear(hidden), targets)

    def log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, V) log p(w | h)."""
        return F.log_softmax(self.linear(hidden), dim=-1)

    scores = log_probs


def default_cutoffs(vocab_size: int, counts=None, coverage=(0.8, 0.95, 0.99)) -> list[int]:
    """Cluster boundaries of an adaptive softmax over frequency-sorted ids (id 0 the most frequent word).

    Without ``counts``: a head of c = min(20000, V // 4) words, then tails starting at c, 2c and 10c (those
    below V) -- Transformer-XL's 20k/40k/200k on WikiText-103 for any V > 200k. With ``counts`` (the corpus
    count of each id, non-increasing): the head is the fewest words covering ``coverage[0]`` of the tokens,
    each next tail starts where the next coverage level is reached (Grave et al. size the head so that it
    covers most tokens and the tails are rarely computed).
    """
    if counts is None:
        head = max(1, min(20000, vocab_size // 4))
        cuts = [head, 2 * head, 10 * head]
    else:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != (vocab_size,):
            raise InputError(f"counts has {counts.size} entries for a vocabulary of {vocab_size} words")
        if np.any(np.diff(counts) > 0):
            raise InputError("an adaptive softmax needs ids sorted by frequency (id 0 the most frequent), but counts "
                             "increase somewhere", hint="renumber the vocabulary by descending count")
        cum = np.cumsum(counts) / max(counts.sum(), 1.0)
        cuts = [int(np.searchsorted(cum, c)) + 1 for c in coverage]
    out = []
    for c in cuts:
        if 0 < c < vocab_size and (not out or c > out[-1]):
            out.append(c)
    return out


class AdaptiveSoftmax(OutputLayer):
    """Grave et al.'s adaptive softmax (ICML 2017), ``torch.nn.AdaptiveLogSoftmaxWithLoss``.

    The ids must be sorted by frequency (id 0 the most frequent word). The head is a softmax over the c most
    frequent words plus one entry per tail cluster; the word w of tail cluster j has
    p(w | h) = p_head(cluster j | h) p_j(w | h), where cluster j's softmax reads a projection of h to
    h / div_value^(j+1) dimensions. Frequent words cost O(c h); the rare words of a tail cost less per word and
    are computed only for the positions whose target is in that tail. Probabilities are exact (they sum to 1).

    ``cutoffs``: the first id of each tail cluster; default :func:`default_cutoffs` (from ``counts`` if given).
    """

    def __init__(self, hidden_size: int, vocab_size: int, cutoffs=None, *, counts=None, div_value: float = 4.0):
        super().__init__()
        self.vocab_size = vocab_size
        cutoffs = default_cutoffs(vocab_size, counts) if cutoffs is None else [int(c) for c in cutoffs]
        if not cutoffs or any(b <= a for a, b in zip(cutoffs, cutoffs[1:])) or cutoffs[0] < 1 \
                or cutoffs[-1] >= vocab_size:
            raise ConfigError(f"adaptive softmax cutoffs must increase strictly within (0, {vocab_size}); "
                              f"got {cutoffs}",
                              hint="give the first id of each tail cluster, e.g. [20000, 40000, 200000]")
        if div_value < 1:
            raise ConfigError(f"div_value must be >= 1 (tail projections shrink by it), got {div_value}")
        if int(hidden_size // div_value ** len(cutoffs)) < 1:  # PyTorch's own rounding of tail j's width
            raise ConfigError(f"with h = {hidden_size} and div_value = {div_value}, tail cluster {len(cutoffs)} "
                              f"would be projected to 0 dimensions", hint="give fewer cutoffs or a smaller div_value")
        self.cutoffs = cutoffs
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, cutoffs, div_value=div_value)

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_batch(hidden, targets)
        return self.softmax(hidden, targets).loss

    def log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, V) log p(w | h), every word (costs the full O(V) per row)."""
        return self.softmax.log_prob(hidden)

    scores = log_probs


class CandidateSampler:
    """Draws k distinct candidate ids per batch from a proposal Q, as TensorFlow's samplers with ``unique=True``.

    Ids are drawn with replacement until k distinct ones are seen (T draws); the expected count of word w in
    the set is then ``1 - (1 - Q(w))^T``, the correction the sampled softmax subtracts (in logs). With k = V
    every word is drawn and the expected counts tend to 1, which makes the sampled softmax the full one.

    ``log_uniform(V)``: Q(w) = log((w + 2)/(w + 1)) / log(V + 1), Zipfian over frequency-sorted ids
    (TensorFlow's and the ELMo reference's); ``unigram(counts, power=0.75)``: Q ∝ count^0.75 (word2vec's).
    """

    def __init__(self, probs, kind: str, random_state: int = 0):
        self.probs = np.asarray(probs, dtype=np.float64)
        self.kind = kind
        self.random_state = random_state
        self._rng = np.random.default_rng(random_state)
        self._cdf = None if kind == "log_uniform" else np.cumsum(self.probs)

    @classmethod
    def log_uniform(cls, vocab_size: int, random_state: int = 0) -> CandidateSampler:
        w = np.arange(vocab_size, dtype=np.float64)
        return cls(np.log1p(1.0 / (w + 1)) / math.log(vocab_size + 1), "log_uniform", random_state)

    @classmethod
    def unigram(cls, counts, power: float = 0.75, random_state: int = 0) -> CandidateSampler:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise InputError("a unigram sampler needs non-negative word counts, one per id")
        # a word never seen (a special token) counts once: with Q = 0 its correction -log E[count] is infinite
        q = np.maximum(counts, 1.0) ** power
        return cls(q / q.sum(), "unigram", random_state)

    def _draw(self, n: int) -> np.ndarray:
        u = self._rng.random(n)
        V = self.probs.size
        if self.kind == "log_uniform":  # inverse CDF: P(id <= w) = log(w + 2) / log(V + 1)
            ids = np.floor(np.exp(u * math.log(V + 1))).astype(np.int64) - 1
        else:
            ids = np.searchsorted(self._cdf, u * self._cdf[-1], side="right")
        return np.clip(ids, 0, V - 1)

    def sample(self, k: int) -> tuple[np.ndarray, int]:
        """(k distinct ids in draw order, the number of draws T it took)."""
        draws = self._draw(2 * k)
        while True:
            _, first = np.unique(draws, return_index=True)
            if first.size >= k:
                break
            draws = np.concatenate([draws, self._draw(draws.size)])  # double until k distinct are seen
        first = np.sort(first)[:k]
        return draws[first], int(first[-1]) + 1


class SampledSoftmax(OutputLayer):
    """Sampled softmax (Jean et al. 2015; the ELMo reference's output layer): train on w and k sampled words.

    For each batch, k distinct candidate ids S are drawn from Q (:class:`CandidateSampler`, shared by the N
    positions). Position i is scored over {w_i} ∪ S with logits corrected by the expected count of each word in
    the sample (the logQ correction, which makes the softmax over a biased sample estimate the full one)::

        o_j = W_j h_i + b_j - log E[count of j in S]        loss_i = -o_(w_i) + log Σ_{j ∈ {w_i} ∪ S} e^(o_j)

    where a sampled word equal to the target ("accidental hit") is left out of S for that position. At evaluation
    (``model.eval()``) the loss is the full softmax's, so validation perplexities are exact. ``num_samples`` is k
    (8192 in ELMo).

    ``sparse=True`` gives W and b sparse gradients: only the rows of {w_i} ∪ S are touched, so an optimizer step
    costs O((N + k) h) instead of O(V h), but it needs ``torch.optim.SparseAdam`` (or SGD) for these two
    parameters. ``trainable_parameters()`` is V (h + 1) either way.
    """

    def __init__(self, hidden_size: int, vocab_size: int, num_samples: int = 8192, *, sampler: str = "log_uniform",
                 counts=None, power: float = 0.75, sparse: bool = False, random_state: int = 0):
        super().__init__()
        if not 1 <= num_samples <= vocab_size:
            raise ConfigError(f"num_samples must be between 1 and the vocabulary size {vocab_size}, got {num_samples}",
                              hint="ELMo samples 8192 of 793k words; with k = V the sampled softmax is the full one")
        if sampler == "log_uniform":
            self.sampler = CandidateSampler.log_uniform(vocab_size, random_state)
        elif sampler == "unigram":
            if counts is None or len(counts) != vocab_size:
                raise ConfigError("sampler='unigram' needs counts: one corpus count per id",
                                  hint="or use sampler='log_uniform', which assumes frequency-sorted ids")
            self.sampler = CandidateSampler.unigram(counts, power, random_state)
        else:
            raise ConfigError(f"sampler must be 'log_uniform' or 'unigram', got {sampler!r}")
        self.vocab_size = vocab_size
        self.num_samples = num_samples
        # rows of an Embedding, not a Linear: gathering k + N rows is what makes the step O(k h)
        self.weight = nn.Embedding(vocab_size, hidden_size, sparse=sparse)
        self.bias = nn.Embedding(vocab_size, 1, sparse=sparse)
        bound = 1 / math.sqrt(hidden_size)  # nn.Linear's initialization, so it starts like FullSoftmax
        nn.init.uniform_(self.weight.weight, -bound, bound)
        nn.init.zeros_(self.bias.weight)
        self.register_buffer("log1m_q", torch.from_numpy(np.log1p(-self.sampler.probs)), persistent=False)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.weight.weight.t() + self.bias.weight.t()

    def log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, V) log p(w | h) of the full softmax."""
        return F.log_softmax(self.logits(hidden), dim=-1)

    scores = log_probs

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_batch(hidden, targets)
        if not self.training:
            return self.full_loss(hidden, targets)
        return self.sampled_loss(hidden, targets, *self.sampler.sample(self.num_samples))

    def full_loss(self, hidden: torch.Tensor, targets: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """The full softmax's mean cross-entropy; without gradients, ``batch_size`` rows at a time (at V = 800k
        the N x V logits of a whole batch are 6.5 GB)."""
        if torch.is_grad_enabled():
            return F.cross_entropy(self.logits(hidden), targets)
        total = sum(F.cross_entropy(self.logits(hidden[s:s + batch_size]), targets[s:s + batch_size], reduction="sum")
                    for s in range(0, hidden.shape[0], batch_size))
        return total / max(hidden.shape[0], 1)

    def log_expected_count(self, ids: torch.Tensor, tries: int) -> torch.Tensor:
        """log(1 - (1 - Q(w))^T) for each id: the log of its expected count in a sample that took T draws."""
        return torch.log(-torch.expm1(tries * self.log1m_q[ids]))

    def sampled_loss(self, hidden: torch.Tensor, targets: torch.Tensor, sample, tries: int) -> torch.Tensor:
        """The training loss for a given sample (ids, T): deterministic, so it can be checked."""
        ids = torch.as_tensor(sample, device=hidden.device)
        true = (hidden * self.weight(targets)).sum(-1) + self.bias(targets)[:, 0]
        true = true - self.log_expected_count(targets, tries).to(hidden.dtype)
        cand = hidden @ self.weight(ids).t() + self.bias(ids)[:, 0]
        cand = cand - self.log_expected_count(ids, tries).to(hidden.dtype)
        cand = cand.masked_fill(ids[None, :] == targets[:, None], float("-inf"))  # accidental hits
        logits = torch.cat([true[:, None], cand], dim=1)
        return (torch.logsumexp(logits, dim=1) - true).mean()


# ---------------------------------------------------------------------------------------------- continuous
class ContinuousOutput(OutputLayer):
    """ELMo-C's continuous output layer (Li, Chen, Hsieh & Chang, TACL 2019): predict the target's embedding.

    ê = P h (+ b) is a d-dimensional prediction; E (V x d, rows e_w of unit length) is a frozen table of
    pre-trained word vectors, a buffer, never trained. The loss compares ê with e_w only, so a step costs
    O(N d h) whatever V is, and ``trainable_parameters() = d h + d``:

    - ``cosine``: 1 - cos(ê, e_w). ELMo-C's default; scale-free.
    - ``max_margin``: max(0, γ + cos(ê, e_j) - cos(ê, e_w)) (Lazaridou et al. 2015, as Kumar & Tsvetkov use it)
      with the informative negative j = argmax_j (cos(ê, e_j) - cos(e_w, e_j)), j ≠ w: close to the prediction
      but far from the target. Kumar & Tsvetkov search all V; here j is searched among ``negatives`` words
      drawn uniformly per batch (O(N k d)), or all V when ``negatives=None``. γ = ``margin`` (0.5, theirs).
    - ``vmf``: Kumar & Tsvetkov's NLLvMF, the negative log-likelihood of e_w under a von Mises-Fisher
      distribution with mean direction ê/||ê|| and concentration κ = ||ê||, in R^m (m = d)::

          loss = -log C_m(κ) - λ2 êᵀe_w + λ1 κ

      (λ1 = 0, λ2 = 1: the plain NLL; the paper's regularized variants use λ1 = 0.02 and λ2 = 0.1, which keep κ
      from growing without bound). log C_m is computed exactly (:mod:`.vmf`), or with Kumar & Tsvetkov's
      closed form when ``log_normalizer="approx"`` (no CPU round trip on a GPU).

    At evaluation :meth:`scores` gives cos(ê, e_w) for every word: the true word's :meth:`rank` among the
    nearest neighbours of ê is the continuous output's analogue of perplexity (Kumar & Tsvetkov decode by
    nearest neighbour; under a vMF, argmax_w p(e_w) is the same neighbour).

    ``embeddings``: the (V, d) table (a tensor, an array, or a :class:`~shoestring.learners.lm.targets.TargetTable`
    from ``TargetEmbeddings(...).build(vocab)``); rows are normalized here unless they already have unit length
    (then the tensor is used as is, not copied). E is a persistent buffer: ``state_dict()`` carries it, so a
    checkpoint restores the exact targets it was trained against.
    """

    def __init__(self, hidden_size: int, embeddings, loss: str = "cosine", *, margin: float = 0.5,
                 negatives: int | None = 512, lambda1: float = 0.0, lambda2: float = 1.0,
                 log_normalizer: str = "exact", bias: bool = True, random_state: int = 0):
        super().__init__()
        if loss not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        if log_normalizer not in ("exact", "approx"):
            raise ConfigError(f"log_normalizer must be 'exact' or 'approx', got {log_normalizer!r}")
        if margin < 0 or lambda1 < 0 or lambda2 <= 0:
            raise ConfigError(f"need margin >= 0, lambda1 >= 0 and lambda2 > 0; got {margin}, {lambda1}, {lambda2}")
        if negatives is not None and negatives < 1:
            raise ConfigError(f"negatives must be a positive count or None (all words), got {negatives}")
        E = _as_table(embeddings)
        self.vocab_size, self.dim = E.shape
        self.loss = loss
        self.margin, self.negatives = margin, negatives
        self.lambda1, self.lambda2 = lambda1, lambda2
        self.log_normalizer = log_normalizer
        self.register_buffer("embeddings", E)  # frozen: moves with .to(), never seen by the optimizer
        self.projection = nn.Linear(hidden_size, self.dim, bias=bias)
        self.generator = torch.Generator().manual_seed(random_state)

    def predict(self, hidden: torch.Tensor) -> torch.Tensor:
        """ê (N, d): the predicted embeddings."""
        return self.projection(hidden)

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_batch(hidden, targets)
        negatives = None
        if self.loss == "max_margin" and self.negatives is not None and self.negatives < self.vocab_size:
            negatives = torch.randint(self.vocab_size, (self.negatives,), generator=self.generator)
        return self.losses(self.predict(hidden), targets, negatives).mean()

    def losses(self, e_hat: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) the loss of each prediction ê against its target (``negatives``: max_margin's candidate ids,
        None for all V)."""
        e_w = self.embeddings[targets]
        if self.loss == "cosine":
            return 1 - F.cosine_similarity(e_hat, e_w, dim=-1)
        if self.loss == "max_margin":
            return self._max_margin(e_hat, e_w, targets, negatives)
        from shoestring.learners.lm.vmf import log_cmk

        kappa = torch.linalg.vector_norm(e_hat, dim=-1)
        log_c = log_cmk(kappa, self.dim, approximate=self.log_normalizer == "approx")
        return -log_c - self.lambda2 * (e_hat * e_w).sum(-1) + self.lambda1 * kappa

    def _max_margin(self, e_hat, e_w, targets, negatives):
        if negatives is None:
            cand = torch.arange(self.vocab_size, device=targets.device)
        else:
            cand = negatives.to(targets.device)
        E_c = self.embeddings[cand]  # (k, d), unit rows
        u = F.normalize(e_hat, dim=-1)
        cos_pred = u @ E_c.t()  # cos(ê, e_j)
        with torch.no_grad():  # the choice of the negative is not differentiated (Lazaridou et al.)
            informative = cos_pred - e_w @ E_c.t()  # cos(ê, e_j) - cos(e_w, e_j)
            informative = informative.masked_fill(cand[None, :] == targets[:, None], float("-inf"))
            j = informative.argmax(dim=1)
        cos_neg = cos_pred.gather(1, j[:, None])[:, 0]
        cos_true = (u * e_w).sum(-1)
        return torch.clamp(self.margin + cos_neg - cos_true, min=0)

    def scores(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, V) cos(ê, e_w) for every word w."""
        return F.normalize(self.predict(hidden), dim=-1) @ self.embeddings.t()


def _as_table(embeddings) -> torch.Tensor:
    """A float32 (V, d) tensor with unit rows, or an InputError saying what is wrong with the table. Rows that
    already have unit length (a ``TargetTable``'s) are used as they are: at V = 800k, d = 300 a copy is 960 MB."""
    E = getattr(embeddings, "embeddings", embeddings)  # a TargetTable
    E = torch.as_tensor(np.asarray(E) if not isinstance(E, torch.Tensor) else E).detach().float()
    if E.dim() != 2 or E.shape[0] < 2 or E.shape[1] < 2:
        raise InputError(f"target embeddings must be a (V, d) matrix with V, d >= 2; got shape {tuple(E.shape)}")
    norms = torch.linalg.vector_norm(E, dim=1)  # NaN or inf anywhere in a row makes its norm so: one check, V floats
    if not torch.isfinite(norms).all():
        raise InputError("target embeddings contain NaN or infinite values")
    if (norms == 0).any():
        bad = torch.nonzero(norms == 0)[:5, 0].tolist()
        raise InputError(f"{int((norms == 0).sum())} target embeddings are zero vectors (ids {bad}...): they have no "
                         "direction to predict", hint="build the table with TargetEmbeddings(...).build(vocab), "
                                                      "which gives every word a non-zero vector")
    if torch.allclose(norms, torch.ones_like(norms), atol=1e-5):
        return E
    return E / norms[:, None]
