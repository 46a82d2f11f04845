"""Sampling noise: truncated normal and coloured noise."""

from __future__ import annotations

import math

import pytest
import torch

from dynadapt.planning.noise import colored_noise, truncated_normal


def test_truncated_normal_moments_and_support() -> None:
    x = truncated_normal((200_000,), bound=2.0, generator=torch.Generator().manual_seed(0))
    assert x.abs().max() <= 2.0
    assert abs(x.mean().item()) < 0.01
    # Variance of N(0, 1) truncated at ±2: 1 - 2 * 2 * phi(2) / (2 * Phi(2) - 1) = 0.7737.
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    expected = 1 - 4 * phi2 / math.erf(2 / math.sqrt(2))
    assert abs(x.var().item() - expected) < 0.01


def lag1_correlation(x: torch.Tensor) -> float:
    return torch.corrcoef(torch.stack([x[:, :-1].flatten(), x[:, 1:].flatten()]))[0, 1].item()


@pytest.mark.parametrize("T", [30, 31])
def test_colored_noise_is_unit_variance_and_white_for_beta_zero(T: int) -> None:
    g = torch.Generator().manual_seed(0)
    for beta in (0.0, 0.5, 2.0, 3.0):
        x = colored_noise((20_000, T), beta, generator=g)
        assert x.shape == (20_000, T)
        per_step_var = x.var(dim=0)
        assert (per_step_var - 1).abs().max() < 0.06, (beta, per_step_var)
    white = colored_noise((20_000, T), 1e-9, generator=g)  # through the FFT path
    assert abs(lag1_correlation(white)) < 0.02
    assert lag1_correlation(colored_noise((5000, T), 3.0, generator=g)) > 0.8


def test_colored_noise_power_spectrum_slope_is_minus_beta() -> None:
    g = torch.Generator().manual_seed(1)
    T = 64
    for beta in (1.0, 2.0):
        x = colored_noise((4000, T), beta, generator=g)
        power = torch.fft.rfft(x, dim=-1).abs().square().mean(0)[1:-1]
        freqs = torch.fft.rfftfreq(T)[1:-1]
        slope = torch.linalg.lstsq(
            torch.stack([freqs.log(), torch.ones_like(freqs)], dim=1), power.log().unsqueeze(-1)
        ).solution[0, 0]
        assert abs(slope.item() + beta) < 0.1, (beta, slope)


def test_colored_noise_same_generator_state_same_noise() -> None:
    a = colored_noise((3, 2, 10), 2.0, generator=torch.Generator().manual_seed(7))
    b = colored_noise((3, 2, 10), 2.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert colored_noise((4, 1), 2.0).shape == (4, 1)
