"""Sweeps over presets x overrides x seeds (local processes or Ray), comparisons across seeds, reports.

* :mod:`dynadapt.sweep.grid`: the grid (command line or TOML/JSON file) -> trials.
* :mod:`dynadapt.sweep.run`: running a sweep on a backend (:mod:`dynadapt.sweep.backends`) with a manifest
  (:mod:`dynadapt.sweep.manifest`) and a progress display.
* :mod:`dynadapt.sweep.compare`: per method over seeds, mean with a 95% t-interval and the IQM with a
  stratified bootstrap interval (:mod:`dynadapt.sweep.stats`); P(A > B) between methods; table and plots.
* :mod:`dynadapt.sweep.report`: one self-contained HTML page.
"""
