"""The false-alarm budget's parts: what the per-scenario family may spend.

Thresholds are read as the decimals users wrote in ``core.decimals``.
"""

from __future__ import annotations

from evalbot.core.models import Thresholds


def scenario_alpha(thresholds: Thresholds) -> float:
    """The part of the false-alarm budget spent on the per-scenario family."""
    return thresholds.alpha - thresholds.aggregate_alpha
