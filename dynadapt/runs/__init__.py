"""Runs: the run skeleton every kind shares (:mod:`.run`), the kinds (:mod:`.kinds`), checkpoints, named
random streams, configs and presets, the run directory, live loggers and videos (``docs/developing.md``
describes the layout)."""
