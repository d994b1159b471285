"""The monitor's error type: bad logs, configs, windows or baselines, reported as one line with the fix."""

from __future__ import annotations

from evalkit.errors import EvalkitError


class MonitorError(EvalkitError):
    """A monitor command that cannot run: an unreadable log file, an invalid config or rule, a window spec that does
    not parse, or a check without a baseline. The CLI prints the message as one line and exits with code 2."""
