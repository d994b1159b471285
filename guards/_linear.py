"""Calibrated linear classifiers over sentence embeddings, stored as plain arrays (``.npz``), not pickles.

Training uses scikit-learn (logistic regression, Platt calibration on cross-validated scores); what ships is the
learned numbers, so loading needs only NumPy and never runs pickled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalkit.atomic import write_bytes_atomic


@dataclass(frozen=True)
class CalibratedLinear:
    """``P(y=1 | x) = sigmoid(a * (w·x + b) + c)``: a logistic regression whose score is Platt-calibrated.

    Attributes:
        weights: ``w``, shape ``(dim,)``.
        bias: ``b``.
        slope: Platt ``a``.
        offset: Platt ``c``.
    """

    weights: np.ndarray
    bias: float
    slope: float
    offset: float

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Return the calibrated probability of the positive class for each row of ``features``."""
        margin = features @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-(self.slope * margin + self.offset)))


def fit_calibrated(features: np.ndarray, labels: np.ndarray, *, seed: int = 0, c: float = 4.0) -> CalibratedLinear:
    """Fit a balanced logistic regression on all rows and calibrate its score on 5-fold out-of-fold scores.

    Args:
        features: ``(n, dim)`` inputs.
        labels: ``(n,)`` 0/1 targets.
        seed: the cross-validation shuffle seed.
        c: inverse regularisation strength.

    Returns:
        The fitted classifier.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    held_out = cross_val_predict(model, features, labels, cv=folds, method="decision_function")
    platt = LogisticRegression(C=1e6, max_iter=2000).fit(held_out.reshape(-1, 1), labels)
    model.fit(features, labels)
    return CalibratedLinear(weights=model.coef_[0].astype(np.float32), bias=float(model.intercept_[0]),
                            slope=float(platt.coef_[0, 0]), offset=float(platt.intercept_[0]))


@dataclass(frozen=True)
class LinearMulticlass:
    """A multinomial logistic regression: ``softmax(W x + b)`` over ``classes``."""

    classes: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Return ``(n, len(classes))`` class probabilities."""
        logits = features @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def fit_multiclass(features: np.ndarray, labels: list[str], *, c: float = 4.0) -> LinearMulticlass:
    """Fit a multinomial logistic regression on string labels."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000).fit(features, labels)
    return LinearMulticlass(classes=tuple(str(name) for name in model.classes_),
                            weights=model.coef_.astype(np.float32), bias=model.intercept_.astype(np.float32))


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write named arrays to ``path`` (``.npz``) atomically."""
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())


def binary_arrays(prefix: str, model: CalibratedLinear) -> dict[str, np.ndarray]:
    """Flatten a :class:`CalibratedLinear` into named arrays under ``prefix``."""
    return {f"{prefix}.weights": model.weights,
            f"{prefix}.platt": np.array([model.bias, model.slope, model.offset], dtype=np.float64)}


def binary_from(arrays: dict[str, np.ndarray], prefix: str) -> CalibratedLinear:
    """Rebuild a :class:`CalibratedLinear` stored by :func:`binary_arrays`."""
    bias, slope, offset = (float(value) for value in arrays[f"{prefix}.platt"])
    return CalibratedLinear(weights=arrays[f"{prefix}.weights"], bias=bias, slope=slope, offset=offset)


def multiclass_arrays(prefix: str, model: LinearMulticlass) -> dict[str, np.ndarray]:
    """Flatten a :class:`LinearMulticlass` into named arrays under ``prefix``."""
    return {f"{prefix}.classes": np.array(model.classes), f"{prefix}.weights": model.weights,
            f"{prefix}.bias": model.bias}


def multiclass_from(arrays: dict[str, np.ndarray], prefix: str) -> LinearMulticlass:
    """Rebuild a :class:`LinearMulticlass` stored by :func:`multiclass_arrays`."""
    return LinearMulticlass(classes=tuple(str(name) for name in arrays[f"{prefix}.classes"]),
                            weights=arrays[f"{prefix}.weights"], bias=arrays[f"{prefix}.bias"])


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read all arrays of an ``.npz`` file (no pickles allowed)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
