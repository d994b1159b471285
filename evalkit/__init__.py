"""evalkit: decide whether a language model is fit to ship.

Scores any checkpoint on lm-eval tasks into a :class:`~evalkit.scorecard.Scorecard` stored in the run store.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evalkit-gate")
except PackageNotFoundError:
    __version__ = "0.0.0+unknown"
