"""Reading a JSON file strictly: size-capped, UTF-8, no NaN, no duplicate keys, exact messages."""

from __future__ import annotations

import codecs
import io
import json
import math
import os
from typing import Any

import orjson

from evalbot.errors import InputError
from evalbot.local_files import read_limited

# The largest JSON file evalbot reads (experiment, history and report files),
# checked before the file is read into memory. An exported 100,000-scenario
# suite with 3-10 trials a side is about 16 MB, or about 110 MB with every
# per-trial measure; 256 MiB leaves room for more than twice that, while
# refusing what would take gigabytes of memory to decode.
MAX_FILE_BYTES = 256 * 2**20


def read_json_file(path: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES) -> object:
    """The JSON document in the file at ``path``, decoded strictly.

    Strict: no ``NaN``/``Infinity``, no number too large for a float, no
    duplicate key in any object, UTF-8 (a leading byte order mark is
    tolerated). Raises InputError with one line starting with the path when
    the file cannot be read, holds more than ``limit`` bytes (checked before
    it is read into memory) or is not such a document.
    """
    source = os.fspath(path)
    raw = read_limited(source, limit=limit)
    data = fast_decode(raw)
    return data if data is not None else decode_exactly(raw, source)


# A bytes.translate table: every ASCII digit becomes "0", every other byte a space.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
# orjson reads an integer outside [-2**63, 2**64 - 1] as a float, where the
# stdlib keeps it exact; such a literal has at least 19 digits in a row.
_LONG_DIGIT_RUN = b"0" * 19


def fast_decode(raw: bytes) -> dict[str, Any] | None:
    """``raw`` decoded by orjson when that gives what the stdlib path gives, else None.

    The stdlib decoder with the duplicate-key hook (``decode_exactly``) is the
    reference; it is about 3 times slower, so it runs only when orjson cannot vouch
    for the result: orjson rejects the text (the stdlib path then words the
    error exactly as before, or accepts what orjson is stricter about, such as
    a lone surrogate escape), an integer literal may be too long for orjson to
    keep exact, or an object may hold a duplicate key (orjson keeps the last).

    The duplicate check counts colons. In JSON text a ``:`` byte is either the
    separator of one key/value pair or a literal character inside a string
    (UTF-8 never uses 0x3A inside a multi-byte character), and only the
    escape ``\\u003a`` decodes to a colon without being one. orjson's own
    output writes one separator per pair it kept and every string's colons
    as they are. So, with no ``\\u003a`` escape in the text, both counts are
    equal exactly when no pair was dropped; a dropped duplicate loses at least
    its separator. Only a top-level object is taken: every other document is
    an error for the callers, which the reference path words.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    # Most files hold no escape at all: one byte search (memchr) instead of two
    # six-byte ones, which cost about 25 ms at 100,000 scenarios.
    if b"\\" in raw and (b"\\u003a" in raw or b"\\u003A" in raw):
        return None
    if _LONG_DIGIT_RUN in raw.translate(_DIGITS_AS_ZERO):
        return None
    try:
        data = orjson.loads(raw)
        if not isinstance(data, dict) or raw.count(b":") != orjson.dumps(data).count(b":"):
            return None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return None
    return data


def decode_exactly(raw: bytes, source: str) -> object:
    """The reference decoder: the stdlib's, with the strictness hooks and exact messages."""
    try:
        # Exactly what reading the file in text mode gives (BOM and newlines included).
        text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig").read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except ValueError as exc:  # raised by the hooks above
        raise InputError(f"{source}: not valid JSON ({exc})") from None
    except RecursionError:
        # The stdlib decoder recurses per nesting level (issue 10: a 100,000-deep
        # array was a traceback); nothing in the format nests more than a few levels.
        raise InputError(f"{source}: not valid JSON (nested too deeply)") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is too large; numbers must be finite")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {json.dumps(key)} in an object")
        result[key] = value
    return result
