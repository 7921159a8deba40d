"""Colours shared by the plots: TensorFlow Playground's orange/blue for two classes."""

from __future__ import annotations

import numpy as np

ORANGE = (245, 147, 34)
BLUE = (8, 119, 189)
PALETTE = np.array(
    [ORANGE, BLUE, (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194),
     (127, 127, 127), (188, 189, 34), (23, 190, 207)],
    dtype=float,
)
WHITE = np.array([255.0, 255.0, 255.0])


def class_colors(k: int) -> np.ndarray:
    """(k, 3) RGB for k classes; class 0 is orange and class 1 blue, as in Playground."""
    return PALETTE[np.arange(k) % len(PALETTE)]


def probabilities(output: np.ndarray) -> np.ndarray:
    """(n, k) class probabilities from a sigmoid (n, 1) or softmax (n, k) output."""
    if output.shape[1] == 1:
        p = np.clip(output[:, 0], 0.0, 1.0)
        return np.column_stack([1.0 - p, p])
    p = np.clip(output, 0.0, None)
    return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)


def surface_rgb(probs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Blend class colours by probability and fade uncertain regions towards white."""
    k = probs.shape[1]
    rgb = probs @ class_colors(k)
    confidence = (probs.max(axis=1) - 1.0 / k) / (1.0 - 1.0 / k)
    alpha = 0.15 + 0.6 * np.clip(confidence, 0.0, 1.0)[:, None]
    out = WHITE * (1.0 - alpha) + rgb * alpha
    return out.reshape(*shape, 3).astype(np.uint8)


def diverging_rgb(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """Orange for negative, white for zero, blue for positive; ``limit`` maps to full colour."""
    if limit is None:
        limit = float(np.max(np.abs(values))) if values.size else 1.0
    t = np.clip(values / max(limit, 1e-12), -1.0, 1.0)[..., None]
    pos = WHITE + (np.array(BLUE) - WHITE) * np.clip(t, 0, 1)
    neg = WHITE + (np.array(ORANGE) - WHITE) * np.clip(-t, 0, 1)
    return np.where(t >= 0, pos, neg).astype(np.uint8)
