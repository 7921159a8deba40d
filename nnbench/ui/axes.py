"""Axis ends for plots that grow while training: round numbers, changed in steps."""

from __future__ import annotations

import math


def nice_ceiling(v: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of ten that is at least ``v``
    (> 0): axis ends that are round numbers and leave at most a third of the plot empty."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    k = math.floor(math.log10(v))
    for m in (1, 1.5, 2, 3, 4, 5, 6, 8, 10):
        if m * 10.0**k >= v * (1 - 1e-12):
            return m * 10.0**k
    return 10.0 ** (k + 1)
