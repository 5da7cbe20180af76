"""The Markdown comment: golden files per outcome, untrusted names, the size limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from evalbot.core.compare import compare_buckets, decide_gate
from evalbot.core.models import (
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
from evalbot.errors import InputError
from evalbot.output import render as render_module
from evalbot.output.render import (
    GITHUB_COMMENT_LIMIT,
    RunLinks,
    is_notable,
    md_row,
    pvalue,
    render_comment,
    render_text,
    safe_url,
)
from evalbot.sources.experiment_file import load_experiment

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
                # 15/20 vs 20/20 (p = 0.024) survives the correction (q <= 0.03) but
                # drops 25 pp, under the hard tier's 30 (issue 11 §2: soft is corrected too).
                make_bucket("pr", {"a": (15, 20), "b": (3, 3)}),
                make_bucket("main", {"a": (20, 20), "b": (3, 3)}),
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
        ("cost_only.md", None, OnFetchFailure.NEUTRAL),
        ("aggregate_only.md", None, OnFetchFailure.NEUTRAL),
    ],
)
def test_golden(golden: str, outcome: Outcome | None, on_fetch_failure: OnFetchFailure) -> None:
    if outcome is None:
        outcome = {
            "cost_only.md": cost_only_outcome,
            "aggregate_only.md": aggregate_only_outcome,
        }.get(golden, examples)()
    body = render(outcome, on_fetch_failure=on_fetch_failure)
    assert body.startswith("<!-- evalbot:default -->\n")
    assert_golden(golden, body)


def test_examples_show_every_section() -> None:
    body = render(examples())
    for heading in (
        "> [!CAUTION]\n> ❌ **evalbot fails**: 1 hard regression — *Refund within 30 days* "
        "100% → 0%\\\n",
        "| Verdict | Scenario | PR | Baseline | Δ |\n| --- | --- | --: | --: | --: |\n"
        "| ❌ hard | Refund within 30 days |",
        "| ✅ better | Gift card balance |",
        "| 👀 watch | Refund above the agent's limit |",
        "| 👀 watch | Product recommendation |",
        "<summary>Failure categories (8: 1 notable, 2 new)</summary>",
        "<summary>Other scenarios: 21 stable · 1 unreliable baseline · 1 without data · "
        "1 only in the PR · 1 only in the baseline</summary>",
        "**Unreliable baseline",
        "**Insufficient data",
        "**Only in the PR experiment",
        "**Only in the baseline experiment",
        "<summary>How sure we are</summary>",
        "Reproduce locally: `" + REPRODUCE + "`",
    ):
        assert heading in body


def _visible(body: str) -> str:
    """What a reader sees before unfolding anything: the body without <details> blocks."""
    out, depth = [], 0
    for line in body.splitlines():
        depth += line.count("<details>")
        if depth == 0:
            out.append(line)
        depth -= line.count("</details>")
    return "\n".join(out)


def test_example_reads_in_ten_seconds() -> None:
    """Structural proxies of the rendered height (bench/bench_comment.py measures pixels)."""
    visible = _visible(render(examples()))
    # One table is visible: the one that needs attention (header, rule, 4 rows).
    assert visible.count("| --- |") == 1
    assert len([line for line in visible.splitlines() if line.startswith("|")]) == 6
    assert len([line for line in visible.splitlines() if line.strip()]) <= 16
    # Jargon and raw statistics live in "How sure we are" only.
    for word in ("CMH", "q ", "α", "Benjamini", "p-value", "p = ", "e-0"):
        assert word not in visible, word
    # The gate speaks first: the first line after the marker is the alert.
    assert visible.splitlines()[1:3] == [
        "> [!CAUTION]",
        "> ❌ **evalbot fails**: 1 hard regression — *Refund within 30 days* 100% → 0%\\",
    ]


@pytest.mark.parametrize(
    ("pr", "base", "alert"),
    [
        # 0/5 vs 5/5 (p = 1/252) survives the multiplicity correction; 1/3 vs 3/3
        # (p = 1/5) does not, and soft regressions and improvements need it too
        # (issue 11 §2): 15/20 vs 20/20 (p = 0.024 <= 0.03) is soft, 3/3 vs 0/3 only a
        # swing to watch, 5/5 vs 0/5 an improvement.
        ({"a": (0, 5)}, {"a": (5, 5)}, "CAUTION"),
        ({"a": (15, 20)}, {"a": (20, 20)}, "WARNING"),
        ({"a": (1, 3)}, {"a": (3, 3)}, "WARNING"),
        ({"a": (3, 3)}, {"a": (1, 3)}, "WARNING"),
        ({"a": (3, 3)}, {"a": (0, 3)}, "WARNING"),
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
    assert "> [!WARNING]" in body
    assert (
        "> ⚠️ **evalbot passes (fail_on: never)**: but 1 hard regression — "
        "*Refund within 30 days* 100% → 0%; 2 scenarios to watch" in body
    )


@pytest.mark.parametrize(
    ("outcome", "on_fetch_failure", "alert", "first"),
    [
        (lambda: cost_only_outcome(), OnFetchFailure.NEUTRAL, "CAUTION", "❌ **evalbot fails**"),
        (
            lambda: aggregate_only_outcome(),
            OnFetchFailure.NEUTRAL,
            "CAUTION",
            "❌ **evalbot fails**",
        ),
        (lambda: FetchFailed(error="503"), OnFetchFailure.FAIL, "CAUTION", "❌ **evalbot fails**"),
        (
            lambda: FetchFailed(error="503"),
            OnFetchFailure.NEUTRAL,
            "WARNING",
            "⚠️ **evalbot passes without checking**",
        ),
        (
            lambda: NoBaseline(pr=PR, searched="x"),
            OnFetchFailure.NEUTRAL,
            "NOTE",
            "ℹ️ **evalbot passes, nothing compared**",
        ),
        (
            lambda: SelfBaseline(pr=PR),
            OnFetchFailure.NEUTRAL,
            "NOTE",
            "ℹ️ **evalbot passes, nothing compared**",
        ),
    ],
)
def test_alert_follows_the_gate(
    outcome: Callable[[], Outcome], on_fetch_failure: OnFetchFailure, alert: str, first: str
) -> None:
    """CAUTION whenever the check fails, whatever the reason: never green above a red check."""
    body = render(outcome(), on_fetch_failure=on_fetch_failure)
    lines = body.splitlines()
    assert lines[1] == f"> [!{alert}]"
    assert lines[2].startswith(f"> {first}: ")
    assert body.count("> [!") == 1


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
            if line.startswith(("| Scenario", "| Failure category", "| Verdict")):
                header_cells = len(_cells(line))
                continue
            assert header_cells is not None
            assert len(_cells(line)) == header_cells, line
    # Inside code spans GitHub renders nothing (no HTML, mentions or links).
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "CODE", body)
    prose = re.sub(r"</?(details|summary|sub)>|<!-- evalbot:default -->|< 0\.001", "", prose)
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


# A row of the attention table (the evidence table has the verdict in its second column).
HARD_ROW = re.compile(r"^\| ❌ hard \|", re.MULTILINE)


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
    assert len(HARD_ROW.findall(body)) > 100
    assert "5,000 hard regressions" in body
    assert re.search(r"…and [\d,]+ more hard regressions in the job summary and the JSON", body)
    assert "…and 15,000 more in the job summary and the JSON report." in body  # the stable rows
    assert "<summary>Other scenarios: 15,000 stable</summary>" in body


def test_cut_order_keeps_hard_rows_longest() -> None:
    outcome = big_outcome(400, name_len=20)
    full = render(outcome, max_chars=10**9)
    body = render(outcome, max_chars=len(full) - 5_000)
    assert len(body) <= len(full) - 5_000
    assert len(HARD_ROW.findall(body)) == 100, "all hard rows kept while stable rows could be cut"
    assert "<summary>Other scenarios: 300 stable</summary>" in body


@pytest.mark.parametrize("limit", [4_000, 20_000, 65_536])
def test_any_limit_is_respected(limit: int) -> None:
    assert len(render(big_outcome(2_000, name_len=40), max_chars=limit)) <= limit


def test_md_row_is_what_the_template_prints() -> None:
    body = render(ok(make_bucket("pr", {"k": (15, 20)}), make_bucket("main", {"k": (20, 20)})))
    assert md_row(["⚠️ soft", "k", "15/20 (75%)", "20/20 (100%)", "-25 pp"]) in body


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
    assert "| ❌ hard | Refund within 30 days | 0/5 (0%) | 5/5 (100%) | -100 pp |" in body


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
    assert "xychart-beta" in body  # the chart replaced the sparklines (issue 13 §6)
    assert "baseline window of 4 runs of the base branch" in body
    assert "| Verdict | Scenario | PR | Baseline (4 runs) | Δ |" in body


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
        "<summary>Beyond pass/fail: 2 metrics · 5 latency, tokens and cost · 4 drift signals",
        "**Metrics**",
        "**Latency, tokens and cost**",
        "**Drift signals**",
        "**fails the check**",
        "cost per trial up 100% (budget +50%)",
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
    assert "5,000 hard regressions" in body
    assert "30 metrics" in body and "Drift signals" in body


# --- issue 13: the gate first, links, numbers, chart, job summary ---------------------------


def cost_only_outcome() -> Ok:
    """Nothing regressed, but cost per trial doubled past a 50% budget."""
    pr = _measured("pr", score=0.9, latency=2000, cost=0.004, chars=800, calls=1, errors=0)
    base = _measured("main", score=0.9, latency=2000, cost=0.002, chars=800, calls=1, errors=0)
    thresholds = Thresholds(costs=CostThresholds(fail_on_cost_increase=0.5))
    return Ok(compare_buckets(pr, base, thresholds))


def aggregate_only_outcome() -> Ok:
    """40 scenarios each 20 pp down: no scenario is flagged, the aggregate test fails the check.

    With one baseline run the drop must significantly exceed the 7.5 pp margin
    (compare.single_run_margin): 10 pp down everywhere does not (p = 0.057).
    """
    pr = make_bucket("pr", {f"s{i:02d}": (8, 10) for i in range(40)})
    base = make_bucket("main", {f"s{i:02d}": (10, 10) for i in range(40)})
    return ok(pr, base)


def test_cost_and_aggregate_failures_never_show_a_pass() -> None:
    cost = render(cost_only_outcome())
    assert "> ❌ **evalbot fails**: cost per trial up 100% (budget +50%)" in cost
    assert "no regression" not in _visible(cost) and "passes" not in _visible(cost)
    assert "**What next:** bring latency, tokens or cost back under the budget" in cost
    aggregate = render(aggregate_only_outcome())
    assert (
        "> ❌ **evalbot fails**: a broad drop across 40 scenarios (80.0% of trials passed, "
        "100.0% expected from 1 baseline run)\\\n" in aggregate
    )
    assert "passes" not in _visible(aggregate) and "CMH" not in aggregate
    assert "**What next:** look for a cause shared by many scenarios" in aggregate


def linked_outcome(**pr_meta: object) -> Ok:
    web = "https://ls.example.com/o/tenant-1"
    common = {"web_url": web, "dataset_id": "ds-1", "example_links": True}
    pr = make_bucket(
        "pr-exp",
        {"0f3c": (0, 5), "b": (5, 5)},
        id="pr-id",
        url=f"{web}/projects/p/pr-id",
        metadata={"commit": "3f2a9c1d7e5b4a0f9c8d3f2a9c1d7e5b4a0f9c8d", **pr_meta},
        **common,
    )
    base = make_bucket(
        "main-exp",
        {"0f3c": (5, 5), "b": (5, 5)},
        id="base-id",
        url=f"{web}/projects/p/base-id",
        metadata={"commit": "8c41e07b2a9d1f3e6c5b8c41e07b2a9d1f3e6c5b"},
        **common,
    )
    return ok(pr, base)


LINKS = RunLinks(
    repository_url="https://github.com/acme/agent",
    run_url="https://github.com/acme/agent/actions/runs/7",
    head_sha="3f2a9c1d7e5b4a0f9c8d3f2a9c1d7e5b4a0f9c8d",
    report_path="evalbot-report.json",
)


def test_links_into_langsmith_github_and_the_run() -> None:
    body = render(linked_outcome(), links=LINKS)
    compare = (
        "https://ls.example.com/o/tenant-1/datasets/ds-1/compare?selectedSessions=pr-id,base-id"
    )
    assert f"[compare the experiments]({compare})" in body
    assert "| ❌ hard | [0f3c](https://ls.example.com/o/tenant-1/datasets/ds-1/e/0f3c) |" in body
    assert "[pr\\-exp](https://ls.example.com/o/tenant-1/projects/p/pr-id)" in body
    assert "at [`3f2a9c1`](https://github.com/acme/agent/commit/3f2a9c1d7e5b4a0f9c8d" in body
    assert "[`8c41e07`](https://github.com/acme/agent/commit/8c41e07b2a9d" in body
    assert "[workflow run](https://github.com/acme/agent/actions/runs/7)" in body
    assert "stale" not in body  # the PR experiment ran on the head commit


def test_no_compare_link_across_datasets_and_no_example_links_for_other_keys() -> None:
    outcome = linked_outcome()
    pr = replace(outcome.comparison.pr, dataset_id="other", example_links=False)
    body = render(ok(pr, outcome.comparison.baseline), links=LINKS)
    assert "compare?" not in body and "/e/" not in body


def test_stale_experiment_warning_at_the_top() -> None:
    links = replace(LINKS, head_sha="a" * 40)
    body = render(linked_outcome(), links=links)
    lines = body.splitlines()
    assert lines[5] == (
        "> ⚠️ The PR experiment ran on commit `3f2a9c1`, not on this PR's head `aaaaaaa`: its "
        "results may be stale. Re-run the evals on the head commit."
    )
    # A short SHA in the metadata matches the head it starts.
    short = render(linked_outcome(commit="3f2a9c1"), links=LINKS)
    assert "stale" not in short
    text = render_text(
        linked_outcome(),
        decide_gate(
            linked_outcome(),
            fail_on=FailOn.HARD_REGRESSION,
            on_fetch_failure=OnFetchFailure.NEUTRAL,
        ),
        links=links,
    )
    assert "warning: The PR experiment ran on commit 3f2a9c1, not on this PR's head aaaaaaa" in text


def history_outcome(runs: int) -> Ok:
    pr = make_bucket("pr", {"a": (8, 10), "b": (10, 10)})
    base = make_bucket("main", {"a": (10, 10), "b": (10, 10)}, metadata={"branch": "main"})
    older = [
        make_bucket(f"main-{i}", {"a": (9 + i % 2, 10), "b": (10, 10)}) for i in range(runs - 1)
    ]
    return Ok(compare_buckets(pr, base, Thresholds(), history=older))


def test_mermaid_chart_from_three_runs_with_a_text_fallback() -> None:
    assert "mermaid" not in render(history_outcome(2))
    body = render(history_outcome(3))
    assert (
        "<details><summary>Pass rate over the last 3 baseline runs on the base branch and this "
        "PR (improving)</summary>\n\n```mermaid\nxychart-beta\n"
        '    x-axis "runs ago" ["-3", "-2", "-1", "PR"]\n'
        '    y-axis "pass rate (%)" 0 --> 100\n'
        "    line [95.0, 100.0, 100.0, 90.0]\n```\n\n</details>"
    ) in body
    assert "▁" not in body and "█" not in body  # no block sparklines any more
    outcome = history_outcome(3)
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert "pass rate by run: -3 95.0% · -2 100.0% · -1 100.0% · PR 90.0%" in render_text(
        outcome, gate
    )


def test_plain_numbers() -> None:
    assert [pvalue(p) for p in (0.004, 0.0004, 0.0833, 1, None)] == [
        "0.004",
        "< 0.001",
        "0.083",
        "1.000",
        "n/a",
    ]
    body = render(examples())
    assert "e-0" not in body  # no exponents anywhere
    assert "| Tokens per trial | 1,239 | 995 | +244 (+25%) | notable |" in body
    # One number of decimals per row, the change absolute and relative.
    assert "| Latency p95 | 3.96 s | 3.20 s | +0.77 s (+24%) |  |" in body
    assert "| `correctness` | 0.828 (0.811–0.845) | 0.909 (0.898–0.920) | -0.081 (-8.9%) |" in body
    # α is stated once; plurals agree.
    assert body.count("α =") == 1
    assert "1 scenarios" not in body and "1 runs" not in body


def test_zero_counts_disappear_and_hard_rows_sort_by_drop() -> None:
    pr = make_bucket("pr", {"a": (3, 10), "b": (0, 10), "c": (10, 10)})
    base = make_bucket("main", {"a": (10, 10), "b": (10, 10), "c": (10, 10)})
    body = render(ok(pr, base))
    assert "0 " not in body.splitlines()[3]  # the summary line: no "0 soft regressions"
    assert body.index("| ❌ hard | b |") < body.index("| ❌ hard | a |")  # -100 pp before -70 pp


def test_job_summary_has_every_row_unfolded_and_no_self_reference() -> None:
    outcome = big_outcome(2_000, name_len=40)
    summary = render(outcome, summary=True, links=LINKS, max_chars=10**9)
    assert "<details>" not in summary
    assert "### Other scenarios: 1,500 stable" in summary
    assert summary.count("| stable |") == 1_500 and len(HARD_ROW.findall(summary)) == 500
    assert "job summary" not in summary
    cut = render(
        outcome, summary=True, links=LINKS, max_chars=50_000, size=lambda t: len(t.encode())
    )
    assert len(cut.encode()) <= 50_000 and "job summary" not in cut.replace("job-summary", "")
    assert "every row is in the JSON report `evalbot-report.json`" in cut
    comment = render(outcome, links=LINKS, max_chars=50_000)
    assert "in the [job summary](https://github.com/acme/agent/actions/runs/7)" in comment


def test_non_ascii_names_fit_in_characters() -> None:
    """GitHub's limit counts characters, not bytes: fill it with multi-byte names."""

    def side(name: str, hard: bool) -> Bucket:
        scenarios = {}
        for i in range(6_000):
            key = f"{i:05d}-" + "рüß😀" * 20
            passed = 0 if (hard and i % 3 == 0) else 5
            scenarios[key] = Scenario(key=key, passed=passed, total=5)
        return Bucket(name=name, scenarios=scenarios)

    body = render(ok(side("pr", True), side("base", False)))
    assert len(body) <= GITHUB_COMMENT_LIMIT < len(body.encode("utf-8"))
    assert "shortened to fit" in body


def test_text_format_verdict_first_and_names_unescaped() -> None:
    outcome = examples()
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    text = render_text(outcome, gate)
    assert text.splitlines()[0] == (
        "evalbot fails: 1 hard regression — Refund within 30 days 100% → 0%"
    )
    assert "hallucinated_policy" in text and "\\_" not in text


def test_is_notable_only_false_for_a_clean_pass() -> None:
    clean = ok(PR, make_bucket("main-1", {"a": (3, 3), "b": (3, 3)}))
    neutral = OnFetchFailure.NEUTRAL
    gate = decide_gate(clean, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=neutral)
    assert not is_notable(clean, gate)
    for outcome in (examples(), NoBaseline(pr=PR, searched="x"), FetchFailed(error="x")):
        gate = decide_gate(outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=neutral)
        assert is_notable(outcome, gate)


def _fit_every_row(outcome: Outcome, limit: int) -> str:
    """The comment cut from sections with every row built: what the fast path must equal."""
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    context = render_module.comment_context(
        outcome, gate, comment_key="default", reproduce=REPRODUCE
    )
    compiled = render_module._load_template(None)
    return render_module._fit(compiled, context, "built-in", user=False, max_chars=limit, size=len)


@pytest.mark.parametrize(("hard", "limit"), [(0, 20_000), (40, 65_536), (1_500, 20_000)])
def test_stable_rows_past_the_limit_cut_as_if_built(hard: int, limit: int) -> None:
    # The stable table builds rows only up to the limit: the cut must be the one from
    # every row, whether it keeps some stable rows or none.
    def side(name: str, pr: bool) -> Bucket:
        scenarios = {}
        for i in range(6_000):
            key = f"{i:05d}-" + "n" * 40
            scenarios[key] = Scenario(key=key, passed=0 if pr and i < hard else 5, total=5)
        return Bucket(name=name, scenarios=scenarios)

    outcome = ok(side("pr", True), side("base", False))
    body = render(outcome, max_chars=limit)
    assert body == _fit_every_row(outcome, limit)
    shown = body.count("| stable |")
    if hard < 1_000:
        assert shown > 100
    more = re.search(r"…and ([\d,]+) more in the job summary and the JSON report\.", body)
    assert more is not None
    assert shown + int(more.group(1).replace(",", "")) == 6_000 - hard
