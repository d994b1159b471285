"""Rebuild the embedded classifiers from the exemplars that ship with evalkit: ``python -m guards.train``.

Writes ``guards/artifacts/reference.npz`` (the ``reference`` guard), ``guards/artifacts/refusal.npz`` (the refusal
detector) and ``guards/artifacts/metrics.json``: 5-fold cross-validated precision, recall and F1, overall and per
hazard category, which the README reports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evalkit.atomic import write_text_atomic
from evalkit.embeddings import embed
from guards._linear import binary_arrays, fit_calibrated, fit_multiclass, multiclass_arrays, save_arrays
from guards.refusal import refusal_features

ROOT = Path(__file__).parent
EXEMPLARS = ROOT / "data" / "exemplars.jsonl"
REFUSALS = ROOT / "safety" / "data" / "refusals.jsonl"
ARTIFACTS = ROOT / "artifacts"
SEED = 0


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file into a list of objects."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def binary_report(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and support of the positive class."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, average="binary", zero_division=0)
    return {"precision": round(float(precision), 3), "recall": round(float(recall), 3), "f1": round(float(f1), 3),
            "n": len(labels), "positives": int(labels.sum())}


def out_of_fold(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Out-of-fold calibrated probabilities: each row scored by a model trained on the other four folds."""
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros(len(labels))
    for train, test in StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(features, labels):
        probs[test] = fit_calibrated(features[train], labels[train], seed=SEED).predict_proba(features[test])
    return probs


def category_report(codes: Sequence[str | None], flagged: np.ndarray, predicted_codes: Sequence[str]) -> dict:
    """Per-category precision/recall/F1 of "flagged unsafe with this top category" against the true category."""
    report = {}
    for code in sorted({code for code in codes if code}, key=lambda code: int(code[1:])):
        truth = np.array([item == code for item in codes])
        guess = flagged & np.array([item == code for item in predicted_codes])
        report[code] = binary_report(truth.astype(int), guess.astype(int))
    return report


def train_reference(rows: list[dict]) -> tuple[dict[str, np.ndarray], dict]:
    """Fit the prompt and response detectors and the category model; return their arrays and CV metrics."""
    arrays: dict[str, np.ndarray] = {}
    metrics: dict = {}
    texts = [row["prompt"] if row["kind"] == "prompt" else row["response"] for row in rows]
    vectors = embed(texts)
    for mode in ("prompt", "response"):
        index = [i for i, row in enumerate(rows) if row["kind"] == mode]
        labels = np.array([rows[i]["label"] == "unsafe" for i in index], dtype=int)
        probs = out_of_fold(vectors[index], labels)
        metrics[mode] = binary_report(labels, (probs >= 0.5).astype(int))
        arrays |= binary_arrays(mode, fit_calibrated(vectors[index], labels, seed=SEED))
        if mode == "prompt":
            codes = [rows[i]["category"] for i in index]
            predicted = _out_of_fold_categories(vectors, rows, index)
            metrics["prompt_categories"] = category_report(codes, probs >= 0.5, predicted)
            metrics["borderline_false_positive_rate"] = _borderline_fpr(rows, index, probs)
    unsafe = [i for i, row in enumerate(rows) if row["label"] == "unsafe"]
    arrays |= multiclass_arrays("category", fit_multiclass(vectors[unsafe], [rows[i]["category"] for i in unsafe]))
    return arrays, metrics


def _out_of_fold_categories(vectors: np.ndarray, rows: list[dict], index: list[int]) -> list[str]:
    """Top category for each prompt row from a category model that never saw that row."""
    from sklearn.model_selection import KFold

    unsafe_all = [i for i, row in enumerate(rows) if row["label"] == "unsafe"]
    predicted = [""] * len(index)
    for train, test in KFold(n_splits=5, shuffle=True, random_state=SEED).split(index):
        held_out = {index[position] for position in test}
        train_rows = [i for i in unsafe_all if i not in held_out]
        model = fit_multiclass(vectors[train_rows], [rows[i]["category"] for i in train_rows])
        probs = model.predict_proba(vectors[[index[position] for position in test]])
        for position, best in zip(test, probs.argmax(axis=1), strict=True):
            predicted[position] = model.classes[best]
    return predicted


def _borderline_fpr(rows: list[dict], index: list[int], probs: np.ndarray) -> dict[str, float]:
    borderline = [position for position, i in enumerate(index) if rows[i].get("borderline")]
    flagged = int((probs[borderline] >= 0.5).sum())
    return {"false_positive_rate": round(flagged / max(len(borderline), 1), 3), "n": len(borderline)}


def train_refusal(rows: list[dict]) -> tuple[dict[str, np.ndarray], dict]:
    """Fit the refusal detector; return its arrays and CV metrics."""
    texts = [row["text"] for row in rows]
    labels = np.array([row["label"] == "refusal" for row in rows], dtype=int)
    features = refusal_features(texts)
    probs = out_of_fold(features, labels)
    return binary_arrays("refusal", fit_calibrated(features, labels, seed=SEED)), binary_report(labels, probs >= 0.5)


def main() -> None:
    """Train both classifiers, write the artefacts and the metrics, print the metrics."""
    ARTIFACTS.mkdir(exist_ok=True)
    exemplars = read_jsonl(EXEMPLARS)
    reference_arrays, reference_metrics = train_reference(exemplars)
    save_arrays(ARTIFACTS / "reference.npz", reference_arrays)
    refusal_arrays, refusal_metrics = train_refusal(read_jsonl(REFUSALS))
    save_arrays(ARTIFACTS / "refusal.npz", refusal_arrays)
    metrics = {"reference": reference_metrics, "refusal": refusal_metrics, "folds": 5, "seed": SEED,
               "exemplars": len(exemplars)}
    write_text_atomic(ARTIFACTS / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
