"""Loss curves, as lists of (step, loss) points: one rule keeps them short."""

from __future__ import annotations

import numpy as np

CHART_POINTS = 300  # what a chart redrawn every second while a model trains can afford
EPOCH_POINTS = 200  # what a stored run keeps of each epoch
LIVE_POINTS = 2000  # what a running job keeps in memory; thinned to half when it grows past it


def thin(points: list, n: int) -> list:
    """At most n evenly spaced points, always keeping the first and the last."""
    if len(points) <= n:
        return points
    idx = np.linspace(0, len(points) - 1, n).round().astype(int)
    return [points[i] for i in idx]
