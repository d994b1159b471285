"""Live-traffic monitoring: log ingestion with quarantine, per-request descriptors (lengths, latency, tokens,
errors, refusal, guard unsafe probability, PII, injection and jailbreak similarity, prompt leakage, embeddings,
feedback), Evidently drift per window against a baseline, alert rules with sinks, auto-block screening, retrain
triggers and the periodic report. The CLI is ``evalkit monitor``; this package re-exports the Python API, imported
on first use so that ``evalkit --help`` stays fast."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name → (module, attribute). The three commands' functions share their module's name, so they are exported as
# ingest_logs, check_windows and screen_response (``monitor.check`` stays the module).
_EXPORTS = {
    "MonitorConfig": ("monitor.config", "MonitorConfig"), "load_config": ("monitor.config", "load_config"),
    "MonitorError": ("monitor._errors", "MonitorError"),
    "ingest_logs": ("monitor.ingest", "ingest"), "IngestResult": ("monitor.ingest", "IngestResult"),
    "baseline_from_range": ("monitor.baseline", "baseline_from_range"),
    "baseline_from_file": ("monitor.baseline", "baseline_from_file"),
    "check_windows": ("monitor.check", "check"), "CheckResult": ("monitor.check", "CheckResult"),
    "parse_window": ("monitor.windows", "parse_window"),
    "screen_response": ("monitor.screen", "screen"), "ScreenResult": ("monitor.screen", "ScreenResult"),
    "build_report": ("monitor.report", "build_report"), "to_markdown": ("monitor.report", "to_markdown"),
    "to_html": ("monitor.report", "to_html"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    return getattr(import_module(module), attribute)
