"""The monitoring page on a store with 100,000 monitored requests: it opens, shows the right counts, and a second
visit is served from the cache without reading the request partitions again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import embedding_map, monitor_data
from tests.dashboard_store import seed_store

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"


def test_monitoring_page_over_100k_requests_reads_them_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = seed_store(tmp_path / "home", window_rows=12_500)
    assert store.monitor.requests == 100_010
    monkeypatch.setenv("EVALKIT_HOME", str(store.home))
    monkeypatch.delenv("EVALKIT_DASHBOARD_AUTH", raising=False)
    reads: list[object] = []
    for module in (monitor_data, embedding_map):
        original = module.load_requests
        monkeypatch.setattr(module, "load_requests", lambda *args, _read=original, **kwargs: (
            reads.append(kwargs), _read(*args, **kwargs))[1])

    def visit() -> float:
        started = time.perf_counter()
        app = AppTest.from_file(str(APP), default_timeout=120).run()
        app.switch_page("views/monitoring.py").run()
        assert not app.exception, [item.value for item in app.exception]
        tiles = {tile.label: tile.value for tile in app.metric}
        assert (tiles["windows checked"], tiles["requests in windows"]) == ("4", "50,000")
        assert "12500 of 12500 requests" in [caption.value for caption in app.caption]
        return time.perf_counter() - started

    visit()
    first_visit_reads = len(reads)
    seconds = visit()
    assert first_visit_reads > 0 and len(reads) == first_visit_reads, "the second visit read requests again"
    assert seconds < 60
