"""A 2-D map of prompt embeddings: a sample of the baseline's prompts and of each window's, projected on the first two
principal components of the distinct prompts drawn, so traffic that drifts away from the reference shows as a
cloud away from the baseline's. Vectors come from the monitor's embedding cache (one per distinct text, keyed by
the hash stored with each request); nothing is embedded here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboards.monitor_data import FLAG_INPUTS, baseline_frame, config_stamp, monitor_config, with_flags
from dashboards.sources import Stamp
from monitor.catalog import FLAG_COLUMNS
from monitor.config import MonitorConfig
from monitor.embedcache import EmbeddingCache
from monitor.storage import load_requests

MAP_COLUMNS = ["x", "y", "window", "timestamp", "request_id", "prompt", *FLAG_COLUMNS]
BASELINE_LABEL = "baseline"


def _sample(frame: pd.DataFrame, size: int, label: str) -> pd.DataFrame:
    picked = frame.sample(n=size, random_state=0) if len(frame) > size else frame
    return picked.assign(window=label)


def _project(vectors: np.ndarray) -> np.ndarray:
    """Coordinates of ``vectors`` (one row per distinct prompt) on their first two principal components."""
    centered = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    return centered @ components[:2].T


def _points(baseline_id: str, windows: tuple[tuple[str, str, str], ...], per_window: int) -> pd.DataFrame:
    columns = ["prompt", "prompt_hash", *FLAG_INPUTS]
    parts = [_sample(baseline_frame(baseline_id, columns), per_window, BASELINE_LABEL)]
    for label, start, end in windows:
        rows = load_requests(columns=columns, start=pd.Timestamp(start), end=pd.Timestamp(end))
        parts.append(_sample(rows, per_window, label))
    return pd.concat([part for part in parts if not part.empty] or parts, ignore_index=True)


@st.cache_data(show_spinner="Projecting prompt embeddings…", max_entries=8)
def embedding_map(requests: Stamp, embeddings: Stamp, baseline_id: str, windows: tuple[tuple[str, str, str], ...],
                  per_window: int = 400) -> pd.DataFrame:
    """Sample the baseline's and each window's prompts and place them on a 2-D map.

    Args:
        requests: :func:`dashboards.monitor_data.requests_stamp` (a cache key).
        embeddings: stamp of the embedding cache's folder (a cache key).
        baseline_id: the series' baseline (its frozen rows are the reference cloud).
        windows: ``(label, start, end)`` of each window to draw.
        per_window: at most this many prompts per window (and from the baseline), sampled with a fixed seed.

    Returns:
        :data:`MAP_COLUMNS`, one row per sampled request; empty when nothing is stored or a prompt's vector is
        missing from the cache.
    """
    del requests, embeddings
    points = _points(baseline_id, windows, per_window)
    if points.empty or points["prompt_hash"].nunique() < 3:
        return pd.DataFrame(columns=MAP_COLUMNS)
    settings, _ = monitor_config(config_stamp())
    cache = EmbeddingCache((settings or MonitorConfig()).embedder)
    distinct = points["prompt_hash"].drop_duplicates().tolist()
    try:
        vectors = cache.get(distinct)
    except KeyError:
        return pd.DataFrame(columns=MAP_COLUMNS)
    position = {key: row for row, key in enumerate(distinct)}
    coordinates = _project(vectors)[points["prompt_hash"].map(position).to_numpy()]
    flagged = with_flags(points, config_stamp()).assign(x=coordinates[:, 0], y=coordinates[:, 1])
    return flagged[MAP_COLUMNS]
