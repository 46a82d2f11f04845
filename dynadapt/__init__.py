"""dynadapt: model-based reinforcement learning with dynamics models that keep adapting."""

__version__ = "0.1.0"
