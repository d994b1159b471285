"""One window against the reference, with Evidently: two reports per window, both saved as HTML.

- ``descriptors.html`` over every row: the window's rates and latency/token statistics (``RowCount``,
  ``MeanValue``, ``QuantileValue``, ``SumValue``) and a ``ValueDrift`` test per descriptor column plus
  ``DriftedColumnsCount`` (normed Wasserstein distance by default, so a ``drift.<column>`` score grows with drift
  at any reference size; Evidently's own choice would switch to KS p-values below 1,000 reference rows).
- ``content.html`` over at most ``drift.max_rows`` sampled rows per side: text drift of prompts and responses
  (``ValueDrift`` on text: Evidently's TF-IDF domain classifier, ROC AUC) and embedding drift of both
  (``EmbeddingsDrift`` with ``ModelDriftMethod``: a classifier on the MiniLM vectors projected on the reference's
  principal components, ROC AUC, tested with ``lte``).

Every metric's value lands in the window summary under the names of ``monitor.catalog.WINDOW_METRICS``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.atomic import write_text_atomic
from monitor.catalog import DESCRIPTOR_COLUMNS, DRIFT_PREFIX, FLAG_COLUMNS
from monitor.config import DriftSettings, Thresholds
from monitor.embedcache import EmbeddingCache

_FAILED = ("FAIL", "ERROR")


def add_flags(frame: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Return ``frame`` with the 0/1 flag columns of :data:`monitor.catalog.FLAG_COLUMNS`.

    Args:
        frame: described requests.
        thresholds: the score at or above which a request is flagged.

    Returns:
        A copy with float flag columns (``is_negative_feedback`` is NaN where there is no feedback).
    """
    flags = {
        "is_error": frame["error"].notna(),
        "is_refusal": frame["refusal_prob"] >= thresholds.refusal,
        "is_unsafe_prompt": frame["prompt_unsafe_prob"] >= thresholds.unsafe,
        "is_unsafe_response": frame["response_unsafe_prob"] >= thresholds.unsafe,
        "has_pii": frame["response_pii_count"] > 0,
        "is_injection": (frame["injection_similarity"] >= thresholds.injection) | (frame["injection_pattern"] > 0),
        "is_jailbreak": frame["jailbreak_similarity"] >= thresholds.jailbreak,
        "is_leakage": frame["leakage_overlap"] >= thresholds.leakage,
    }
    out = frame.assign(**{name: values.astype("float64") for name, values in flags.items()})
    out["is_negative_feedback"] = (frame["feedback"] < 0.5).astype("float64").where(frame["feedback"].notna())
    return out


def level_metrics() -> dict[str, Any]:
    """Return the Evidently metrics of a window's levels (rates, latency and token statistics), by window metric name.

    Each has ``tests=[]``: they are descriptive, and Evidently's automatic "within 10% of the reference" tests would
    fail on noise; alert rules judge them instead.
    """
    from evidently.metrics import MeanValue, QuantileValue, RowCount, SumValue

    means = {"error_rate": "is_error", "latency_mean_ms": "latency_ms", "prompt_tokens_mean": "prompt_tokens",
             "completion_tokens_mean": "completion_tokens", "refusal_rate": "is_refusal",
             "unsafe_prompt_rate": "is_unsafe_prompt", "unsafe_response_rate": "is_unsafe_response",
             "pii_response_rate": "has_pii", "injection_rate": "is_injection", "jailbreak_rate": "is_jailbreak",
             "leakage_rate": "is_leakage", "feedback_mean": "feedback",
             "negative_feedback_rate": "is_negative_feedback"}
    metrics: dict[str, Any] = {"rows": RowCount(tests=[])}
    metrics.update({name: MeanValue(column=column, tests=[]) for name, column in means.items()})
    metrics["latency_p50_ms"] = QuantileValue(column="latency_ms", quantile=0.5, tests=[])
    metrics["latency_p95_ms"] = QuantileValue(column="latency_ms", quantile=0.95, tests=[])
    metrics["tokens_total"] = SumValue(column="tokens_total", tests=[])
    return metrics


def _drift_metrics(columns: list[str], settings: DriftSettings) -> dict[str, Any]:
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    metrics: dict[str, Any] = {DRIFT_PREFIX + column: ValueDrift(column=column, method=settings.numeric_method,
                                                                 threshold=settings.numeric_threshold)
                               for column in columns}
    metrics["drifted_columns_share"] = DriftedColumnsCount(columns=columns, drift_share=settings.drift_share,
                                                           num_method=settings.numeric_method,
                                                           num_threshold=settings.numeric_threshold)
    return metrics


def _content_metrics(settings: DriftSettings) -> dict[str, Any]:
    from evidently.metrics import EmbeddingsDrift, ValueDrift
    from evidently.metrics.embeddings import ModelDriftMethod
    from evidently.tests import lte

    metrics: dict[str, Any] = {}
    for side in ("prompt", "response"):
        if settings.text:
            method = "abs_text_content_drift" if settings.text_threshold is not None else None
            metrics[f"text_drift.{side}"] = ValueDrift(column=side, method=method, threshold=settings.text_threshold)
        if settings.embeddings:
            threshold = settings.embedding_threshold
            metrics[f"embedding_drift.{side}"] = EmbeddingsDrift(
                embeddings_name=side, drift_method=ModelDriftMethod(threshold=threshold), tests=[lte(threshold)])
    return metrics


def _value(result: Any) -> float | None:
    value = result.share.value if hasattr(result, "share") else result.value
    return None if value is None or not np.isfinite(value) else float(value)


@dataclass
class WindowDrift:
    """The Evidently outcome of one window.

    Attributes:
        metrics: window metric name → value (None when Evidently could not compute it, e.g. no feedback).
        failed_tests: names of Evidently tests that failed (or errored).
        report_dir: the folder with ``descriptors.html`` and ``content.html``.
    """

    metrics: dict[str, float | None]
    failed_tests: list[str]
    report_dir: Path


def _run(metrics: dict[str, Any], current: pd.DataFrame, reference: pd.DataFrame | None, definition: Any,
         html_path: Path | None) -> tuple[dict[str, float | None], list[str]]:
    from evidently import Dataset, Report
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # Evidently divides by zero-variance columns (constant descriptors) and its drift classifiers stop at their
        # iteration cap; both are expected here and would otherwise flood the terminal once per window.
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        snapshot = Report(list(metrics.values()), include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            None if reference is None else Dataset.from_pandas(reference, data_definition=definition))
    if html_path is not None:
        write_text_atomic(html_path, snapshot.get_html_str(as_iframe=False))
    values = {name: _value(snapshot.context.get_metric_result(metric)) for name, metric in metrics.items()}
    failed = [test.name for test in snapshot.tests_results if str(test.status.value) in _FAILED]
    return values, failed


_NUMERIC = [*DESCRIPTOR_COLUMNS, *FLAG_COLUMNS, "feedback", "tokens_total"]


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(tokens_total=frame["prompt_tokens"] + frame["completion_tokens"])[_NUMERIC]


def baseline_levels(reference: pd.DataFrame) -> dict[str, float | None]:
    """Return the baseline's own level metrics (see :func:`level_metrics`), for rules with ``against: baseline``.

    Args:
        reference: the baseline's flagged rows.

    Returns:
        Window metric name → value.
    """
    from evidently import DataDefinition

    values, _ = _run(level_metrics(), _numeric(reference), None, DataDefinition(numerical_columns=_NUMERIC), None)
    return values


def drift_columns(current: pd.DataFrame, reference: pd.DataFrame) -> list[str]:
    """Return the descriptor columns that both sides have values for (Evidently rejects an empty column)."""
    return [column for column in DESCRIPTOR_COLUMNS
            if current[column].notna().sum() >= 2 and reference[column].notna().sum() >= 2]


@dataclass
class PreparedReference:
    """The baseline, flagged, plus its content sample with embeddings projected once for every window.

    Attributes:
        frame: every baseline row, flagged (see :func:`add_flags`).
        content: the sampled rows' texts and projected embedding columns.
        projections: per side, the PCA fitted on the reference sample (None: full vectors).
    """

    frame: pd.DataFrame
    content: pd.DataFrame
    projections: dict[str, Any]


def _content_frame(frame: pd.DataFrame, cache: EmbeddingCache, projections: dict[str, Any]) -> pd.DataFrame:
    blocks = [frame[["prompt", "response"]].reset_index(drop=True)]
    for side in ("prompt", "response"):
        vectors = cache.vectors(frame[side].tolist())
        if projections[side] is not None:
            vectors = projections[side].transform(vectors)
        blocks.append(pd.DataFrame(vectors, columns=[f"{side}_e{index}" for index in range(vectors.shape[1])]))
    return pd.concat(blocks, axis=1)


def prepare_reference(reference: pd.DataFrame, settings: DriftSettings, cache: EmbeddingCache) -> PreparedReference:
    """Sample the baseline for content drift and fit the embedding projections (``drift.embedding_components``).

    Args:
        reference: the baseline's flagged rows.
        settings: drift settings.
        cache: the embedding cache.

    Returns:
        The prepared reference.
    """
    from sklearn.decomposition import PCA

    sample = _sample(reference, settings)
    projections: dict[str, Any] = {"prompt": None, "response": None}
    if settings.embedding_components:
        for side in projections:
            vectors = cache.vectors(sample[side].tolist())
            components = min(settings.embedding_components, len(vectors) - 1, vectors.shape[1])
            projections[side] = PCA(n_components=components, random_state=settings.seed).fit(vectors)
    return PreparedReference(frame=reference, content=_content_frame(sample, cache, projections),
                             projections=projections)


@contextmanager
def _plot_projection(settings: DriftSettings) -> Iterator[None]:
    """Draw Evidently's embedding plot from fewer points, with PCA unless ``embedding_plot: tsne``.

    Evidently projects up to 2,500 rows per side with t-SNE only to draw the plot; on repeated texts (identical
    vectors) that took 7 s per embedding per window on a 2-core CPU. The drift score uses every sampled row either way.
    """
    from evidently.legacy.metrics.data_drift import embeddings_drift
    from sklearn.decomposition import PCA

    saved = embeddings_drift.SAMPLE_CONSTANT, embeddings_drift.TSNE
    embeddings_drift.SAMPLE_CONSTANT = settings.embedding_plot_points
    if settings.embedding_plot == "pca":
        embeddings_drift.TSNE = lambda n_components: PCA(n_components=n_components, random_state=settings.seed)
    try:
        yield
    finally:
        embeddings_drift.SAMPLE_CONSTANT, embeddings_drift.TSNE = saved


def _sample(frame: pd.DataFrame, settings: DriftSettings) -> pd.DataFrame:
    return frame.sample(n=settings.max_rows, random_state=settings.seed) if len(frame) > settings.max_rows else frame


def compare_window(current: pd.DataFrame, reference: PreparedReference, *, settings: DriftSettings,
                   cache: EmbeddingCache, report_dir: Path) -> WindowDrift:
    """Compare one window with the reference and save both Evidently reports.

    Args:
        current: the window's described and flagged requests (see :func:`add_flags`).
        reference: from :func:`prepare_reference`.
        settings: drift settings.
        cache: the embedding cache holding both sides' vectors.
        report_dir: where to write ``descriptors.html`` and ``content.html``.

    Returns:
        The window's metrics and failed tests.
    """
    from evidently import DataDefinition

    columns = drift_columns(current, reference.frame)
    metrics, failed = _run({**level_metrics(), **_drift_metrics(columns, settings)}, _numeric(current),
                           _numeric(reference.frame), DataDefinition(numerical_columns=_NUMERIC),
                           report_dir / "descriptors.html")
    content_metrics = _content_metrics(settings)
    if content_metrics:
        content = _content_frame(_sample(current, settings), cache, reference.projections)
        names = {side: [name for name in content.columns if name.startswith(f"{side}_e")]
                 for side in ("prompt", "response")}
        definition = DataDefinition(text_columns=["prompt", "response"], embeddings=names)
        with _plot_projection(settings):
            values, content_failed = _run(content_metrics, content, reference.content, definition,
                                          report_dir / "content.html")
        metrics.update(values)
        failed += content_failed
    metrics["failed_tests"] = float(len(failed))
    return WindowDrift(metrics=metrics, failed_tests=failed, report_dir=report_dir)
