"""Policy learning: soft actor-critic (model-free baseline) and MBPO (model-based policy optimisation)."""
