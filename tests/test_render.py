"""The Markdown comment: golden files per outcome, untrusted names, the size limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evalbot.compare import compare_buckets, decide_gate
from evalbot.errors import InputError
from evalbot.experiment_file import load_experiment
from evalbot.models import (
    Bucket,
    CostThresholds,
    FailOn,
    FetchFailed,
    Measures,
    NoBaseline,
    Ok,
    OnFetchFailure,
    Outcome,
    Scenario,
    SelfBaseline,
    Thresholds,
)
from evalbot.render import GITHUB_COMMENT_LIMIT, md_row, render_comment, render_text, safe_url

from helpers import EXAMPLES, assert_golden, make_bucket

REPRODUCE = "evalbot compare --pr-file pr.json --baseline-file baseline.json"


def render(
    outcome: Outcome,
    *,
    fail_on: FailOn = FailOn.HARD_REGRESSION,
    on_fetch_failure: OnFetchFailure = OnFetchFailure.NEUTRAL,
    **kwargs: object,
) -> str:
    gate = decide_gate(outcome, fail_on=fail_on, on_fetch_failure=on_fetch_failure)
    return render_comment(
        outcome,
        gate,
        comment_key=kwargs.pop("comment_key", "default"),  # type: ignore[arg-type]
        reproduce=REPRODUCE,
        **kwargs,  # type: ignore[arg-type]
    )


def ok(pr: Bucket, baseline: Bucket) -> Ok:
    return Ok(compare_buckets(pr, baseline, Thresholds()))


def examples() -> Ok:
    return ok(load_experiment(EXAMPLES / "pr.json"), load_experiment(EXAMPLES / "baseline.json"))


PR = make_bucket("pr-7", {"a": (3, 3), "b": (3, 3)}, metadata={"branch": "feature"})


@pytest.mark.parametrize(
    ("golden", "outcome", "on_fetch_failure"),
    [
        ("examples.md", None, OnFetchFailure.NEUTRAL),
        (
            "all_clear.md",
            ok(PR, make_bucket("main-1", {"a": (3, 3), "b": (2, 3)})),
            OnFetchFailure.NEUTRAL,
        ),
        (
            "soft_only.md",
            ok(
                make_bucket("pr", {"a": (1, 3), "b": (3, 3)}),
                make_bucket("main", {"a": (3, 3), "b": (3, 3)}),
            ),
            OnFetchFailure.NEUTRAL,
        ),
        (
            "watch_only.md",
            ok(make_bucket("pr", {"a": (3, 3)}), make_bucket("main", {"a": (1, 3)})),
            OnFetchFailure.NEUTRAL,
        ),
        (
            "no_baseline.md",
            NoBaseline(pr=PR, searched='metadata {"branch": "main"} on dataset support'),
            OnFetchFailure.NEUTRAL,
        ),
        ("self_baseline.md", SelfBaseline(pr=PR), OnFetchFailure.NEUTRAL),
        (
            "fetch_failed_neutral.md",
            FetchFailed(error="LangSmith did not answer after 3 tries (503)"),
            OnFetchFailure.NEUTRAL,
        ),
        (
            "fetch_failed_fail.md",
            FetchFailed(error="LangSmith did not answer after 3 tries (503)"),
            OnFetchFailure.FAIL,
        ),
    ],
)
def test_golden(golden: str, outcome: Outcome | None, on_fetch_failure: OnFetchFailure) -> None:
    body = render(outcome or examples(), on_fetch_failure=on_fetch_failure)
    assert body.startswith("<!-- evalbot:default -->\n")
    assert_golden(golden, body)


def test_examples_show_every_section() -> None:
    body = render(examples())
    for heading in (
        "> [!CAUTION]",
        "### Hard regressions (1)",
        "### Improvements (1)",
        "### Watch",
        "### Failure-category drift",
        "<summary>Stable (",
        "<summary>Unreliable baseline",
        "<summary>Insufficient data",
        "<summary>Only in the PR experiment",
        "<summary>Only in the baseline experiment",
        "Reproduce locally: `" + REPRODUCE + "`",
    ):
        assert heading in body


@pytest.mark.parametrize(
    ("pr", "base", "alert"),
    [
        # 0/5 vs 5/5 (p = 1/252) survives the multiplicity correction; 1/3 vs 3/3
        # (p = 1/5) does not, and soft regressions and improvements need it too
        # (issue 11 §2): 15/20 vs 20/20 (p = 0.024 <= 0.03) is soft, 3/3 vs 0/3 only a
        # swing to watch, 5/5 vs 0/5 an improvement.
        ({"a": (0, 5)}, {"a": (5, 5)}, "CAUTION"),
        ({"a": (15, 20)}, {"a": (20, 20)}, "WARNING"),
        ({"a": (1, 3)}, {"a": (3, 3)}, "NOTE"),
        ({"a": (3, 3)}, {"a": (1, 3)}, "NOTE"),
        ({"a": (3, 3)}, {"a": (0, 3)}, "NOTE"),
        ({"a": (3, 3)}, {"a": (3, 3)}, "TIP"),
        ({"a": (5, 5)}, {"a": (0, 5)}, "TIP"),
    ],
)
def test_alert_follows_worst_verdict(pr: dict, base: dict, alert: str) -> None:
    body = render(ok(make_bucket("pr", pr), make_bucket("main", base)))
    assert f"> [!{alert}]" in body
    assert body.count("> [!") == 1


def test_hard_regression_with_gate_disabled_still_says_regressed() -> None:
    body = render(examples(), fail_on=FailOn.NEVER)
    assert "> [!CAUTION]" in body
    assert "**The evalbot check passes** — gate disabled (fail_on: never) — but 1 scenario" in body
    assert "No significant regression" not in body


def test_comment_key_goes_in_marker() -> None:
    body = render(examples(), comment_key="dataset-2")
    assert body.splitlines()[0] == "<!-- evalbot:dataset-2 -->"


HOSTILE = [
    "a|b|c",
    "</details><details open>",
    "@org/team please look",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "line1\nline2\r\n| --- |",
    "`code` ``more``",
    "fixes #123 and GH-9",
    "see https://evil.example/x and www.evil.example",
    "<!-- evalbot:default -->",
    "x" * 300,
    "trailing backslash \\",
]


def _cells(row: str) -> list[str]:
    # GitHub splits a table row on pipes that are not backslash-escaped.
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def hostile_outcome() -> Ok:
    def side(name: str, passed: int) -> Bucket:
        scenarios = {
            f"{i}": Scenario(
                key=f"{i}",
                passed=passed if i % 2 else 3,
                total=3,
                label=label,
                categories={label: 1} if passed < 3 else {},
            )
            for i, label in enumerate(HOSTILE)
        }
        scenarios["only-" + name] = Scenario(
            key="@only " + name, passed=1, total=3, label=HOSTILE[3]
        )
        return Bucket(name=name, scenarios=scenarios, url="javascript:alert(1)")

    return ok(side("@evil/team <b>pr</b> #1", 0), side("base `x` | y", 3))


def test_untrusted_names_cannot_break_out() -> None:
    body = render(hostile_outcome())
    lines = body.splitlines()
    assert lines.count("<!-- evalbot:default -->") == 1
    header_cells = None
    for line in lines:
        if line.startswith("| "):
            if line.startswith("| ---"):
                continue
            if line.startswith(("| Scenario", "| Failure category")):
                header_cells = len(_cells(line))
                continue
            assert header_cells is not None
            assert len(_cells(line)) == header_cells, line
    # Inside code spans GitHub renders nothing (no HTML, mentions or links).
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "CODE", body)
    prose = re.sub(r"</?(details|summary|sub)>|<!-- evalbot:default -->", "", prose)
    assert "<" not in prose, "raw HTML survived"
    assert body.count("<details>") == body.count("</details>")
    assert not re.search(r"@\w", prose), "a mention survived"
    assert not re.search(r"#\d", prose), "a cross-reference survived"
    assert "](" not in prose, "a link survived (the experiment url is not http(s))"
    assert "://" not in prose
    assert "x" * 81 not in body, "names are capped at 80 characters"


def test_safe_url_only_allows_http() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://smith.langchain.com/o/x?a=(1)") == (
        "https://smith.langchain.com/o/x?a=%281%29"
    )
    assert safe_url(None) is None


def big_outcome(n: int, name_len: int = 300) -> Ok:
    def side(name: str, hard: bool) -> Bucket:
        scenarios = {}
        for i in range(n):
            key = f"{i:05d}-" + "n" * name_len
            passed = 0 if (hard and i % 4 == 0) else 5
            scenarios[key] = Scenario(
                key=key, passed=passed, total=5, categories={f"cat-{i % 50}": 5 - passed}
            )
        return Bucket(name=name, scenarios=scenarios)

    return ok(side("pr", True), side("base", False))


def test_twenty_thousand_long_names_fit_githubs_limit() -> None:
    body = render(big_outcome(20_000))
    assert len(body) <= GITHUB_COMMENT_LIMIT
    assert "shortened to fit GitHub's 65,536-character limit" in body
    # Hard regressions are cut last: the stable section went first.
    assert "### Hard regressions (5000)" in body
    assert re.search(r"…and \d+ more — see the job summary / JSON report", body)
    assert "<summary>Stable (15000)</summary>" in body


def test_cut_order_keeps_hard_rows_longest() -> None:
    outcome = big_outcome(400, name_len=20)
    full = render(outcome, max_chars=10**9)
    body = render(outcome, max_chars=len(full) - 5_000)
    assert len(body) <= len(full) - 5_000
    hard_rows = body.split("### Hard regressions")[1].split("<details>")[0].count("\n| 0")
    assert hard_rows == 100, "all hard rows kept while stable rows could be cut"
    assert "<summary>Stable (300)</summary>" in body


@pytest.mark.parametrize("limit", [4_000, 20_000, 65_536])
def test_any_limit_is_respected(limit: int) -> None:
    assert len(render(big_outcome(2_000, name_len=40), max_chars=limit)) <= limit


def test_md_row_is_what_the_template_prints() -> None:
    body = render(ok(make_bucket("pr", {"k": (0, 3)}), make_bucket("main", {"k": (3, 3)})))
    assert md_row(["k", "0/3 (0%)", "3/3 (100%)", "-100 pp", "0.05"]) in body


# --- custom templates ------------------------------------------------------------


def test_custom_template_overrides_builtin(tmp_path: Path) -> None:
    template = tmp_path / "mine.md.j2"
    template.write_text(
        "{{ marker }}\n{% import 'macros.md.j2' as m %}"
        "Custom: {{ outcome }} {{ counts.hard_regression }} hard\n"
        "{{ m.table(sections.hard_regression) }}",
        encoding="utf-8",
    )
    body = render(examples(), template=template)
    assert body.startswith("<!-- evalbot:default -->\nCustom: ok 1 hard\n")
    assert (
        "| Refund within 30 days | 0/5 (0%) | 5/5 (100%) | -100 pp | 0.00397 (q 0.00794) |" in body
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ marker }}\n{{ no_such_variable }}", "'no_such_variable' is undefined"),
        ("{{ marker }}\n{% if %}", "line 2"),
        ("Title\n{{ marker }}", "the first line must be {{ marker }}"),
        ("{{ marker }}\n{{ 1 / 0 }}", "division by zero"),
    ],
)
def test_broken_custom_template_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    template = tmp_path / "bad.md.j2"
    template.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        render(examples(), template=template)


def test_missing_template(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="template: file not found"):
        render(examples(), template=tmp_path / "nope.md.j2")


# --- text format ---------------------------------------------------------------------


def test_text_format_golden() -> None:
    outcome = examples()
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert_golden("examples.txt", render_text(outcome, gate))


def test_text_format_strips_terminal_escapes() -> None:
    pr = Bucket(
        name="\x1b[31mred",
        scenarios={"a": Scenario(key="a", passed=0, total=3, label="\x1b]0;title\x07x")},
    )
    base = Bucket(name="base", scenarios={"a": Scenario(key="a", passed=3, total=3)})
    outcome = ok(pr, base)
    gate = decide_gate(outcome, fail_on=FailOn.NEVER, on_fetch_failure=OnFetchFailure.NEUTRAL)
    text = render_text(outcome, gate)
    assert "\x1b" not in text and "\x07" not in text


def test_twenty_thousand_scenarios_with_history_and_trend_fit() -> None:
    """Issue 5: history and trend sections must not break the size limit."""
    big = big_outcome(20_000).comparison
    older = [
        Bucket(name=f"main-{i}", scenarios=big.baseline.scenarios, metadata={"branch": "main"})
        for i in range(3)
    ]
    outcome = Ok(compare_buckets(big.pr, big.baseline, Thresholds(), history=older))
    body = render(outcome)
    assert len(body) <= GITHUB_COMMENT_LIMIT
    assert "**Trend on `base`** (last 4 runs)" in body  # no branch: the experiment name
    assert "Baseline window: 4 runs of the base branch;" in body
    assert "| Scenario | PR | Baseline (4 runs) | Δ | p |" in body


# --- issue 6: beyond pass/fail --------------------------------------------------------------


def _measured(
    name: str,
    *,
    score: float,
    latency: float,
    cost: float,
    chars: int,
    calls: int,
    errors: int,
    n: int = 8,
) -> Bucket:
    """Eight scenarios of n trials, every measure set; ``errors`` target errors per scenario."""
    scenarios = {}
    for i in range(8):
        key = f"s{i}"
        scenarios[key] = Scenario(
            key=key,
            passed=n - errors,
            total=n,
            categories={"target_error": errors} if errors else {},
            measures=Measures(
                scores={
                    "correctness": tuple(score - i / 100 + j / 1000 for j in range(n)),
                    "tone`@team": tuple(4.0 for _ in range(n)),
                },
                latency_ms=tuple(latency * (1 + j / 10) for j in range(n)),
                tokens=tuple(1000.0 for _ in range(n)),
                cost=tuple(cost for _ in range(n)),
                output_chars=tuple(0 if errors and j < errors else chars for j in range(n)),
                tool_calls=tuple(0 if calls == 0 and j % 2 else 1 for j in range(n)),
            ),
        )
    return Bucket(name=name, scenarios=scenarios)


def beyond_outcome() -> Ok:
    """Every issue 6 section at once: a metric regression, a failing cost budget, all signals."""
    pr = _measured("pr", score=0.7, latency=3000, cost=0.004, chars=200, calls=0, errors=3)
    base = _measured("main", score=0.9, latency=2000, cost=0.002, chars=800, calls=1, errors=0)
    thresholds = Thresholds(costs=CostThresholds(fail_on_cost_increase=0.5))
    return Ok(compare_buckets(pr, base, thresholds))


def test_golden_beyond_pass_fail() -> None:
    body = render(beyond_outcome())
    for text in (
        "**Beyond pass/fail:**",
        "### Metrics (2)",
        "### Latency, tokens and cost (5)",
        "### Drift signals (4)",
        "**fails the check**",
        "cost per trial up 100% (fail_on_cost_increase: 0.5)",
    ):
        assert text in body, text
    # A feedback key is users' text: a code span (GitHub links no mention inside one),
    # widened past the key's own backtick so the cell is not broken.
    assert "| ``tone`@team`` |" in body
    assert body.count("@team") == 1
    assert_golden("beyond.md", body)


def test_twenty_thousand_scenarios_with_every_measure_fit() -> None:
    """Issue 6: metric, cost and drift sections must not break the size limit."""
    big = big_outcome(20_000, name_len=100).comparison

    def measured(bucket: Bucket, shift: float) -> Bucket:
        keys = [f"metric-{k:02d}-" + "m" * 200 for k in range(30)]
        return Bucket(
            name=bucket.name,
            scenarios={
                key: Scenario(
                    key=key,
                    passed=s.passed,
                    total=s.total,
                    categories=s.categories,
                    measures=Measures(
                        scores={k: (0.9 - shift, 0.8 - shift) for k in keys},
                        latency_ms=(1000.0 + 500 * shift, 2000.0),
                        output_chars=(0 if shift else 300, 300),
                    ),
                )
                for key, s in bucket.scenarios.items()
            },
        )

    outcome = Ok(compare_buckets(measured(big.pr, 0.1), measured(big.baseline, 0), Thresholds()))
    body = render(outcome)
    assert len(body) <= GITHUB_COMMENT_LIMIT
    assert "### Hard regressions (5000)" in body
    assert "Metrics (30)" in body and "Drift signals" in body
