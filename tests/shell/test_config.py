"""The config file and the settings assembler: one mapping of thresholds, messages that
name the setting the way each shell spells it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from evalbot.action import INPUTS
from evalbot.config import TOP_KEYS, load_config, parse_config, sensitivity_preset
from evalbot.core.models import Correction, Levels, Sensitivity, Thresholds
from evalbot.core.thresholds import THRESHOLD_KEYS, Section, thresholds_document
from evalbot.errors import InputError
from evalbot.output.report import thresholds_dict
from evalbot.settings import RAW_KEYS, Raw, action_name, assemble, cli_name

# --- one mapping: the config file reads what the report writes ----------------------------


def config_document(thresholds: Thresholds) -> dict[str, Any]:
    """A config file that sets every configurable threshold to its value in ``thresholds``."""
    document: dict[str, Any] = {"thresholds": {}}
    reported = thresholds_document(thresholds)
    for entry in THRESHOLD_KEYS:
        if entry.section is Section.NONE or entry.key == ("trend_threshold",):
            continue
        value: Any = reported
        for part in entry.key:
            value = value[part]
        if value is None:  # an opt-in budget left off: the file says nothing
            continue
        node = document["thresholds"] if entry.section is Section.THRESHOLDS else document
        for part in entry.key[:-1]:
            node = node.setdefault(part, {})
        node[entry.key[-1]] = value
    return document


def changed(thresholds: Thresholds) -> Thresholds:
    """Every configurable threshold moved off its default."""
    return dataclasses.replace(
        thresholds,
        hard=dataclasses.replace(thresholds.hard, max_p=0.04, min_baseline_rate=0.6),
        soft=dataclasses.replace(thresholds.soft, min_delta=0.12),
        category_min_count_gap=4.0,
        alpha=0.1,
        correction=Correction.NONE,
        metrics=dataclasses.replace(thresholds.metrics, by_key=(("helpful", 0.3),)),
        costs=dataclasses.replace(thresholds.costs, fail_on_cost_increase=0.5),
        drift=dataclasses.replace(thresholds.drift, output_length=Levels(0.6, 0.3)),
    )


@pytest.mark.parametrize("level", list(Sensitivity))
def test_the_report_shape_read_back_as_a_config_gives_the_same_thresholds(
    level: Sensitivity,
) -> None:
    thresholds = changed(sensitivity_preset(level))
    document = config_document(thresholds)
    assert parse_config(document, source="evalbot.yml").thresholds == thresholds


def test_the_report_writes_the_mapping() -> None:
    thresholds = changed(Thresholds())
    report = thresholds_dict(thresholds)
    assert report == thresholds_document(thresholds)
    assert report["hard"]["max_p"] == 0.04
    assert report["category"] == {"min_rate_gap": 0.05, "min_count_gap": 4.0}
    assert report["correction"] == "none"
    assert report["metrics"]["min_effect_by_key"] == {"helpful": 0.3}
    assert report["drift"]["output_length"] == {"mild": 0.6, "severe": 0.3}
    assert report["aggregate_alpha"] == pytest.approx(0.04)
    assert "trend_threshold" not in report  # schema v4 does not carry it


def _leaves(value: object, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, Levels):
        return {
            leaf
            for f in dataclasses.fields(value)
            for leaf in _leaves(getattr(value, f.name), (*prefix, f.name))
        }
    return {prefix}


def test_every_threshold_has_one_external_key() -> None:
    attrs = [entry.attr for entry in THRESHOLD_KEYS]
    assert len(attrs) == len(set(attrs))
    # aggregate_share is fixed (chosen by simulation), reported as aggregate_alpha.
    assert _leaves(Thresholds()) - {("aggregate_share",)} <= set(attrs)
    configurable = {e.key[0] for e in THRESHOLD_KEYS if e.section is Section.TOP}
    assert configurable <= set(TOP_KEYS)


# --- the config file's own keys ----------------------------------------------------------


def test_allow_dataset_mismatch_is_a_config_key(tmp_path: Path) -> None:
    path = tmp_path / "evalbot.yml"
    path.write_text("allow_dataset_mismatch: true\n", encoding="utf-8")
    assert load_config(path).allow_dataset_mismatch is True
    assert load_config(None).allow_dataset_mismatch is False
    with pytest.raises(InputError, match=r"^x.yml: allow_dataset_mismatch: must be true or false"):
        parse_config({"allow_dataset_mismatch": "yes"}, source="x.yml")


def test_an_unknown_key_lists_every_allowed_key() -> None:
    with pytest.raises(InputError) as caught:
        parse_config({"colour": "red"}, source="evalbot.yml")
    message = str(caught.value)
    assert message.startswith("evalbot.yml: top level: unknown key 'colour' (allowed: fail_on, ")
    for key in ("thresholds", "alpha", "drift", "fetch_deadline", "allow_dataset_mismatch"):
        assert key in message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"thresholds": {"hard": {"max_p": 0}}}, "thresholds.hard.max_p: must be in (0, 1]"),
        ({"alpha": 0.7}, "alpha: must be in (0, 0.5]; got 0.7"),
        ({"costs": {"latency": 0}}, "costs.latency: must be in (0, 100]; got 0"),
        ({"fail_on_tokens_increase": "x"}, "fail_on_tokens_increase: must be a number"),
        ({"metrics": {"min_effect_by_key": {"a": -1}}}, "metrics.min_effect_by_key.a: must be"),
        ({"drift": {"error_rate": {"mild": 0.3, "severe": 0.1}}}, "severe must be at least mild"),
        ({"drift": 5}, "drift: must be a mapping; got 5"),
    ],
)
def test_bad_threshold_keys_name_the_key(document: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=r"^evalbot.yml: ") as caught:
        parse_config(document, source="evalbot.yml")
    assert message in str(caught.value)


# --- name callables: the flag on the command line, the input in the Action ----------------


def test_cli_names_are_the_flags() -> None:
    assert cli_name("allow_dataset_mismatch") == "--allow-dataset-mismatch"
    assert cli_name("pr_metadata") == "--pr-metadata"
    assert cli_name("on_fetch_failure") == "`on_fetch_failure` in the config file"


def test_action_names_are_inputs_or_the_config_key() -> None:
    name = action_name()
    assert name("pr") == "experiment"
    assert name("pr_metadata") == "experiment_metadata"
    assert name("fetch_deadline") == "fetch_deadline"
    assert name("allow_dataset_mismatch") == "`allow_dataset_mismatch` in .github/evalbot.yml"
    assert action_name("ci/evalbot.yml")("allow_dataset_mismatch").endswith("in ci/evalbot.yml")
    # Every setting the Action reads is an input of action.yml, or named in its config file.
    for key in RAW_KEYS - {"config"}:
        assert name(key) in INPUTS or name(key).endswith(" in .github/evalbot.yml"), key


LIVE = {"langsmith_api_key": "lsv2_key", "pr": "pr-7"}


@pytest.mark.parametrize(
    ("raw", "cli", "action"),
    [
        ({"alpha": "abc"}, "--alpha: must be a number; got 'abc'", "alpha: must be a number"),
        ({"history": "ten"}, "--history: must be a whole number", "history: must be a whole"),
        ({"fail_on": "x"}, "--fail-on: must be one of", "fail_on: must be one of"),
        ({"comment_when": "x"}, "`comment_when` in the config file: must be", "comment_when: "),
        (
            {**LIVE, "pr_metadata": "{}"},
            "--pr / --pr-metadata:",
            "experiment / experiment_metadata",
        ),
        ({**LIVE, "timeout": "0"}, "--timeout: must be a positive", "timeout: must be a positive"),
        ({**LIVE, "pass_threshold": "x"}, "--pass-threshold: must be", "pass_threshold: must be"),
        ({**LIVE, "baseline": "a", "baseline_prefix": "b"}, "--baseline and --baseline-prefix", ""),
        ({"pr": "pr-7"}, "--langsmith-api-key: required (or set LANGSMITH_API_KEY)", ""),
        ({"pr": "pr-7"}, "", "langsmith_api_key: required (pass secrets.LANGSMITH_API_KEY)"),
    ],
)
def test_one_validator_two_spellings(raw: dict[str, Any], cli: str, action: str) -> None:
    for name, expected in ((cli_name, cli), (action_name(), action)):
        with pytest.raises(InputError) as caught:
            assemble(Raw(**raw), name=name, live=True)
        assert str(caught.value).startswith(expected), (str(caught.value), expected)
        if name is not cli_name:
            assert "--" not in str(caught.value)


def test_config_allow_dataset_mismatch_reaches_the_baseline_query(tmp_path: Path) -> None:
    path = tmp_path / "evalbot.yml"
    path.write_text("allow_dataset_mismatch: true\n", encoding="utf-8")
    live = assemble(Raw(**LIVE, config=path), name=cli_name, live=True).live
    assert live is not None and live.baseline.allow_other_dataset is True
    live = assemble(Raw(**LIVE), name=cli_name, live=True).live
    assert live is not None and live.baseline.allow_other_dataset is False
    flagged = assemble(Raw(**LIVE, allow_dataset_mismatch=True), name=cli_name, live=True).live
    assert flagged is not None and flagged.baseline.allow_other_dataset is True
