"""Files the CLI reads, at their limits: oversized, over-deep, duplicate keys (issue 10 §6).

Also the fast JSON path of evalbot.sources.experiment_file (orjson first, the stdlib
decoder with its duplicate-key hook when orjson cannot vouch for the result):
whatever it accepts, the reference decoder accepts identically, and nothing
the reference rejects gets through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalbot.config import MAX_CONFIG_BYTES
from evalbot.core.models import Scenario
from evalbot.errors import InputError
from evalbot.sources import experiment_file, file_fields, file_quick, json_file
from evalbot.sources.experiment_file import MAX_FILE_BYTES, load_experiment, read_json_file

from helpers import EXAMPLES
from helpers import run_cli as run

BASE = str(EXAMPLES / "baseline.json")
COMPARE_EXAMPLES = ("compare", "--pr-file", BASE, "--baseline-file", BASE)
DEEP = 100_000


def assert_one_line_exit_2(code: int, err: str, *parts: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for part in parts:
        assert part in lines[0], err


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (and is not valid JSON)."""
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


# --- Size limits --------------------------------------------------------------


def test_the_limit_is_256_mib() -> None:
    assert MAX_FILE_BYTES == 256 * 2**20


def test_an_oversized_experiment_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "huge.json", MAX_FILE_BYTES + 1)
    code, out, err = run("compare", "--pr-file", str(path), "--baseline-file", BASE)
    assert out == ""
    message = f"{path}: file too large (268,435,457 bytes); the limit is 256 MiB"
    assert_one_line_exit_2(code, err, message)


def test_an_oversized_history_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "old.json", MAX_FILE_BYTES + 1)
    args = ("compare", "--pr-file", BASE, "--baseline-file", BASE, "--history-file", str(path))
    code, _, err = run(*args)
    assert_one_line_exit_2(code, err, f"{path}: file too large")


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    text = '{"name": "n", "scenarios": {}}'
    path = tmp_path / "pr.json"
    path.write_text(text, encoding="utf-8")
    assert read_json_file(path, limit=len(text)) == {"name": "n", "scenarios": {}}
    with pytest.raises(InputError, match=r"file too large \(30 bytes\); the limit is 29 bytes"):
        read_json_file(path, limit=len(text) - 1)


def test_a_device_is_refused_before_any_read() -> None:
    # /dev/zero reports size 0 and never ends: only regular files are read.
    with pytest.raises(InputError) as exc:
        read_json_file("/dev/zero", limit=4096)
    assert str(exc.value) == "/dev/zero: cannot read file: not a regular file"


def test_an_oversized_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "evalbot.yml"
    config.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")
    code, _, err = run(
        "compare", "--pr-file", BASE, "--baseline-file", BASE, "--config", str(config)
    )
    assert_one_line_exit_2(code, err, f"{config}: config file too large (")
    assert err.rstrip().endswith("; the limit is 1 MiB"), err


def test_a_config_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "evalbot.yml"
    config.write_bytes(b"fail_on: \xff\n")
    code, _, err = run(
        "compare", "--pr-file", BASE, "--baseline-file", BASE, "--config", str(config)
    )
    assert_one_line_exit_2(code, err, f"{config}: config file is not valid UTF-8 (byte 9)")


# --- Nesting --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP + "]" * DEEP,
        '{"name": "n", "scenarios": {}, "metadata": {"x": ' + "[" * DEEP + "]" * DEEP + "}}",
        '{"name": "n", "scenarios": {}, "metadata": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}",
    ],
    ids=["top-level", "in-metadata", "objects"],
)
def test_a_deeply_nested_experiment_file_is_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text, encoding="utf-8")
    code, _, err = run("compare", "--pr-file", str(path), "--baseline-file", BASE)
    assert_one_line_exit_2(code, err, f"{path}: not valid JSON (nested too deeply)")
    code, _, err = run("export", "--experiment-file", str(path))
    assert_one_line_exit_2(code, err, f"{path}: not valid JSON (nested too deeply)")


def test_a_deeply_nested_history_file_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text("[" * DEEP + "]" * DEEP, encoding="utf-8")
    args = ("trend", "--history-file", str(path), "--history-file", BASE)
    code, _, err = run(*args)
    assert_one_line_exit_2(code, err, f"{path}: not valid JSON (nested too deeply)")


def test_a_deeply_nested_config_file_is_input_error(tmp_path: Path) -> None:
    config = tmp_path / "evalbot.yml"
    config.write_text("thresholds: " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
    code, _, err = run(
        "compare", "--pr-file", BASE, "--baseline-file", BASE, "--config", str(config)
    )
    assert_one_line_exit_2(code, err, f"{config}: not valid YAML (nested too deeply)")


def test_a_deeply_nested_metadata_option_is_input_error() -> None:
    code, _, err = run(
        "compare",
        "--pr-metadata",
        "[" * DEEP + "]" * DEEP,
        "--dataset",
        "support",
        "--langsmith-api-key",
        "key",
    )
    assert_one_line_exit_2(code, err, "--pr-metadata: not valid JSON (nested too deeply)")


# --- Duplicate keys through the fast path ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "n", "name": "m", "scenarios": {}}',
        '{"name": "n", "scenarios": {"a": {"passed": 1, "total": 1}, '
        '"a": {"passed": 0, "total": 1}}}',
        '{"name": "n", "scenarios": {"a": {"passed": 0, "total": 2, '
        '"categories": {"t": 1, "t": 2}}}}',
        '{"name": "n", "scenarios": {}, "metadata": {"deep": [{"k": "a:b", "k": "c"}]}}',
        # The same key written two ways.
        '{"name": "n", "scenarios": {}, "metadata": {"a": 1, "\\u0061": 2}}',
        # A colon escaped as \\u003a cannot be counted: the reference decoder decides.
        '{"name": "n", "scenarios": {}, "metadata": {"a:": 1, "a\\u003a": 2}}',
        '{"name": "n", "trials": [{"scenario": "a", "passed": true, "passed": false}]}',
    ],
    ids=["top", "scenario", "category", "nested", "escaped", "escaped-colon", "trial"],
)
def test_duplicate_keys_are_never_accepted(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pr.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    assert str(exc.value).startswith(f"{path}: not valid JSON (duplicate key ")


def test_long_integers_stay_exact(tmp_path: Path) -> None:
    # orjson would read these as floats; the reference decoder keeps them exact.
    path = tmp_path / "pr.json"
    big = 2**64 + 1
    path.write_text(
        json.dumps({"name": "n", "scenarios": {}, "metadata": {"id": big, "neg": -(2**63) - 1}}),
        encoding="utf-8",
    )
    assert dict(load_experiment(path).metadata) == {"id": big, "neg": -(2**63) - 1}


def test_a_byte_order_mark_and_lone_surrogates_still_load(tmp_path: Path) -> None:
    path = tmp_path / "pr.json"
    path.write_bytes(b'\xef\xbb\xbf{"name": "n\\ud800", "scenarios": {}}')
    assert load_experiment(path).name == "n\ud800"


# --- The fast path agrees with the reference decoder ---------------------------------

_KEYS = st.text(alphabet=st.sampled_from('ab:"\\é\u2028\x01 '), max_size=4)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _KEYS
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


def _reference(raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", json_file.decode_exactly(raw, "f")
    except InputError as exc:
        return "error", str(exc)


@settings(max_examples=300, deadline=None)
@given(
    value=st.dictionaries(_KEYS, _JSON, max_size=5),
    ensure_ascii=st.booleans(),
    indent=st.sampled_from([None, 2]),
    duplicate=st.booleans(),
)
def test_fast_decoding_agrees_with_the_reference(
    value: dict[str, Any], ensure_ascii: bool, indent: int | None, duplicate: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    if duplicate and value:
        # Repeat the first pair at the end of the top-level object.
        first = json.dumps(dict([next(iter(value.items()))]), ensure_ascii=ensure_ascii)
        text = text.rstrip().removesuffix("}") + ", " + first[1:]
    raw = text.encode("utf-8")
    fast = json_file.fast_decode(raw)
    kind, reference = _reference(raw)
    if fast is not None:
        assert kind == "ok", reference
        assert json.dumps(fast) == json.dumps(reference)  # same values, types and key order
    if duplicate and value:
        assert kind == "error" and "duplicate key" in reference


_ODD_VALUES = st.one_of(
    st.integers(min_value=-2, max_value=12),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=10**300, max_value=10**400),
    st.text(max_size=3),
    st.lists(st.one_of(st.integers(-1, 5), st.floats(), st.booleans(), st.none()), max_size=12),
    st.dictionaries(
        st.text(max_size=3),
        st.one_of(st.integers(-1, 5), st.lists(st.floats(), max_size=4), st.booleans()),
        max_size=3,
    ),
)


@st.composite
def _entries(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed scenario-form entry, then maybe one field set to an odd value."""
    total = draw(st.integers(0, 10))
    entry: dict[str, Any] = {"passed": draw(st.integers(0, total)), "total": total}
    if draw(st.booleans()):
        names = st.text(min_size=1, max_size=3)
        entry["categories"] = draw(st.dictionaries(names, st.integers(0, total), max_size=3))
    if draw(st.booleans()):
        entry["unscored"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        entry["label"] = draw(st.text(max_size=3))
    limit = total + entry.get("unscored", 0)
    finite = st.floats(allow_nan=False, allow_infinity=False)
    for name in ("latency_ms", "tokens", "cost"):
        if draw(st.booleans()):
            values = st.one_of(finite.filter(lambda x: x >= 0), st.integers(0, 10**6))
            entry[name] = draw(st.lists(values, max_size=limit))
    for name in ("output_chars", "tool_calls"):
        if draw(st.booleans()):
            entry[name] = draw(st.lists(st.integers(0, 99), max_size=limit))
    if draw(st.booleans()):
        keys = st.text(min_size=1, max_size=3)
        entry["scores"] = draw(st.dictionaries(keys, st.lists(finite, max_size=limit), max_size=2))
    if draw(st.booleans()):
        field = draw(st.sampled_from([*file_fields.SCENARIO_FIELDS, "passd"]))
        entry[field] = draw(_ODD_VALUES)
    return entry


@settings(max_examples=500, deadline=None)
@given(key=st.one_of(st.just(""), st.text(min_size=1, max_size=3)), entry=_entries())
def test_quick_scenario_agrees_with_the_checked_path(key: str, entry: dict[str, Any]) -> None:
    quick = file_quick.quick_scenario(key, entry)
    try:
        checked = experiment_file._checked_scenario(key, entry)
    except file_fields.Invalid:
        assert quick is None  # the quick path never accepts what the checked one rejects
        return
    assert quick is None or quick == checked


# Files of well-formed entries, then maybe one edge the column checks must catch: a
# count at -1, past the total, true, null or 2.0; an empty category name; an odd label
# or field; a measurement; an entry that is no object; an empty scenario key.
_EDGE_COUNT = st.sampled_from([-1, 5, True, False, None, 2.0, "1"])
_EDGES: dict[str, st.SearchStrategy[Any]] = {
    "passed": _EDGE_COUNT,
    "total": _EDGE_COUNT,
    "unscored": _EDGE_COUNT,
    "label": st.sampled_from([None, 1, True, ["x"]]),
    "categories": st.one_of(
        st.sampled_from([[], None, "x", 1]),
        st.dictionaries(
            st.sampled_from(["", "a"]), st.one_of(_EDGE_COUNT, st.just(1)), min_size=1, max_size=2
        ),
    ),
    "cost": st.lists(st.floats(-1, 5), max_size=2),
    "lable": st.just(1),
}
_WELL_FORMED = st.fixed_dictionaries(
    {"passed": st.integers(0, 2), "total": st.integers(2, 4)},
    optional={
        "label": st.text(max_size=2),
        "categories": st.dictionaries(st.text(min_size=1, max_size=1), st.integers(0, 2)),
        "unscored": st.integers(0, 2),
    },
)


@st.composite
def _scenario_columns(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.text(min_size=1, max_size=2), unique=True, max_size=4))
    scenarios: dict[str, Any] = {key: draw(_WELL_FORMED) for key in keys}
    edge = draw(st.sampled_from(["none", "field", "field", "field", "entry", "empty key"]))
    if edge == "empty key":
        scenarios[""] = draw(_WELL_FORMED)
    elif keys and edge != "none":
        key = draw(st.sampled_from(keys))
        if edge == "entry":
            scenarios[key] = draw(st.sampled_from([None, 1, "x", [], True]))
        else:
            field = draw(st.sampled_from(sorted(_EDGES)))
            scenarios[key][field] = draw(_EDGES[field])
    return scenarios


@settings(max_examples=1000, deadline=None)
@given(scenarios=_scenario_columns())
def test_quick_columns_agree_with_the_checked_path(scenarios: dict[str, Any]) -> None:
    # The column-at-a-time path accepts only what the entry-by-entry path accepts,
    # and builds the same scenarios in the same order (or counts and labels only).
    quick = file_quick.quick_columns(scenarios, extras=True)
    light = file_quick.quick_columns(scenarios, extras=False)
    assert (quick is None) == (light is None)
    try:
        checked = {key: experiment_file._checked_scenario(key, e) for key, e in scenarios.items()}
    except file_fields.Invalid:
        assert quick is None
        return
    if quick is not None and light is not None:
        assert list(quick.items()) == list(checked.items())
        assert list(light.items()) == [
            (key, Scenario(key, s.passed, s.total, label=s.label)) for key, s in checked.items()
        ]


def test_quick_columns_take_categories_and_unscored_counts() -> None:
    entries = {
        "a": {"passed": 1, "total": 3, "categories": {"timeout": 2}, "unscored": 1},
        "b": {"passed": 2, "total": 2, "label": "B"},
    }
    quick = file_quick.quick_columns(entries, extras=True)
    assert quick == {
        "a": Scenario("a", 1, 3, categories={"timeout": 2}, unscored=1),
        "b": Scenario("b", 2, 2, label="B"),
    }
    assert file_quick.quick_columns(entries, extras=False) == {
        "a": Scenario("a", 1, 3),
        "b": Scenario("b", 2, 2, label="B"),
    }
    # In doubt, the entry-by-entry path decides: a measurement, or a count out of range.
    assert (
        file_quick.quick_columns(
            {**entries, "c": {"passed": 1, "total": 1, "cost": [0.1]}}, extras=True
        )
        is None
    )
    assert (
        file_quick.quick_columns(
            {"a": {"passed": 1, "total": 3, "categories": {"x": 4}}}, extras=True
        )
        is None
    )


def test_a_bad_history_file_is_one_line_exit_2(tmp_path: Path) -> None:
    # History files load counts only (sources/history_file.py), checked as any file.
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps({"name": "old", "scenarios": {"a": {"passed": 4, "total": 3, "label": "A"}}}),
        encoding="utf-8",
    )
    args = ("compare", "--pr-file", BASE, "--baseline-file", BASE, "--history-file", str(path))
    code, out, err = run(*args)
    assert out == ""
    assert_one_line_exit_2(code, err, f'{path}: scenarios["a"].passed: ')
