"""The scenario rows as compact JSON text, without building them as dicts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evalbot.core.measures import measures_document
from evalbot.core.models import NO_MEASURES, Scenario, ScenarioComparison

# A large report is compact JSON (report.dumps), and its scenario rows are nearly
# all of it: building each row as nested dicts and encoding them with json took
# 2.5 s at 100,000 scenarios (issue 14). ``row_json`` writes the text of
# ``json.dumps(row(r), ensure_ascii=False, separators=(",", ":"))`` directly:
# strings through the encoder's own escaping function, finite floats and ints
# as json writes them (their repr), and anything else (None aside) through the
# json encoder itself, so the text is the same byte for byte
# (tests/output/test_row_text.py checks it against ``report_parts.row``).

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# What the encoder writes for a str when ensure_ascii is false (json.encoder).
_string = json.encoder.encode_basestring
_float = float.__repr__
_int = int.__repr__
_INT_ONLY = frozenset((int,))
_STR_ONLY = frozenset((str,))


def number_json(value: Any) -> str:
    """``value`` as compact JSON: ints and finite floats directly, the rest through json."""
    kind = value.__class__
    if kind is float:
        if value - value == 0.0:  # not NaN or infinite: json writes those its own way
            return _float(value)
    elif kind is int:
        return _int(value)
    elif value is None:
        return "null"
    return _encode(value)


def _categories_json(categories: Mapping[str, int]) -> str:
    if not categories:
        return "{}"
    if any(key.__class__ is not str for key in categories):
        return _encode(dict(categories))
    return "{" + ",".join(_string(k) + ":" + number_json(n) for k, n in categories.items()) + "}"


def _counts_json(scenario: Scenario) -> str:
    measures = scenario.measures
    return (
        f'{{"passed":{number_json(scenario.passed)},"total":{number_json(scenario.total)},'
        f'"unscored":{number_json(scenario.unscored)},'
        f'"categories":{_categories_json(scenario.categories)},"measures":'
        + ("{}" if measures is NO_MEASURES else _encode(measures_document(measures)))
        + "}"
    )


class FloatTexts:
    """The JSON text of float(p) for the p-values, once per distinct object (see Floats),
    and of a scenario's plain counts, once per distinct set of counts.

    Suites repeat a few p-values and a few count sets (issue 14: formatting
    each of 100,000 rows' counts took a third of the report's time).
    """

    def __init__(self) -> None:
        self._seen: dict[int, str] = {}
        self._counts: dict[tuple[object, ...], str] = {}
        self._pooled: dict[tuple[int, int], str] = {}
        self._numbers: dict[int, tuple[object, str]] = {}
        self._tables: dict[tuple[int, int, int], tuple[object, object, object, str]] = {}
        self._tails: dict[tuple[int, int, int], tuple[object, object, object, str]] = {}

    def __call__(self, value: Any) -> str:
        key = id(value)
        text = self._seen.get(key)
        if text is None:
            text = self._seen[key] = number_json(float(value))
        return text

    def number(self, value: object) -> str:
        """``number_json(value)``, kept per object: compare_buckets shares one delta, q
        and flakiness object among the rows with the same table and counts."""
        key = id(value)
        kept = self._numbers.get(key)
        # The object is kept with its text, so its id cannot be reused meanwhile.
        if kept is not None and kept[0] is value:
            return kept[1]
        text = number_json(value)
        self._numbers[key] = (value, text)
        return text

    def table(self, delta: object, p_worse: object, p_better: object) -> str:
        """The ``"delta":…,"p_worse":…,"p_better":…`` members, kept per trio of objects:
        the rows with one table share all three (three lookups a row were a tenth of it)."""
        key = (id(delta), id(p_worse), id(p_better))
        kept = self._tables.get(key)
        # The objects are kept with their text, so their ids cannot be reused meanwhile.
        if kept is not None and kept[0] is delta and kept[1] is p_worse and kept[2] is p_better:
            return kept[3]
        text = (
            f'"delta":{"null" if delta is None else self.number(delta)},'
            f'"p_worse":{self(p_worse)},"p_better":{self(p_better)}'
        )
        self._tables[key] = (delta, p_worse, p_better, text)
        return text

    def tail(self, pooled: Scenario | None, q: object, flakiness: object) -> str:
        """The ``"pooled":…,"q":…,"flakiness":…`` members, kept as :meth:`table` keeps its.

        The same keeping as :meth:`table`, written out again on purpose: both run for
        every row, and one shared callable object for the two cost 0.13 s at 100,000 rows.
        """
        pooled_text = "null" if pooled is None else self.pooled(pooled)
        key = (id(pooled_text), id(q), id(flakiness))
        kept = self._tails.get(key)
        if kept is not None and kept[0] is pooled_text and kept[1] is q and kept[2] is flakiness:
            return kept[3]
        text = (
            f'"pooled":{pooled_text},"q":{"null" if q is None else self.number(q)},'
            f'"flakiness":{"null" if flakiness is None else self.number(flakiness)}'
        )
        self._tails[key] = (pooled_text, q, flakiness, text)
        return text

    def counts(self, scenario: Scenario) -> str:
        """``_counts_json(scenario)``, kept per distinct set of plain int counts and categories."""
        passed, total, unscored = scenario.passed, scenario.total, scenario.unscored
        categories = scenario.categories
        # Exact ints only: True == 1 as a dict key, but json writes it "true".
        if (
            scenario.measures is not NO_MEASURES
            or passed.__class__ is not int
            or total.__class__ is not int
            or unscored.__class__ is not int
        ):
            return _counts_json(scenario)
        key: tuple[object, ...]
        if categories:
            # A sixth of the rows carry categories, and were a third of this (issue 14).
            # Exact str names too: 1 == 1.0 == True as a key, each written its own way.
            if not _INT_ONLY.issuperset(map(type, categories.values())) or not (
                _STR_ONLY.issuperset(map(type, categories))
            ):
                return _counts_json(scenario)
            key = (passed, total, unscored, *categories.items())
        else:
            key = (passed, total, unscored)
        text = self._counts.get(key)
        if text is None:
            text = self._counts[key] = _counts_json(scenario)
        return text

    def pooled(self, scenario: Scenario) -> str:
        """The ``pooled`` object's text: passed and total."""
        passed, total = scenario.passed, scenario.total
        if passed.__class__ is not int or total.__class__ is not int:
            return f'{{"passed":{number_json(passed)},"total":{number_json(total)}}}'
        key = (passed, total)
        text = self._pooled.get(key)
        if text is None:
            text = self._pooled[key] = f'{{"passed":{_int(passed)},"total":{_int(total)}}}'
        return text


def row_json(row: ScenarioComparison, p_text: FloatTexts) -> str:
    """``row(row)`` as compact JSON text; ``p_text`` a :class:`FloatTexts`."""
    key, label = row.key, row.label
    series = row.series
    # One f-string, with the common cases inline (a str key and label, None numbers)
    # and the rest through the helpers: a function call per field was a tenth of it.
    return (
        f'{{"key":{_string(key) if key.__class__ is str else _encode(key)},'
        f'"label":{_string(label) if label.__class__ is str else _encode(label)},'
        f'"verdict":{_string(str(row.verdict))},'
        f'"pr":{p_text.counts(row.pr)},"baseline":{p_text.counts(row.baseline)},'
        f"{p_text.table(row.delta, row.p_worse, row.p_better)},"
        f"{p_text.tail(row.pooled, row.q, row.flakiness)},"
        f'"series":{"[]" if not series else "[" + ",".join(map(number_json, series)) + "]"}}}'
    )
