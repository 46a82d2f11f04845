"""Dynamics models: normalisation, delta targets, Gaussian head with learned bounds, fitting."""

from dynadapt.models.dynamics import DynamicsModel, FitResult, ModelConfig
from dynadapt.models.normalizer import Normalizer

__all__ = ["DynamicsModel", "FitResult", "ModelConfig", "Normalizer"]
