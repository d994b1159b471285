"""Errors of the tuner; the CLI prints each as one line and exits with code 2."""

from __future__ import annotations

from evalkit.errors import EvalkitError


class DataError(EvalkitError):
    """A data file that cannot be read or checked: a missing file, an unknown format, an unwritable output."""


class TuneError(EvalkitError):
    """A tune config that is invalid or cannot run here (e.g. ``qlora: true`` without CUDA and bitsandbytes), or
    data that failed its preflight."""
