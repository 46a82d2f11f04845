"""Sampling noise for the planners, generated on the device of the result from an explicit generator.

* :func:`truncated_normal`: a standard normal truncated at ``±bound`` by the inverse-CDF method, one
  vectorised pass and no rejection loop (PETS truncates its CEM samples at ±2σ; Chua et al. 2018,
  ``dmbrl/misc/optimizers/cem.py``; a resampling loop is pitfall M12 of the reference notes).
* :func:`colored_noise`: Gaussian noise whose power spectrum along the time axis is ∝ 1/f^β (iCEM's
  coloured noise; Pinneri et al. 2020, Section 3.1), written as an FFT power-law filter.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _device_of(generator: torch.Generator | None, device: torch.device | str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")


def truncated_normal(
    shape: tuple[int, ...],
    *,
    bound: float = 2.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Standard normal samples truncated to ``[-bound, bound]``, shape ``shape``.

    Inverse-CDF sampling: with ``u ~ U(0, 1)`` and ``c = erf(bound / sqrt 2)``,
    ``x = sqrt(2) * erfinv((2u - 1) * c)`` has the standard normal density restricted to the interval.
    """
    u = torch.rand(shape, generator=generator, dtype=dtype, device=_device_of(generator, device))
    c = math.erf(bound / math.sqrt(2.0))
    x = u.mul_(2.0).sub_(1.0).mul_(c).erfinv_().mul_(math.sqrt(2.0))
    return x.clamp_(-bound, bound)


def colored_noise(
    shape: tuple[int, ...],
    beta: float,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Unit-variance Gaussian noise, coloured along the **last** axis: power spectrum ∝ 1/f^β.

    ``shape = (..., T)``. β = 0 gives white noise (exactly i.i.d. standard normal); larger β gives smoother,
    more correlated sequences (iCEM uses β = 0.25 to 3.5 per task; Pinneri et al. 2020, Section 3.1 and the
    ``martius-lab/iCEM`` README). Method: draw complex standard normal Fourier coefficients, scale the
    amplitude at frequency f by f^(-β/2), invert with an inverse real FFT and divide by the exact marginal
    standard deviation, so every entry is N(0, 1). The zero frequency would have infinite amplitude; it gets
    the amplitude of the lowest non-zero frequency 1/T.
    """
    *lead, T = shape
    dev = _device_of(generator, device)
    if T == 1 or beta == 0.0:
        return torch.randn(shape, generator=generator, dtype=dtype, device=dev)
    freqs = torch.fft.rfftfreq(T, dtype=torch.float64)
    freqs[0] = 1.0 / T
    scale = freqs.pow(-beta / 2.0)  # [F], F = T // 2 + 1
    F_ = scale.shape[0]
    # Real and imaginary parts N(0, 1/2) (complex standard normal) except at the frequencies whose
    # coefficient must be real (zero, and Nyquist when T is even), which are N(0, 1): with unit scale this
    # is exactly the DFT of white noise.
    real_only = torch.zeros(F_, dtype=torch.bool)
    real_only[0] = True
    if T % 2 == 0:
        real_only[-1] = True
    part_std = torch.where(real_only, 1.0, math.sqrt(0.5))
    # Marginal variance of the inverse FFT (backward norm): sum over the full spectrum of |coef|^2 / T^2.
    multiplicity = torch.where(real_only, 1.0, 2.0)
    var = (multiplicity * scale.square()).sum() / (T * T)
    amp = (scale * part_std / var.sqrt()).to(dtype=dtype, device=dev)  # [F]
    z = torch.randn((*lead, F_, 2), generator=generator, dtype=dtype, device=dev)
    z[..., 1].masked_fill_(real_only.to(dev), 0.0)
    z.mul_(amp.unsqueeze(-1))
    return torch.fft.irfft(torch.view_as_complex(z), n=T, dim=-1)
