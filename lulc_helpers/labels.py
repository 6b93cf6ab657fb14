"""Working with the reference labels: class counts and the class weights of the "balance" option."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from . import scheme


def class_counts(masks: Iterable[np.ndarray]) -> np.ndarray:
    """Labelled pixels per class over all masks: an array indexed by class id (index 0 = unlabelled)."""
    counts = np.zeros(len(scheme.CLASSES) + 1, dtype=np.int64)
    for mask in masks:
        values = np.asarray(mask).astype(np.int64).ravel()
        counts += np.bincount(values, minlength=counts.size)[: counts.size]
    return counts


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency weights, w_c = N / (K * n_c), indexed by class id.

    N is the number of labelled pixels, K the number of classes present and n_c the pixels of
    class c (scikit-learn's "balanced" rule): a class with the average share gets weight 1, a
    class ten times rarer gets 10. Unlabelled (0) and absent classes get weight 0.
    """
    counts = np.asarray(counts, dtype=np.float64).copy()
    counts[scheme.NODATA] = 0
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights
