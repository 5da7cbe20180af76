"""CSV exports for spreadsheets and dashboards (issue 6 §5). Pure: values in, text out.

Two tables, one row per scenario:

- ``experiment_csv``: one experiment (``evalbot export … --format csv``);
- ``comparison_csv``: both sides, the change and the verdict
  (``evalbot compare --format csv``), with scenarios present on one side only
  as rows whose verdict is ``pr_only`` / ``baseline_only``.

Numbers are written so they read back exactly: integers as integers, floats
with Python's shortest round-trip form (``repr``), and "no value" as an empty
cell. Failure categories are one JSON object per cell (category names are
free text and may contain any separator). Text cells that a spreadsheet would
run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return; OWASP "CSV injection") get a leading ``'``: scenario names come from
users' datasets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence

from evalbot.core import stats
from evalbot.core.metrics import metric_keys, scenario_figures
from evalbot.core.models import Bucket, Comparison, CostMeasure, Scenario

# Per-scenario latency/token/cost columns, in this order.
FIGURES = tuple(CostMeasure)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """Untrusted text, defused for spreadsheets."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def number_cell(value: float | int | None) -> str:
    """An exact, round-trippable number; empty for None."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _categories(scenario: Scenario) -> str:
    return json.dumps(dict(scenario.categories), ensure_ascii=False, sort_keys=True)


def _metric_mean(scenario: Scenario | None, key: str) -> float | None:
    # The same mean (math.fsum) as the report's and the comment's, to the last digit.
    values = () if scenario is None else scenario.measures.scores.get(key, ())
    return stats.mean_interval(values)[0]


def _write(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    # The default "\r\n" terminator (RFC 4180) also makes the writer quote a
    # field holding a bare "\r": with "\n" alone, Python before 3.11.9 / 3.12.3
    # (gh-67044) leaves it unquoted and the row splits when read back.
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def experiment_csv(bucket: Bucket) -> str:
    """One row per scenario of ``bucket``: counts, categories, metric means, figures."""
    keys = metric_keys(bucket)
    header = [
        "key",
        "label",
        "passed",
        "total",
        "rate",
        "unscored",
        "categories",
        *(f"score:{key}" for key in keys),
        *(m.value for m in FIGURES),
    ]
    rows = []
    for scenario in bucket.scenarios.values():
        figures = scenario_figures(scenario)
        rows.append(
            [
                text_cell(scenario.key),
                text_cell(scenario.label),
                number_cell(scenario.passed),
                number_cell(scenario.total),
                number_cell(scenario.rate),
                number_cell(scenario.unscored),
                _categories(scenario),
                *(number_cell(_metric_mean(scenario, key)) for key in keys),
                *(number_cell(figures[m]) for m in FIGURES),
            ]
        )
    return _write(header, rows)


def _side(scenario: Scenario | None, keys: Sequence[str]) -> dict[str, str]:
    if scenario is None:
        return {}
    figures = scenario_figures(scenario)
    out = {
        "passed": number_cell(scenario.passed),
        "total": number_cell(scenario.total),
        "rate": number_cell(scenario.rate),
        "categories": _categories(scenario),
    }
    out.update({f"score:{k}": number_cell(_metric_mean(scenario, k)) for k in keys})
    out.update({m.value: number_cell(figures[m]) for m in FIGURES})
    return out


def comparison_csv(comparison: Comparison) -> str:
    """One row per scenario with both sides, the change and the verdict.

    The baseline's pass counts are the ones the verdict used: pooled over the
    history window when there is one (``baseline_runs`` says how many runs);
    metric means and figures are the latest baseline's.
    """
    keys = metric_keys(comparison.pr, comparison.baseline)
    side_columns = [
        "passed",
        "total",
        "rate",
        "categories",
        *(f"score:{k}" for k in keys),
        *(m.value for m in FIGURES),
    ]
    header = [
        "key",
        "label",
        "verdict",
        *(f"pr_{c}" for c in side_columns),
        *(f"baseline_{c}" for c in side_columns),
        "baseline_runs",
        "delta",
        "p_worse",
        "p_better",
        "q",
        *(f"delta_score:{k}" for k in keys),
    ]

    def runs(key: str) -> str:
        # The runs whose counts were pooled for this scenario: the latest
        # baseline and each history run that has it.
        return number_cell(1 + sum(1 for older in comparison.history if key in older.scenarios))

    def row(
        key: str,
        label: str,
        verdict: str,
        pr: Scenario | None,
        baseline: Scenario | None,
        tests: Mapping[str, str],
        *,
        pooled: bool = False,
    ) -> list[str]:
        pr_side, base_side = _side(pr, keys), _side(baseline, keys)
        deltas = []
        for k in keys:
            a, b = _metric_mean(pr, k), _metric_mean(baseline, k)
            deltas.append(number_cell(None if a is None or b is None else a - b))
        return [
            text_cell(key),
            text_cell(label),
            verdict,
            *(pr_side.get(c, "") for c in side_columns),
            *(base_side.get(c, "") for c in side_columns),
            "" if baseline is None else runs(key) if pooled else "1",
            tests.get("delta", ""),
            tests.get("p_worse", ""),
            tests.get("p_better", ""),
            tests.get("q", ""),
            *deltas,
        ]

    rows = []
    for r in comparison.scenarios:
        baseline = r.pooled or r.baseline
        # Counts as the verdict saw them; measures from the latest baseline run.
        shown = Scenario(
            key=r.baseline.key,
            passed=baseline.passed,
            total=baseline.total,
            label=r.baseline.label,
            categories=r.baseline.categories,
            unscored=r.baseline.unscored,
            measures=r.baseline.measures,
        )
        tests = {
            "delta": number_cell(r.delta),
            "p_worse": number_cell(float(r.p_worse)),
            "p_better": number_cell(float(r.p_better)),
            "q": number_cell(r.q),
        }
        rows.append(row(r.key, r.label, r.verdict.value, r.pr, shown, tests, pooled=True))
    for s in comparison.pr_only:
        rows.append(row(s.key, s.label, "pr_only", s, None, {}))
    for s in comparison.baseline_only:
        rows.append(row(s.key, s.label, "baseline_only", None, s, {}))
    return _write(header, rows)
