"""Every dashboard page under Streamlit's AppTest, on a store seeded with runs, a gate report, a registry with two
versions and monitored windows with alerts (``tests/dashboard_store.py``), and on an empty store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.widgets import rate
from tests.dashboard_store import BASELINE_RUN, CANDIDATE_RUN, SeededStore, request_frame, seed_store

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
PAGES = ["overview", "runs", "compare", "safety", "monitoring", "registry"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> SeededStore:
    """One seeded store for the read-only page tests of this module."""
    return seed_store(tmp_path_factory.mktemp("dashboard") / "home")


@pytest.fixture
def on_seeded(seeded: SeededStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededStore]:
    """The app reads the seeded store, with login off."""
    monkeypatch.setenv("EVALKIT_HOME", str(seeded.home))
    monkeypatch.delenv("EVALKIT_DASHBOARD_AUTH", raising=False)
    yield seeded


def open_page(page: str) -> AppTest:
    """Run the app and switch to a page; fails on any exception the page raised."""
    app = AppTest.from_file(str(APP), default_timeout=90).run()
    if page != "overview":
        app.switch_page(f"views/{page}.py").run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    """Metric tiles by label (the first tile of each label)."""
    found: dict[str, str] = {}
    for tile in app.metric:
        found.setdefault(tile.label, tile.value)
    return found


def texts(app: AppTest, kind: str) -> list[str]:
    """The values of every element of one kind (caption, markdown, error, ...)."""
    return [str(element.value) for element in getattr(app, kind)]


def chart_data(app: AppTest, title: str) -> list[pd.DataFrame]:
    """The data frames behind the Altair chart with this title (one per layer that has data)."""
    for chart in app.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if spec.get("title") == title:
            return [pa.ipc.open_stream(data.data.data).read_all().to_pandas() for data in chart.proto.datasets]
    raise AssertionError(f"no chart titled {title!r}")


def test_overview_shows_production_the_last_gate_open_alerts_and_drift(on_seeded: SeededStore) -> None:
    app = open_page("overview")
    tiles = metrics(app)
    last_window = on_seeded.monitor.window_metrics[-1]
    assert tiles["production"] == on_seeded.versions["v2"]
    assert tiles["verdict"] == on_seeded.gate_verdict.upper() == "PASS"
    assert tiles["open incidents"] == str(len(on_seeded.monitor.open_rules)) == "1"
    assert tiles["failed drift tests"] == str(int(last_window["failed_tests"]))
    assert f"embedding_drift.prompt **{last_window['embedding_drift.prompt']:.3f}**" in "".join(texts(app, "markdown"))
    assert list(app.dataframe[0].value["rule"]) == on_seeded.monitor.open_rules == ["injection-campaign"]


def test_runs_page_lists_finished_runs_and_charts_the_newest_scorecard(on_seeded: SeededStore) -> None:
    app = open_page("runs")
    assert "3 of 4 runs" in texts(app, "caption")
    assert app.header[0].value == CANDIDATE_RUN
    table = app.dataframe[1].value.set_index("task")
    for task, score in on_seeded.scores[CANDIDATE_RUN].items():
        assert table.loc[task, "value"] == pytest.approx(score)
        assert table.loc[task, "ci_low"] < score < table.loc[task, "ci_high"]
    charted = chart_data(app, "Scores per task (95% interval)")[0]
    assert list(charted["label"]) == ["evalkit_arc_easy · acc", "evalkit_hellaswag · acc_norm", "evalkit_boolq · acc"]
    assert "60 items · mean score 0.6333 · 38 scored above 0" in texts(app, "caption")


def test_runs_page_shows_a_trained_checkpoints_loss_curves_and_verdicts(on_seeded: SeededStore) -> None:
    app = open_page("runs")
    assert "Training" in [subheader.value for subheader in app.subheader]
    losses = chart_data(app, "Loss curves")[0]
    assert losses.groupby("curve")["step"].count().to_dict() == {"eval": 4, "train": 40}
    verdicts = app.dataframe[2].value
    assert list(verdicts["verdict"]) == ["no_underfitting", "no_overfitting", "no_fluctuation",
                                         "consistent_improvement", "stable"]
    assert set(verdicts["result"]) == {"pass"}


def test_runs_filters_show_failed_runs_and_match_run_ids(on_seeded: SeededStore) -> None:
    app = open_page("runs")
    status = next(widget for widget in app.multiselect if widget.label == "Status")
    status.set_value(["failed", "finished"]).run()
    assert "4 of 4 runs" in texts(app, "caption")
    app.text_input[0].set_value("smollm2").run()
    assert "1 of 4 runs" in texts(app, "caption")
    assert app.header[0].value == BASELINE_RUN


def test_run_items_drill_down_to_the_misses(on_seeded: SeededStore) -> None:
    app = open_page("runs")
    app.toggle(key="items_misses").set_value(True).run()
    items = app.dataframe[-1].value
    assert len(items) == 60 - 38 and set(items["score"]) == {0.0}
    assert (items["prediction"] != items["target"]).all()


def test_compare_page_pairs_items_and_gives_the_gates_verdicts(on_seeded: SeededStore) -> None:
    app = open_page("compare")
    assert metrics(app) == {"pass": "1", "fail": "0", "inconclusive": "2", "not paired": "0"}
    table = app.dataframe[0].value.set_index("metric_path")
    arc = table.loc["evalkit_arc_easy.acc"]
    assert (arc["value_a"], arc["value_b"]) == (pytest.approx(0.6), pytest.approx(38 / 60))
    assert arc["paired_delta"] == pytest.approx(2 / 60) and arc["method"] == "mcnemar-exact+newcombe"
    assert arc["n"] == 60 and arc["verdict"] == "inconclusive"
    app.number_input(key="compare_margin").set_value(0.15).run()
    assert metrics(app)["pass"] == "3"  # the seeded gate's margin: all pass, as the gate said


def test_safety_page_shows_rates_per_category_and_the_items_behind_them(on_seeded: SeededStore) -> None:
    app = open_page("safety")
    tiles = metrics(app)
    for metric in on_seeded.safety.summary:
        assert tiles[metric.name] == rate(metric.value)
    unsafe = chart_data(app, "harmful.unsafe_response_rate (95% interval)")[0].set_index("category")
    seeded = {metric.name: metric.value for metric in on_seeded.safety.by_category["harmful.unsafe_response_rate"]}
    assert unsafe.loc["S1 Violent Crimes", "value"] == pytest.approx(seeded["unsafe_response_rate[S1]"])
    items = app.dataframe[0].value
    assert app.selectbox(key="safety_task").value == "safety_harmful"
    assert items["prompt"].str.len().min() > 10 and items["counted"].iloc[0]


def test_monitoring_page_marks_thresholds_and_alerts_and_drills_into_a_window(on_seeded: SeededStore) -> None:
    app = open_page("monitoring")
    tiles = metrics(app)
    assert (tiles["windows checked"], tiles["requests in windows"]) == ("4", "1,200")
    assert (tiles["alerts fired"], tiles["open incidents"]) == ("2", "1")
    line, rules, alerts = chart_data(app, "injection_rate")
    assert list(line["value"]) == pytest.approx([m["injection_rate"] for m in on_seeded.monitor.window_metrics])
    assert list(rules["line"]) == [0.05] and list(alerts["kind"]) == ["firing"]
    # The drill-down opens on the newest window that fired: the first injection hour.
    injection = on_seeded.monitor.window_metrics[2]["injection_rate"]
    assert tiles["injection_rate"] == f"{injection:.3f}"
    assert any("injection-campaign" in message for message in texts(app, "error"))
    app.selectbox(key="monitor_flag").set_value("is_injection").run()
    stored = request_frame(on_seeded.home)
    in_window = stored[(stored["timestamp"] >= "2026-01-01T03:00Z") & (stored["timestamp"] < "2026-01-01T04:00Z")]
    flagged = int(in_window["injection_pattern"].sum())
    assert f"{flagged} of 300 requests" in texts(app, "caption") and flagged == round(injection * 300)


def test_monitoring_map_colours_prompts_by_window(on_seeded: SeededStore) -> None:
    app = open_page("monitoring")
    points = next(frame for chart in app.get("vega_lite_chart") for frame in [
        pa.ipc.open_stream(data.data.data).read_all().to_pandas() for data in chart.proto.datasets]
        if {"x", "y", "window"} <= set(frame.columns))
    assert set(points["window"]) == {"baseline", "2026-01-01 01:00", "2026-01-01 02:00", "2026-01-01 03:00",
                                     "2026-01-01 04:00"}
    injected = points[points["is_injection"] == 1]
    assert len(injected) > 0 and injected["x"].abs().mean() > points.loc[points["is_injection"] == 0, "x"].abs().mean()


def test_registry_page_shows_versions_history_and_the_gate_behind_a_move(on_seeded: SeededStore) -> None:
    app = open_page("registry")
    tiles = metrics(app)
    assert tiles["production"] == tiles["candidate"] == on_seeded.versions["v2"]
    versions, events, checks = (frame.value for frame in app.dataframe[:3])
    assert set(versions["version_id"]) == set(on_seeded.versions.values())
    assert list(events["action"]) == ["promote", "promote", "force-promote", "register", "register"]
    assert list(checks["check"]) == ["arc-easy", "hellaswag", "boolq-floor"] and set(checks["verdict"]) == {"pass"}
    assert any(on_seeded.gate_id in caption for caption in texts(app, "caption"))
    assert [button.label for button in app.button] == ["Promote…", "Roll back…"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_its_empty_state_on_an_empty_store(page: str, evalkit_home: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALKIT_DASHBOARD_AUTH", raising=False)
    app = open_page(page)
    assert app.info, f"{page} shows no empty state"
    assert not evalkit_home.exists(), "the dashboard must not create the store"
