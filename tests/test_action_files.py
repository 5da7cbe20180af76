"""action.yml, the Dockerfile, requirements-action.txt and the README agree with the code."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalbot.action import INPUTS, OUTPUTS

ROOT = Path(__file__).resolve().parent.parent
SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def action() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text:
            word, _, rest = text.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def markdown_table(heading: str) -> list[list[str]]:
    """Rows (cells stripped) of the first table under ``heading`` in README.md."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert heading in lines, f"README.md has no {heading!r} heading"
    start = lines.index(heading) + 1
    rows: list[list[str]] = []
    for line in lines[start:]:
        if line.startswith("#"):
            break
        if line.strip().startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.append(cells)
        elif rows:
            break  # the first table has ended
    assert len(rows) >= 2, f"no table under {heading!r}"
    _header, separator, *body = rows
    assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in separator), separator
    return body


def first_column_names(rows: list[list[str]]) -> list[str]:
    names = []
    for row in rows:
        match = re.fullmatch(r"`([^`]+)`", row[0])
        assert match, f"first cell must be `name` in backticks: {row[0]!r}"
        names.append(match.group(1))
    return names


# --- action.yml -----------------------------------------------------------------------------


def test_action_inputs_match_the_code() -> None:
    assert len(set(INPUTS)) == len(INPUTS)
    assert set(action()["inputs"]) == set(INPUTS)


def test_action_outputs_match_the_code() -> None:
    assert len(set(OUTPUTS)) == len(OUTPUTS)
    assert set(action()["outputs"]) == set(OUTPUTS)


def test_input_names_are_snake_case() -> None:
    # The runner keeps hyphens in INPUT_<NAME>, which a shell cannot read.
    for name in action()["inputs"]:
        assert SNAKE.fullmatch(name), name


def test_every_input_and_output_is_described() -> None:
    data = action()
    for kind in ("inputs", "outputs"):
        for name, meta in data[kind].items():
            assert isinstance(meta, dict), name
            description = meta.get("description")
            assert isinstance(description, str) and description.strip(), f"{kind}.{name}"


def test_only_the_api_key_is_required_and_defaults_are_strings() -> None:
    for name, meta in action()["inputs"].items():
        if meta.get("required"):
            assert name == "langsmith_api_key"
            assert "default" not in meta
        else:
            assert isinstance(meta.get("default"), str), name


def test_runs_the_dockerfile() -> None:
    runs = action()["runs"]
    assert runs["using"] == "docker"
    assert runs["image"] == "Dockerfile"
    assert "entrypoint" not in runs and "args" not in runs  # the image's ENTRYPOINT decides


def test_action_metadata() -> None:
    data = action()
    assert data["name"] and data["description"]
    assert data["branding"]["icon"] and data["branding"]["color"]  # required by the Marketplace


def test_action_description_fits_the_marketplace() -> None:
    # Publishing fails with "Description must be less than 125 characters".
    assert len(action()["description"]) < 125


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_entrypoint_is_exec_form() -> None:
    entrypoints = [args for word, args in dockerfile() if word == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    assert json.loads(entrypoints[0]) == ["evalbot", "action"]


def test_dockerfile_has_no_workdir_or_user() -> None:
    # GitHub runs Docker actions as root in /github/workspace; a WORKDIR or USER breaks that.
    words = [word for word, _ in dockerfile()]
    assert "WORKDIR" not in words
    assert "USER" not in words


def test_dockerfile_pip_installs_use_no_cache_dir() -> None:
    runs = [args for word, args in dockerfile() if word == "RUN"]
    installs = [cmd for args in runs for cmd in re.split(r"&&|;", args) if "pip install" in cmd]
    assert installs, "no pip install in the Dockerfile"
    for cmd in installs:
        assert "--no-cache-dir" in cmd, cmd


def test_dockerfile_base_image_has_an_exact_version_tag() -> None:
    froms = [args for word, args in dockerfile() if word == "FROM"]
    assert len(froms) == 1
    image = froms[0].split()[0]
    assert re.fullmatch(r"python:3\.11\.\d+-[a-z0-9.-]+(@sha256:[0-9a-f]{64})?", image), image


def test_dockerfile_installs_the_pinned_requirements() -> None:
    runs = " ".join(args for word, args in dockerfile() if word == "RUN")
    assert "requirements-action.txt" in runs
    copies = " ".join(args for word, args in dockerfile() if word == "COPY")
    assert "requirements-action.txt" in copies


# --- requirements-action.txt ----------------------------------------------------------------


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in (ROOT / "requirements-action.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!-]+)", line)
        assert match, f"not pinned with ==: {raw!r}"
        name = canonical(match.group(1))
        assert name not in found, f"{name} pinned twice"
        found[name] = match.group(2)
    return found


def dependencies() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    out = {}
    for spec in data["project"]["dependencies"]:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
        assert match, spec
        out[canonical(match.group(1))] = spec
    return out


def test_requirements_pin_every_dependency() -> None:
    pinned = pins()
    missing = sorted(set(dependencies()) - set(pinned))
    assert not missing, f"requirements-action.txt does not pin {missing}"


def test_pins_satisfy_the_pyproject_ranges() -> None:
    requirements = pytest.importorskip("packaging.requirements")
    pinned = pins()
    for name, spec in dependencies().items():
        requirement = requirements.Requirement(spec)
        assert requirement.specifier.contains(pinned[name], prereleases=True), (spec, pinned[name])


# --- README ---------------------------------------------------------------------------------


def test_readme_inputs_table_matches_action_yml() -> None:
    rows = markdown_table("### Inputs")
    names = first_column_names(rows)
    assert len(set(names)) == len(names), "an input is listed twice"
    assert set(names) == set(action()["inputs"])


def test_readme_outputs_table_matches_action_yml() -> None:
    names = first_column_names(markdown_table("### Outputs"))
    assert len(set(names)) == len(names), "an output is listed twice"
    assert set(names) == set(action()["outputs"])
