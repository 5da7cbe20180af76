"""Issue 6 settings: sensitivity presets, metrics/costs/drift keys, budgets, and the CLI flag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalbot.config import load_config, parse_config, sensitivity_preset
from evalbot.core.models import (
    Correction,
    CostThresholds,
    DriftThresholds,
    Levels,
    MetricThresholds,
    Sensitivity,
    Thresholds,
    Tier,
)
from evalbot.errors import InputError

from helpers import EXAMPLES, run_cli

# --- sensitivity presets ---------------------------------------------------------------------

# The table in evalbot/config.py (_PRESETS), written out independently.
EXPECTED_PRESETS: dict[Sensitivity, dict[str, Any]] = {
    Sensitivity.LOW: {
        "hard_min_delta": 0.40,
        "soft_min_delta": 0.25,
        "watch_delta": 0.45,
        "min_effect": 0.10,
        "costs": (0.50, 0.40, 0.40),
        "error_rate": Levels(mild=0.10, severe=0.25),
        "empty_output": Levels(mild=0.10, severe=0.25),
        "output_length": Levels(mild=0.5, severe=0.3),
        "tool_silence": Levels(mild=0.20, severe=0.50),
    },
    Sensitivity.NORMAL: {
        "hard_min_delta": 0.30,
        "soft_min_delta": 0.15,
        "watch_delta": 0.35,
        "min_effect": 0.05,
        "costs": (0.25, 0.20, 0.20),
        "error_rate": Levels(mild=0.05, severe=0.15),
        "empty_output": Levels(mild=0.05, severe=0.15),
        "output_length": Levels(mild=0.7, severe=0.4),
        "tool_silence": Levels(mild=0.10, severe=0.30),
    },
    Sensitivity.HIGH: {
        "hard_min_delta": 0.20,
        "soft_min_delta": 0.10,
        "watch_delta": 0.25,
        "min_effect": 0.02,
        "costs": (0.10, 0.10, 0.10),
        "error_rate": Levels(mild=0.02, severe=0.08),
        "empty_output": Levels(mild=0.02, severe=0.08),
        "output_length": Levels(mild=0.8, severe=0.5),
        "tool_silence": Levels(mild=0.05, severe=0.15),
    },
}


@pytest.mark.parametrize("level", list(Sensitivity))
def test_preset_values(level: Sensitivity) -> None:
    expected = EXPECTED_PRESETS[level]
    t = sensitivity_preset(level)
    assert t.sensitivity is level
    assert t.hard.min_delta == expected["hard_min_delta"]
    assert t.soft.min_delta == expected["soft_min_delta"]
    assert t.watch_delta == expected["watch_delta"]
    assert t.metrics.min_effect == expected["min_effect"]
    assert t.metrics.by_key == ()
    assert (t.costs.latency, t.costs.tokens, t.costs.cost) == expected["costs"]
    # Presets never switch a budget on.
    assert (
        t.costs.fail_on_latency_increase,
        t.costs.fail_on_tokens_increase,
        t.costs.fail_on_cost_increase,
    ) == (None, None, None)
    for signal in ("error_rate", "empty_output", "output_length", "tool_silence"):
        assert getattr(t.drift, signal) == expected[signal], signal


@pytest.mark.parametrize("level", list(Sensitivity))
def test_preset_never_changes_the_false_alarm_budget(level: Sensitivity) -> None:
    t = sensitivity_preset(level)
    assert t.alpha == 0.05
    assert t.correction is Correction.BH
    assert t.aggregate_share == 0.4
    assert t.hard.max_p == 0.05
    assert t.soft.max_p == 0.20
    assert (t.hard.min_baseline_rate, t.soft.min_baseline_rate) == (0.70, 0.50)
    assert t.metrics.max_p == 0.05
    assert t.drift.max_p == 0.05
    assert (t.category_min_rate_gap, t.category_min_count_gap) == (0.05, 3.0)
    assert t.trend_threshold == 0.01


def test_normal_preset_is_the_defaults() -> None:
    assert sensitivity_preset(Sensitivity.NORMAL) == Thresholds()
    assert parse_config(None, source="x").thresholds == Thresholds()
    assert load_config(None).thresholds == Thresholds()


def test_presets_are_ordered() -> None:
    low, normal, high = (sensitivity_preset(s) for s in Sensitivity)
    # "high" flags smaller changes than "normal", which flags smaller than "low".
    assert low.hard.min_delta > normal.hard.min_delta > high.hard.min_delta
    assert low.drift.output_length.severe < normal.drift.output_length.severe
    assert normal.drift.output_length.severe < high.drift.output_length.severe


# --- parse_config: sensitivity with explicit keys --------------------------------------------


def test_explicit_threshold_wins_over_preset() -> None:
    settings = parse_config(
        {"sensitivity": "high", "thresholds": {"hard": {"min_delta": 0.25}}}, source="evalbot.yml"
    )
    t = settings.thresholds
    assert t.sensitivity is Sensitivity.HIGH
    assert t.hard == Tier(max_p=0.05, min_delta=0.25, min_baseline_rate=0.70)
    # Everything not written comes from the high preset.
    assert t.soft.min_delta == 0.10
    assert t.watch_delta == 0.25
    assert t.metrics == MetricThresholds(min_effect=0.02)
    assert t.costs == CostThresholds(latency=0.10, tokens=0.10, cost=0.10)
    assert t.drift.error_rate == Levels(0.02, 0.08)


def test_partial_sections_merge_with_the_preset() -> None:
    t = parse_config(
        {
            "sensitivity": "low",
            "metrics": {"max_p": 0.1},
            "costs": {"latency": 0.3},
            "drift": {"error_rate": {"mild": 0.2}},
            "fail_on_cost_increase": 0.5,
        },
        source="evalbot.yml",
    ).thresholds
    assert t.metrics == MetricThresholds(min_effect=0.10, max_p=0.1)
    assert t.costs == CostThresholds(latency=0.3, tokens=0.40, cost=0.40, fail_on_cost_increase=0.5)
    # The severe level stays the low preset's 0.25; the other signals are untouched.
    assert t.drift.error_rate == Levels(mild=0.2, severe=0.25)
    assert t.drift.empty_output == Levels(mild=0.10, severe=0.25)
    assert t.hard.min_delta == 0.40


def test_levels_are_checked_after_merging_with_the_preset() -> None:
    # mild 0.3 alone is valid, but above the low preset's severe 0.25.
    with pytest.raises(InputError) as info:
        parse_config(
            {"sensitivity": "low", "drift": {"error_rate": {"mild": 0.3}}}, source="evalbot.yml"
        )
    assert str(info.value) == (
        "evalbot.yml: drift.error_rate: severe must be at least mild; got mild 0.3, severe 0.25"
    )


def test_sensitivity_argument_wins_over_the_file() -> None:
    t = parse_config(
        {"sensitivity": "low"}, source="evalbot.yml", sensitivity=Sensitivity.HIGH
    ).thresholds
    assert t == sensitivity_preset(Sensitivity.HIGH)
    # ...and explicit keys in the file still win over the flag's preset.
    t = parse_config(
        {"sensitivity": "low", "thresholds": {"watch_delta": 0.5}},
        source="evalbot.yml",
        sensitivity=Sensitivity.HIGH,
    ).thresholds
    assert (t.sensitivity, t.watch_delta, t.hard.min_delta) == (Sensitivity.HIGH, 0.5, 0.20)


def test_load_config_with_sensitivity(tmp_path: Path) -> None:
    path = tmp_path / "evalbot.yml"
    path.write_text("sensitivity: low\nfail_on_tokens_increase: 1\n", encoding="utf-8")
    t = load_config(path).thresholds
    assert (t.sensitivity, t.hard.min_delta) == (Sensitivity.LOW, 0.40)
    assert t.costs.fail_on_tokens_increase == 1.0
    t = load_config(path, sensitivity=Sensitivity.NORMAL).thresholds
    assert (t.sensitivity, t.hard.min_delta) == (Sensitivity.NORMAL, 0.30)
    assert t.costs == CostThresholds(fail_on_tokens_increase=1.0)
    assert load_config(None, sensitivity=Sensitivity.HIGH).thresholds == sensitivity_preset(
        Sensitivity.HIGH
    )


def test_bad_sensitivity_in_file_is_rejected_even_with_the_flag() -> None:
    with pytest.raises(InputError, match="sensitivity: must be one of low, normal, high"):
        parse_config({"sensitivity": "extreme"}, source="evalbot.yml", sensitivity=Sensitivity.HIGH)


# --- parse_config: the issue 6 keys ----------------------------------------------------------


def test_metrics_costs_drift_and_budget_keys_parse() -> None:
    t = parse_config(
        {
            "metrics": {
                "min_effect": 0,
                "min_effect_by_key": {"helpfulness": 0.25, "accuracy": 0.02},
                "max_p": 0.1,
            },
            "costs": {"latency": 0.5, "tokens": 1, "cost": 0.3},
            "drift": {
                "error_rate": {"mild": 0.1, "severe": 0.2},
                "empty_output": {"mild": 0.0, "severe": 0.0},
                "output_length": {"mild": 0.8, "severe": 0.5},
                "tool_silence": {"severe": 0.9},
                "max_p": 0.01,
            },
            "fail_on_latency_increase": 0.5,
            "fail_on_tokens_increase": 100,
            "fail_on_cost_increase": 0.25,
        },
        source="evalbot.yml",
    ).thresholds
    # by_key is sorted by feedback key.
    assert t.metrics == MetricThresholds(
        min_effect=0.0, by_key=(("accuracy", 0.02), ("helpfulness", 0.25)), max_p=0.1
    )
    assert t.metrics.effect_for("helpfulness") == 0.25
    assert t.metrics.effect_for("other") == 0.0
    assert t.costs == CostThresholds(
        latency=0.5,
        tokens=1.0,
        cost=0.3,
        fail_on_latency_increase=0.5,
        fail_on_tokens_increase=100.0,
        fail_on_cost_increase=0.25,
    )
    assert t.drift == DriftThresholds(
        error_rate=Levels(0.1, 0.2),
        empty_output=Levels(0.0, 0.0),
        output_length=Levels(0.8, 0.5),
        tool_silence=Levels(0.10, 0.9),
        max_p=0.01,
    )
    assert t.sensitivity is Sensitivity.NORMAL


def test_equal_levels_are_allowed() -> None:
    t = parse_config(
        {"drift": {"output_length": {"mild": 0.5, "severe": 0.5}}}, source="evalbot.yml"
    ).thresholds
    assert t.drift.output_length == Levels(0.5, 0.5)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"drift": {"latency": {"mild": 0.1}}},
            "drift: unknown key 'latency' "
            "(allowed: error_rate, empty_output, output_length, tool_silence, max_p)",
        ),
        (
            {"drift": {"error_rate": {"warn": 0.1}}},
            "drift.error_rate: unknown key 'warn' (allowed: mild, severe)",
        ),
        (
            {"drift": {"error_rate": {"mild": 0.2, "severe": 0.1}}},
            "drift.error_rate: severe must be at least mild; got mild 0.2, severe 0.1",
        ),
        (
            {"drift": {"tool_silence": {"mild": 0.4}}},
            "drift.tool_silence: severe must be at least mild; got mild 0.4, severe 0.3",
        ),
        (
            {"drift": {"output_length": {"mild": 0.5, "severe": 0.6}}},
            "drift.output_length: severe must be at most mild (a smaller length ratio is "
            "worse); got mild 0.5, severe 0.6",
        ),
        (
            {"drift": {"output_length": {"severe": 0.8}}},
            "drift.output_length: severe must be at most mild (a smaller length ratio is "
            "worse); got mild 0.7, severe 0.8",
        ),
        (
            {"drift": {"empty_output": {"mild": 1.5}}},
            "drift.empty_output.mild: must be in [0, 1]; got 1.5",
        ),
        ({"drift": {"max_p": 0}}, "drift.max_p: must be in (0, 1]; got 0"),
        ({"drift": [1]}, "drift: must be a mapping; got [1]"),
        (
            {"metrics": {"min_effect": -0.1}},
            "metrics.min_effect: must be a number at least 0; got -0.1",
        ),
        (
            {"metrics": {"min_effect": "big"}},
            "metrics.min_effect: must be a number at least 0; got 'big'",
        ),
        (
            {"metrics": {"min_effect_by_key": [1]}},
            "metrics.min_effect_by_key: must map feedback keys to numbers; got [1]",
        ),
        (
            {"metrics": {"min_effect_by_key": "helpfulness"}},
            "metrics.min_effect_by_key: must map feedback keys to numbers; got 'helpfulness'",
        ),
        (
            {"metrics": {"min_effect_by_key": {"helpfulness": -1}}},
            "metrics.min_effect_by_key.helpfulness: must be a number at least 0; got -1",
        ),
        (
            {"metrics": {"effect": 0.1}},
            "metrics: unknown key 'effect' (allowed: min_effect, min_effect_by_key, max_p)",
        ),
        ({"costs": {"latency": 0}}, "costs.latency: must be in (0, 100]; got 0"),
        (
            {"costs": {"money": 0.1}},
            "costs: unknown key 'money' (allowed: latency, tokens, cost)",
        ),
        ({"fail_on_cost_increase": 0}, "fail_on_cost_increase: must be in (0, 100]; got 0"),
        ({"fail_on_cost_increase": -0.5}, "fail_on_cost_increase: must be in (0, 100]; got -0.5"),
        ({"fail_on_cost_increase": True}, "fail_on_cost_increase: must be a number; got True"),
        ({"fail_on_cost_increase": "x"}, "fail_on_cost_increase: must be a number; got 'x'"),
        (
            {"fail_on_latency_increase": 101},
            "fail_on_latency_increase: must be in (0, 100]; got 101",
        ),
        (
            {"fail_on_tokens_increase": None},
            "fail_on_tokens_increase: must be a number; got None",
        ),
        (
            {"sensitivity": "extreme"},
            "sensitivity: must be one of low, normal, high; got 'extreme'",
        ),
        ({"sensitivity": "HIGH"}, "sensitivity: must be one of low, normal, high; got 'HIGH'"),
        ({"sensitivity": 1}, "sensitivity: must be one of low, normal, high; got 1"),
    ],
)
def test_validation_messages(document: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_config(document, source="evalbot.yml")
    text = str(info.value)
    assert text == f"evalbot.yml: {message}"
    assert "\n" not in text


def test_validation_message_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "evalbot.yml"
    path.write_text("drift:\n  error_rate:\n    mild: 0.3\n    severe: 0.1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: drift.error_rate: severe must be at least mild; got mild 0.3, severe 0.1"
    )


# --- the CLI ---------------------------------------------------------------------------------

FILES = (
    "compare",
    "--pr-file",
    str(EXAMPLES / "pr.json"),
    "--baseline-file",
    str(EXAMPLES / "baseline.json"),
)


def _json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(*FILES, "--format", "json", *args, env=env)
    assert "Traceback" not in err
    return code, json.loads(out)


def test_cli_bad_sensitivity() -> None:
    code, out, err = run_cli(*FILES, "--sensitivity", "bogus")
    assert code == 2
    assert out == ""
    assert err == "evalbot: error: --sensitivity: must be one of low, normal, high; got 'bogus'\n"
    assert "Traceback" not in err


def test_cli_sensitivity_high() -> None:
    code, report = _json("--sensitivity", "high")
    assert code == 1  # the examples hold a hard regression at any sensitivity
    thresholds = report["thresholds"]
    assert thresholds["sensitivity"] == "high"
    assert thresholds["hard"]["min_delta"] == 0.2
    assert thresholds["soft"]["min_delta"] == 0.1
    assert thresholds["watch_delta"] == 0.25
    assert thresholds["metrics"]["min_effect"] == 0.02
    assert thresholds["alpha"] == 0.05
    # Latency p95 rises about 24%: notable at high (>= 10%), not at normal (>= 25%).
    p95 = {c["measure"]: c for c in report["costs"]}["latency_p95_ms"]
    assert p95["relative"] == pytest.approx(0.2399, abs=1e-4)
    assert p95["notable"] is True
    _, normal = _json()
    assert normal["thresholds"]["sensitivity"] == "normal"
    assert {c["measure"]: c for c in normal["costs"]}["latency_p95_ms"]["notable"] is False


def test_cli_flag_wins_over_config_file(tmp_path: Path) -> None:
    config = tmp_path / "evalbot.yml"
    config.write_text("sensitivity: high\n", encoding="utf-8")
    _, report = _json("--config", str(config))
    assert report["thresholds"]["sensitivity"] == "high"
    _, report = _json("--config", str(config), "--sensitivity", "low")
    assert report["thresholds"]["sensitivity"] == "low"
    assert report["thresholds"]["hard"]["min_delta"] == 0.4
    # The environment variable feeds the same option.
    _, report = _json(env={"EVALBOT_SENSITIVITY": "low"})
    assert report["thresholds"]["sensitivity"] == "low"


def test_cli_cost_budget_fails_the_gate(tmp_path: Path) -> None:
    config = tmp_path / "evalbot.yml"
    config.write_text("fail_on_cost_increase: 0.2\n", encoding="utf-8")
    code, report = _json("--config", str(config))
    assert code == 1
    cost = {c["measure"]: c for c in report["costs"]}["cost_per_trial"]
    assert cost["relative"] == pytest.approx(0.3697, abs=1e-4)
    assert cost["gating"] is True
    assert report["thresholds"]["fail_on_cost_increase"] == 0.2
    assert report["gate"]["failed"] is True
    assert report["gate"]["reason"] == (
        "1 hard regression (fail_on: hard_regression); "
        "cost per trial up 37% (fail_on_cost_increase: 0.2)"
    )
    # Without the budget the same comparison has no cost part in its reason.
    _, plain = _json()
    assert "fail_on_cost_increase" not in plain["gate"]["reason"]
    assert {c["measure"]: c for c in plain["costs"]}["cost_per_trial"]["gating"] is False
    # fail_on: never disables the budgets too.
    code, never = _json("--config", str(config), "--fail-on", "never")
    assert code == 0
    assert never["gate"]["reason"] == "gate disabled (fail_on: never)"


def test_cli_bad_budget_in_config(tmp_path: Path) -> None:
    config = tmp_path / "evalbot.yml"
    config.write_text("fail_on_cost_increase: yes\n", encoding="utf-8")
    code, out, err = run_cli(*FILES, "--config", str(config))
    assert code == 2
    assert out == ""
    assert err == (f"evalbot: error: {config}: fail_on_cost_increase: must be a number; got True\n")
