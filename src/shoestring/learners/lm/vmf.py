"""The von Mises-Fisher log-normaliser log C_m(κ), stable at m = 300 and any κ, with its exact gradient.

A von Mises-Fisher (vMF) distribution on the unit sphere of R^m has density ``p(e; μ, κ) = C_m(κ) exp(κ μᵀe)``
with mean direction μ (||μ|| = 1), concentration κ >= 0 and normaliser::

    C_m(κ) = κ^(m/2-1) / ((2π)^(m/2) I_(m/2-1)(κ))
    log C_m(κ) = (m/2 - 1) log κ - (m/2) log(2π) - log I_v(κ),        v = m/2 - 1

where I_v is the modified Bessel function of the first kind. Kumar & Tsvetkov (ICLR 2019) predict one vector
ê = κμ per target word and train with NLLvMF(ê; e_w) = -log C_m(||ê||) - êᵀe_w (see
:class:`~shoestring.learners.lm.outputs.ContinuousOutput`). Its derivative needs only a ratio of Bessel functions::

    d/dκ log C_m(κ) = -A_m(κ),        A_m(κ) = I_(m/2)(κ) / I_(m/2-1)(κ)   (0 <= A_m < 1; A_m ~ κ/m near 0)

**Why it needs care.** At m = 300 (FastText's width) I_149(κ) is below the smallest float64 (1e-308) for
κ < 0.75 and above the largest for κ > 728, so ``log(iv(v, κ))`` is -inf or inf over much of the range a model
visits. Everything here is computed in float64 on the CPU (the κ of a batch are N numbers: the copy costs far
less than the LM step; 1.3 ms for N = 2048 on one core) from two evaluations of log I_v(κ):

- ``scipy.special.ive(v, κ) = I_v(κ) e^-κ``, which cannot overflow, with κ added back: exact to float64
  precision (AMOS) wherever ive(v, κ) > 1e-250;
- where it underflows (large v, small κ: at m = 300 below κ ≈ 2.4), the **uniform asymptotic (Debye) expansion**
  (DLMF 10.41.3) with the terms U_0..U_4: with z = κ/v, p = (1+z²)^(-1/2), η = √(1+z²) + log(z/(1+√(1+z²))),
  ``log I_v(vz) = vη - ½ log(2πv) - ¼ log(1+z²) + log Σ_k U_k(p)/v^k``. It is uniform in z (it holds at
  z -> 0 as Stirling's series does) and is needed only for v >= ~24.

Measured against mpmath (40 digits) over κ in [1e-30, 1e4] (m = 2, 3: [1e-3, 1e4]): the largest relative error
of log C_m is 2e-16 (m = 2), 2e-14 (m = 10), 4e-12 (m = 50, where the expansion takes over at v = 24), 4e-15
(m = 300) and 4e-15 (m = 1000); of the ratio A_m below, 1.2e-13.

The gradient is the exact ratio: ``ive(v+1, κ)/ive(v, κ)`` where both are representable, else the continued
fraction ``A = 1/(2(v+1)/κ + 1/(2(v+2)/κ + ...))`` (backward recurrence from depth 30, started at the
Ruiz-Antolín & Segura bound), which converges to float64 precision in a few steps in that regime (κ << v).
κ below 1e-30 is evaluated at 1e-30 (log C_m is flat there: it differs from log C_m(0), the log of one over the
sphere's area, by κ²/(2m)).

``approximate=True`` gives Kumar & Tsvetkov's closed form instead, pure torch (no CPU copy, GPU friendly)::

    -log C_m(κ) ≈ √((m/2+1)² + κ²) - (m/2-1) log(m/2 - 1 + √((m/2+1)² + κ²)) + const

whose derivative is the lower bound A_m(κ) >= κ / (m/2 - 1 + √((m/2+1)² + κ²)) (Ruiz-Antolín & Segura 2016).
We fix the constant so it is exact at κ = 0. Measured over κ in [1e-3, 1e4]: its gradient is within 0.04% of the
exact one at m = 300 (0.2% at m = 50, 1% at m = 10); its value drifts from the exact log C_m by up to 1.13
nats at κ = 1e4 (2.5e-4 at κ = 100). A constant offset does not change training; the exact form is the one
that reports a true NLL.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: ive(v, κ) below this is treated as underflowed (subnormal floats lose digits before 1e-308)
_TINY = 1e-250
#: κ below this is evaluated here (log C_m is flat near 0; log 0 is not a number)
KAPPA_MIN = 1e-30
#: backward-recurrence depth of the continued fraction (only used where κ << v: converged after a few steps)
_CF_DEPTH = 30


def _check_m(m) -> float:
    if not (isinstance(m, (int, np.integer)) and m >= 2):
        raise ValueError(f"m (the dimension of the sphere's space) must be an integer >= 2, got {m!r}")
    return m / 2 - 1


def _log_iv_uniform(v: float, x: np.ndarray) -> np.ndarray:
    """log I_v(x) from the uniform asymptotic (Debye) expansion, terms U_0..U_4 (DLMF 10.41.3, 10.41.10)."""
    z = x / v
    s = np.hypot(1.0, z)  # √(1+z²), without overflow at large z
    p = 1.0 / s
    eta = s + np.log(z / (1.0 + s))
    p2 = p * p
    u1 = p * (3 - 5 * p2) / 24
    u2 = p2 * (81 - 462 * p2 + 385 * p2 ** 2) / 1152
    u3 = p * p2 * (30375 - 369603 * p2 + 765765 * p2 ** 2 - 425425 * p2 ** 3) / 414720
    u4 = p2 ** 2 * (4465125 - 94121676 * p2 + 349922430 * p2 ** 2 - 446185740 * p2 ** 3
                    + 185910725 * p2 ** 4) / 39813120
    series = u1 / v + u2 / v ** 2 + u3 / v ** 3 + u4 / v ** 4
    return v * eta - 0.5 * np.log(2 * np.pi * v) - 0.5 * np.log(s) + np.log1p(series)


def log_iv(v: float, x) -> np.ndarray:
    """log I_v(x) in float64 for v >= 0 and x > 0: ``log(ive(v, x)) + x``, or the Debye expansion where ive
    underflows (see the module docstring for the accuracy of each)."""
    from scipy.special import ive

    x = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore", divide="ignore"):
        scaled = ive(v, x)
    out = np.empty_like(x)
    ok = scaled > _TINY
    out[ok] = np.log(scaled[ok]) + x[ok]
    if not ok.all():
        # ive(v, x) >= (x/2)^v / Γ(v+1) e^-x: for x >= KAPPA_MIN it underflows only when v >= ~24, where the
        # expansion is accurate to 3e-10 or better
        if v < 20:
            raise FloatingPointError(f"ive({v}, x) underflowed for x = {x[~ok].min():g}; x is too small for this order")
        out[~ok] = _log_iv_uniform(v, x[~ok])
    return out


def bessel_ratio(v: float, x) -> np.ndarray:
    """A = I_(v+1)(x) / I_v(x) in float64 for v >= 0, x >= 0 (A = 0 at x = 0): the ratio of ``ive`` where
    representable, else the continued fraction by backward recurrence."""
    from scipy.special import ive

    x = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore", invalid="ignore", divide="ignore"):
        num, den = ive(v + 1, x), ive(v, x)
    out = np.empty_like(x)
    ok = num > _TINY  # then den >= num: I_v decreases with the order v >= 0
    out[ok] = num[ok] / den[ok]
    if not ok.all():
        xs = x[~ok]
        nu = v + _CF_DEPTH
        r = xs / (nu + 1 + np.sqrt((nu + 1) ** 2 + xs ** 2))  # start: Ruiz-Antolín & Segura's bound at depth
        with np.errstate(divide="ignore"):
            for j in range(_CF_DEPTH, 0, -1):
                r = 1.0 / (2 * (v + j) / xs + r)  # r_(ν-1) = 1 / (2ν/x + r_ν), the minimal solution: stable
        out[~ok] = r
    return out


def log_cmk_numpy(kappa, m: int) -> np.ndarray:
    """log C_m(κ) in float64 (numpy), κ clipped below at ``KAPPA_MIN``."""
    v = _check_m(m)
    k = np.maximum(np.asarray(kappa, dtype=np.float64), KAPPA_MIN)
    return v * np.log(k) - (m / 2) * math.log(2 * math.pi) - log_iv(v, k)


class LogCmk(torch.autograd.Function):
    """``LogCmk.apply(kappa, m)``: log C_m(κ) elementwise, gradient -A_m(κ) (exact). Any shape, dtype and device;
    computed in float64 on the CPU and returned in κ's dtype and device. Not twice differentiable."""

    @staticmethod
    def forward(ctx, kappa: torch.Tensor, m: int) -> torch.Tensor:
        k = kappa.detach().to("cpu", torch.float64).numpy()
        out = torch.from_numpy(log_cmk_numpy(k, m)).to(kappa.device, kappa.dtype)
        if ctx.needs_input_grad[0]:
            # computed now, while κ is on the CPU anyway: backward needs no second copy
            slope = -bessel_ratio(m / 2 - 1, np.maximum(k, 0.0))
            ctx.save_for_backward(torch.from_numpy(slope).to(kappa.device, kappa.dtype))
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        (slope,) = ctx.saved_tensors
        return grad * slope, None


def log_cmk_approx(kappa: torch.Tensor, m: int) -> torch.Tensor:
    """Kumar & Tsvetkov's closed-form log C_m(κ) (pure torch, differentiable by autograd), shifted to be exact
    at κ = 0; its κ-derivative is minus the Ruiz-Antolín & Segura lower bound on A_m(κ)."""
    _check_m(m)
    a, b = m / 2 - 1, m / 2 + 1
    root = torch.sqrt(b * b + kappa * kappa)
    neg = root - a * torch.log(a + root)  # -log C_m(κ) up to a constant (a = 0 at m = 2: no log term)
    neg_at_zero = b - a * math.log(a + b)
    # log C_m(0) = log Γ(m/2) - log 2 - (m/2) log π: one over the area of the unit sphere S^(m-1)
    log_c0 = math.lgamma(m / 2) - math.log(2) - (m / 2) * math.log(math.pi)
    return log_c0 - (neg - neg_at_zero)


def log_cmk(kappa: torch.Tensor, m: int, *, approximate: bool = False) -> torch.Tensor:
    """log C_m(κ), the log-normaliser of a vMF distribution in R^m with concentration κ = ||ê||.

    ``approximate=False`` (default): exact to ~1e-10 relative or better (see the module docstring), gradient the
    exact Bessel ratio, float64 on the CPU. ``approximate=True``: Kumar & Tsvetkov's closed form, on κ's device.

    >>> import torch
    >>> k = torch.tensor([1e-3, 1.0, 100.0, 1e4], dtype=torch.float64, requires_grad=True)
    >>> log_cmk(k, 300).sum().backward()      # finite everywhere; k.grad = -A_300(k), in (-1, 0]
    """
    if approximate:
        return log_cmk_approx(kappa, m)
    return LogCmk.apply(kappa, m)
