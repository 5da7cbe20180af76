"""The sandboxed Jinja environment (output.jinja_env): a user's template is untrusted code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evalbot.errors import InputError
from evalbot.output.jinja_env import FILTERS, load_template, render_template


def render_user(tmp_path: Path, text: str, **context: object) -> str:
    template = tmp_path / "mine.md.j2"
    template.write_text(text, encoding="utf-8")
    return render_template(load_template(template), dict(context), str(template), user=True)


def test_the_built_in_template_loads_with_every_filter() -> None:
    template = load_template(None)
    assert set(FILTERS) <= set(template.environment.filters)
    assert template.environment.autoescape is False  # Markdown: escaping is explicit


def test_modest_arithmetic_renders(tmp_path: Path) -> None:
    assert render_user(tmp_path, "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ x | pct }}", x=0.5) == (
        "ababab 1024 50%"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ 'x' * 10**7 }}", "'*' would make a value of over 2,097,152 items"),
        ("{{ [1] * 10**7 }}", "'*' would make a value of over 2,097,152 items"),
        # Jinja's ** is left-associative: 10 ** 10 ** 7 would be (10 ** 10) ** 7, small.
        ("{{ 2 ** 4000000 }}", "'**' would make a number of over 1,048,576 bits"),
        ("{{ range(10**9) | list }}", "Range too big"),
    ],
)
def test_huge_values_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=r"^template: ") as raised:
        render_user(tmp_path, text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_internals_are_out_of_reach(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^template: "):
        render_user(tmp_path, "{{ cycler.__init__.__globals__.os.environ }}")


def test_includes_stay_beside_the_template(tmp_path: Path) -> None:
    (tmp_path / "part.md.j2").write_text("part", encoding="utf-8")
    assert render_user(tmp_path, "{% include 'part.md.j2' %}") == "part"
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("token", encoding="utf-8")
    with pytest.raises(InputError, match="hidden path"):
        render_user(tmp_path, "{% include '.git/config' %}")
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("secret", encoding="utf-8")
    os.symlink(outside, tmp_path / "link.md.j2")
    with pytest.raises(InputError, match="outside the template's directory"):
        render_user(tmp_path, "{% include 'link.md.j2' %}")
    with pytest.raises(InputError, match="does not exist"):
        render_user(tmp_path, "{% include 'nope.md.j2' %}")


def test_a_template_error_is_one_line_naming_the_template(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^template: .*mine\.md\.j2: line 1") as raised:
        load_template(_write(tmp_path, "{% if %}"))
    assert "\n" not in str(raised.value)
    with pytest.raises(InputError, match="template: file not found"):
        load_template(tmp_path / "nope.md.j2")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.md.j2"
    path.write_text(text, encoding="utf-8")
    return path
