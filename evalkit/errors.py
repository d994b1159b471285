"""Errors that evalkit raises for bad input; the CLI prints each as one line and exits with code 2."""

from __future__ import annotations


class EvalkitError(Exception):
    """Base class: the message names the problem and the fix, in one line."""

    exit_code = 2


class CheckpointError(EvalkitError):
    """A checkpoint spec that cannot be resolved or a model that will not load."""


class TaskError(EvalkitError):
    """An unknown task or suite, or a task definition with a schema error."""


class DatasetUnavailableError(EvalkitError):
    """A task's dataset cannot be read (for example, offline and not cached)."""


class EndpointError(EvalkitError):
    """An OpenAI-compatible endpoint that does not answer or lacks a needed feature."""


class SettingsError(EvalkitError):
    """A scoring option outside its valid range."""


class RunNotFoundError(EvalkitError):
    """A run id that is not in the run store."""


class GateError(EvalkitError):
    """A gate that cannot decide: an invalid policy, a missing metric, runs that cannot be compared, an unfinished
    run or an unreadable file. The gate fails closed: this is exit code 2, never a pass."""


class GuardError(EvalkitError):
    """A guard that cannot score: an unknown guard or category, a malformed conversation, or a checkpoint whose
    tokenizer lacks the guard's special tokens."""
