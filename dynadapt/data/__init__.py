"""Experience storage: the bounded ring replay buffer and its samplers."""

from dynadapt.data.buffer import ReplayBuffer, holdout_mask

__all__ = ["ReplayBuffer", "holdout_mask"]
