"""The statistics the gate uses, in one namespace: ``from evalbot.core import stats``.

Pure and stdlib-only: no numpy/scipy, no I/O, no environment, so the same
counts always give the same verdict on a laptop and in CI. The parts live in
fisher (exact tests and the p <= alpha rule), multiple_testing (BH, Tarone),
t_dist (Student's t and the normal) and descriptive (Wilson, mean intervals,
Wilcoxon, percentiles).
"""

from __future__ import annotations

from evalbot.core.descriptive import (
    Z_95,
    mean_interval,
    percentile,
    relative_change,
    wilcoxon_signed_rank,
    wilson_interval,
)
from evalbot.core.fisher import (
    fisher_better,
    fisher_left_tail,
    fisher_right_tail,
    fisher_tails,
    fisher_worse,
    min_attainable_better,
    min_attainable_worse,
    significant,
    two_sided_at_most,
)
from evalbot.core.multiple_testing import benjamini_hochberg, tarone_bh, tarone_bh_grouped
from evalbot.core.t_dist import normal_lower_tail, t_lower_tail, t_quantile

__all__ = [
    "Z_95",
    "benjamini_hochberg",
    "fisher_better",
    "fisher_left_tail",
    "fisher_right_tail",
    "fisher_tails",
    "fisher_worse",
    "mean_interval",
    "min_attainable_better",
    "min_attainable_worse",
    "normal_lower_tail",
    "percentile",
    "relative_change",
    "significant",
    "t_lower_tail",
    "t_quantile",
    "tarone_bh",
    "tarone_bh_grouped",
    "two_sided_at_most",
    "wilcoxon_signed_rank",
    "wilson_interval",
]
