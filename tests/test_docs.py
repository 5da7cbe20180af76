"""The README and docs/ say what the code does: every table of options is checked against it.

The code's public surface is read, never a copy of it: the click group's commands and their
parameters, action.yml, and the keys a config file may have (asked of ``parse_config`` itself,
through the "unknown key ... (allowed: ...)" message a user sees). When one of these moves, only
the imports below change.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from evalbot.cli import cli as command_group
from evalbot.cli import main as cli_main
from evalbot.config import parse_config
from evalbot.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DOC_FILES = sorted(DOCS.glob("*.md"))
MAX_README_LINES = 260
NONE = "—"  # an empty cell in the documents' tables

FENCE = re.compile(r"^ *```.*?^ *```[^\n]*$", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`]+)`")
CELL_SPLIT = re.compile(r"(?<!\\)\|")


# --- reading Markdown -----------------------------------------------------------------------


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def prose(markdown: str) -> str:
    """The Markdown without fenced code blocks (links and headings in them are examples)."""
    return FENCE.sub("", markdown)


def headings(markdown: str) -> list[tuple[int, str]]:
    found = []
    for line in prose(markdown).splitlines():
        match = re.match(r"(#{1,6}) (.+)", line)
        if match:
            found.append((len(match[1]), match[2].strip()))
    return found


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title in headings(markdown):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    lines = markdown.splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    assert heading in lines, f"no heading {heading!r}"
    start = lines.index(heading) + 1
    body = []
    in_code = False
    for line in lines[start:]:
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = re.match(r"(#{1,6}) ", line)
        if not in_code and match and len(match[1]) <= level:
            break
        body.append(line)
    return "\n".join(body)


def table(markdown: str) -> list[list[str]]:
    """Body rows (cells stripped) of the first table in ``markdown``; the header row first."""
    rows: list[list[str]] = []
    for line in prose(markdown).splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in CELL_SPLIT.split(line.strip())[1:-1]])
        elif rows:
            break
    assert len(rows) >= 2, "no table"
    header, rule, *body = rows
    assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in rule), rule
    assert all(len(row) == len(header) for row in body), [r for r in body if len(r) != len(header)]
    return [header, *body]


def spans(cell: str) -> list[str]:
    """The code spans of a cell: the names it lists."""
    return CODE_SPAN.findall(cell)


def fenced(markdown: str) -> list[str]:
    return [
        textwrap.dedent(block.split("\n", 1)[1].rsplit("\n", 1)[0])
        for block in FENCE.findall(markdown)
    ]


# --- reading the code -----------------------------------------------------------------------


def commands() -> dict[str, click.Command]:
    return dict(command_group.commands)


def flag(param: click.Parameter) -> str:
    """How a parameter is written in the docs: ``--long-option``, or an argument's NAME."""
    if isinstance(param, click.Option):
        longs = [opt for opt in param.opts if opt.startswith("--")]
        assert longs, f"{param.name}: every option has a long form"
        return longs[0]
    assert param.name
    return param.name.upper()


def env_variable(param: click.Parameter) -> str:
    """The one variable a parameter reads: its own when it declares one, else EVALBOT_<OPTION>.

    Read from the parameter, so this holds both while some options declare none and once
    every option declares its EVALBOT_ name.
    """
    if isinstance(param.envvar, str):
        return param.envvar
    assert param.envvar is None, f"{flag(param)}: one variable per option"
    return "EVALBOT_" + flag(param).lstrip("-").replace("-", "_").upper()


def cli_parameters() -> dict[str, dict[str, click.Parameter]]:
    """flag -> command name -> the parameter, over every command."""
    found: dict[str, dict[str, click.Parameter]] = {}
    for name, command in commands().items():
        for param in command.params:
            found.setdefault(flag(param), {})[name] = param
    return found


def action_yml() -> dict[str, Any]:
    data = yaml.safe_load(text(ROOT / "action.yml"))
    assert isinstance(data, dict)
    return data


def allowed_keys(document: object) -> list[str] | None:
    """The keys ``parse_config`` allows where ``document`` puts ``__probe__``, from its
    "unknown key" message; None when that place is a value, or a mapping of free keys."""
    try:
        parse_config(document, source="probe.yml")
    except InputError as exc:
        match = re.search(r"unknown key '__probe__' \(allowed: ([^)]*)\)", str(exc))
        return match[1].split(", ") if match else None
    return None


def config_keys() -> set[str]:
    """Every key path a config file may hold (``thresholds.hard.max_p``), leaves only."""

    def nest(path: list[str], leaf: object) -> object:
        for key in reversed(path):
            leaf = {key: leaf}
        return leaf

    def walk(path: list[str]) -> Iterator[str]:
        keys = allowed_keys(nest(path, {"__probe__": 1}))
        if keys is None:
            yield ".".join(path)
            return
        for key in keys:
            yield from walk([*path, key])

    return set(walk([]))


# --- the README -----------------------------------------------------------------------------


def test_readme_is_short_with_a_table_of_contents_whose_links_work() -> None:
    readme = text(README)
    assert len(readme.splitlines()) <= MAX_README_LINES
    toc = section(readme, "## Contents")
    targets = re.findall(r"\]\(#([^)]+)\)", toc)
    assert targets, "the table of contents links nothing"
    assert set(targets) <= anchors(readme), set(targets) - anchors(readme)
    # Every section of the README is in the table of contents.
    sections = {slug(title) for level, title in headings(readme) if level == 2}
    assert sections - {"contents"} <= set(targets)


def test_readme_links_every_document() -> None:
    linked = {Path(target.split("#")[0]) for target in LINK.findall(prose(text(README)))}
    for doc in DOC_FILES:
        assert doc.relative_to(ROOT) in linked, f"README does not link {doc.name}"


@pytest.mark.parametrize("path", [README, *DOC_FILES], ids=lambda p: p.name)
def test_links_and_anchors_resolve(path: Path) -> None:
    for target in LINK.findall(prose(text(path))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.exists(), f"{path.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(text(resolved)), f"{path.name}: no #{anchor} in {file}"


@pytest.mark.parametrize("path", [README, *DOC_FILES], ids=lambda p: p.name)
def test_repository_paths_named_exist(path: Path) -> None:
    for name in CODE_SPAN.findall(text(path)):
        if re.fullmatch(r"(?:evalbot|tests|bench|templates|examples|docs)/[\w./-]*", name):
            assert (ROOT / name).exists(), f"{path.name}: `{name}` does not exist"


def test_readme_states_the_python_the_project_requires() -> None:
    requires = tomllib.loads(text(ROOT / "pyproject.toml"))["project"]["requires-python"]
    version = re.fullmatch(r">=\s*(3\.\d+)", requires)
    assert version, requires
    assert f"Python {version[1]} or newer" in text(README)


def two_commands() -> list[str]:
    blocks = fenced(section(text(README), "## Two commands"))
    assert len(blocks) == 2, blocks
    return [block.strip() for block in blocks]


def test_readme_test_command_is_the_one_ci_runs() -> None:
    ci = [line.strip() for line in text(ROOT / ".ci" / "run").splitlines()]
    ci = [line for line in ci if line and not line.startswith("#")]
    test_command = ci[-1]  # .ci/run ends with the README's test command
    install = next(line for line in ci if "pip install" in line and "-e" in line)
    steps = two_commands()[1].split(" && ")
    assert steps[-1] == test_command
    extras = shlex.split(install)[-1]
    assert "pip install -e " + shlex.quote(extras) in steps


def test_readme_first_command_runs_the_bundled_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last step of the first command, run as written: exit 1 (the example's hard
    # regression), the comment on standard output.
    steps = two_commands()[0].split(" && ")
    assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    args = shlex.split(steps[-1])
    assert args[0] == "evalbot"
    monkeypatch.chdir(ROOT)
    assert cli_main(args[1:]) == 1
    out = capsys.readouterr().out
    assert out.startswith("<!-- evalbot:")
    assert "evalbot fails" in out


def test_readme_exit_codes_cover_every_command() -> None:
    header, *rows = table(section(text(README), "### Exit codes"))
    assert header[0] == "exit"
    assert {spans(cell)[0] for cell in header[1:]} == set(commands())
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    assert all(cell for row in rows for cell in row)


def test_readme_workflow_is_a_valid_workflow_using_the_action(tmp_path: Path) -> None:
    pytest.importorskip("check_jsonschema")
    (block,) = fenced(section(text(README), "## Use it in your repository"))
    workflow = tmp_path / "evalbot.yml"
    workflow.write_text(block, encoding="utf-8")
    schema = ["--builtin-schema", "vendor.github-workflows"]
    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *schema, str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    steps = yaml.safe_load(block)["jobs"]["evals"]["steps"]
    (step,) = [s for s in steps if s.get("uses", "").startswith("org/evalbot@")]
    assert set(step["with"]) <= set(action_yml()["inputs"])
    required = {k for k, v in action_yml()["inputs"].items() if v.get("required")}
    assert required <= set(step["with"])


# --- docs/configuration.md: the one table ---------------------------------------------------


def settings_table() -> list[dict[str, str]]:
    header, *rows = table(section(text(DOCS / "configuration.md"), "## Every setting"))
    assert header[:5] == [
        "config key",
        "CLI option",
        "commands",
        "environment variable",
        "action input",
    ]
    return [dict(zip(header, row, strict=True)) for row in rows]


def names(cell: str) -> list[str]:
    return [] if cell == NONE else spans(cell)


def test_every_cli_option_is_in_the_settings_table_with_its_commands_and_variable() -> None:
    documented: dict[str, dict[str, str]] = {}
    for row in settings_table():
        for name in names(row["CLI option"]):
            assert name not in documented, f"{name} is in the table twice"
            documented[name] = row
    code = cli_parameters()
    assert set(documented) == set(code), {
        "undocumented": set(code) - set(documented),
        "not in the code": set(documented) - set(code),
    }
    for name, by_command in code.items():
        row = documented[name]
        listed = {c.strip() for c in row["commands"].split(",")}
        assert listed == set(by_command), f"{name}: commands {listed} != {set(by_command)}"
        variables = {env_variable(param) for param in by_command.values()}
        assert names(row["environment variable"]) == sorted(variables), name


def test_every_action_input_is_in_the_settings_table_once() -> None:
    documented = [name for row in settings_table() for name in names(row["action input"])]
    assert sorted(documented) == sorted(action_yml()["inputs"])


def test_every_config_key_is_in_the_settings_table_once() -> None:
    documented = [name for row in settings_table() for name in names(row["config key"])]
    assert len(documented) == len(set(documented)), "a config key is listed twice"
    keys = config_keys()
    assert set(documented) == keys, {
        "undocumented": keys - set(documented),
        "not in the code": set(documented) - keys,
    }


def test_the_config_file_shown_holds_the_defaults() -> None:
    (block,) = fenced(section(text(DOCS / "configuration.md"), "## The config file"))
    shown = parse_config(yaml.safe_load(block), source="docs/configuration.md")
    assert shown == parse_config({}, source="empty")


@pytest.mark.parametrize("path", [README, *DOC_FILES], ids=lambda p: p.name)
def test_every_evalbot_variable_named_is_read(path: Path) -> None:
    read = {env_variable(p) for by in cli_parameters().values() for p in by.values()}
    for variable in re.findall(r"\bEVALBOT_[A-Z0-9_]+\b", text(path)):
        assert variable in read, f"{path.name}: {variable} is read by no option"


# --- docs/cli.md: each command's options and exit codes -------------------------------------


@pytest.mark.parametrize("name", sorted(commands()))
def test_each_command_has_its_synopsis_and_exit_codes(name: str) -> None:
    body = section(text(DOCS / "cli.md"), f"## `evalbot {name}`")
    synopsis = "\n".join(fenced(body))
    assert f"evalbot {name}" in synopsis
    for param in commands()[name].params:
        assert re.search(rf"(?<![\w-]){re.escape(flag(param))}(?![\w-])", synopsis), (
            f"evalbot {name}: {flag(param)} is missing from the synopsis"
        )
    header, *rows = table(body)
    assert header[0] == "exit"
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]


# --- docs/action.md: inputs and outputs -----------------------------------------------------


def test_action_doc_lists_every_input_with_its_default() -> None:
    inputs = action_yml()["inputs"]
    _, *rows = table(section(text(DOCS / "action.md"), "## Inputs"))
    documented = {spans(row[0])[0]: row[1] for row in rows}
    assert len(documented) == len(rows), "an input is listed twice"
    assert set(documented) == set(inputs)
    for name, default in documented.items():
        meta = inputs[name]
        if meta.get("required"):
            assert default == "required", name
        else:
            assert default == (f"`{meta['default']}`" if meta["default"] else ""), name


def test_action_doc_lists_every_output() -> None:
    _, *rows = table(section(text(DOCS / "action.md"), "## Outputs"))
    documented = [spans(row[0])[0] for row in rows]
    assert sorted(documented) == sorted(action_yml()["outputs"])


# --- docs/report-format.md: the CSV columns -------------------------------------------------


def csv_header(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    cli_main(args)
    header = capsys.readouterr().out.splitlines()[0].split(",")
    # One column per feedback key in the data; the document writes the key as <key>.
    return [re.sub(r"score:.*", "score:<key>", column) for column in header]


def test_csv_columns_are_the_ones_written(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    _, *rows = table(section(text(DOCS / "report-format.md"), "## CSV exports"))
    export_doc = [name for row in rows for name in names(row[0])]
    compare_doc = [name for row in rows for name in names(row[1])]
    export = csv_header(
        ["export", "--experiment-file", "examples/pr.json", "--format", "csv"], capsys
    )
    compare = csv_header(
        [
            "compare",
            "--pr-file",
            "examples/pr.json",
            "--baseline-file",
            "examples/baseline.json",
            "--format",
            "csv",
        ],
        capsys,
    )
    assert list(dict.fromkeys(export)) == export_doc
    assert sorted(set(compare)) == sorted(compare_doc)
