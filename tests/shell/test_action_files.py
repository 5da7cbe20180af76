"""action.yml, the Dockerfile and requirements-action.txt agree with the code (docs: test_docs)."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalbot.action import INPUTS, OUTPUTS

ROOT = Path(__file__).resolve().parents[2]
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
    # On branches (and in this repo's CI) the image is built; a release points
    # its own action.yml at the published image (next test).
    runs = action()["runs"]
    assert runs["using"] == "docker"
    assert runs["image"] == "Dockerfile"
    assert "entrypoint" not in runs and "args" not in runs  # the image's ENTRYPOINT decides


RELEASE_SCRIPT = ROOT / ".github" / "scripts" / "use-published-image.sh"


def test_release_points_action_yml_at_the_published_image(tmp_path: Path) -> None:
    copy = tmp_path / "action.yml"
    copy.write_text((ROOT / "action.yml").read_text(encoding="utf-8"), encoding="utf-8")
    image = "ghcr.io/owner/evalbot:v1.2.3"
    subprocess.run(["bash", str(RELEASE_SCRIPT), image, str(copy)], check=True)
    released = yaml.safe_load(copy.read_text(encoding="utf-8"))
    assert released["runs"] == {"using": "docker", "image": f"docker://{image}"}
    # Nothing else changed.
    assert {k: v for k, v in released.items() if k != "runs"} == {
        k: v for k, v in action().items() if k != "runs"
    }


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("ghcr.io/Owner/evalbot:v1.2.3", "must be lowercase"),
        ("evalbot", "not a registry/name:tag reference"),
        ("ghcr.io/owner/evalbot:v1 ; rm -rf /", "not a registry/name:tag reference"),
    ],
)
def test_release_script_refuses_bad_images(tmp_path: Path, image: str, message: str) -> None:
    copy = tmp_path / "action.yml"
    copy.write_text((ROOT / "action.yml").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run(
        ["bash", str(RELEASE_SCRIPT), image, str(copy)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert copy.read_text(encoding="utf-8") == (ROOT / "action.yml").read_text(encoding="utf-8")


def test_release_workflow_uses_the_script_on_the_built_image() -> None:
    workflow = yaml.safe_load(
        (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    )
    steps = workflow["jobs"]["image"]["steps"]
    text = json.dumps(steps)
    assert "use-published-image.sh" in text
    build = next(s for s in steps if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["tags"] == "${{ steps.version.outputs.image }}"


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


def _pip_installs() -> list[str]:
    runs = [args for word, args in dockerfile() if word == "RUN"]
    return [
        cmd
        for args in runs
        for cmd in re.split(r"&&|;", args)
        if re.search(r"\bpip\b.*\b(install|wheel)\b", cmd)
    ]


def test_dockerfile_pip_installs_use_no_cache_dir() -> None:
    installs = _pip_installs()
    assert installs, "no pip install in the Dockerfile"
    for cmd in installs:
        assert "--no-cache-dir" in cmd, cmd


def test_dockerfile_base_images_have_an_exact_version_tag() -> None:
    froms = [args for word, args in dockerfile() if word == "FROM"]
    assert len(froms) == 2  # a build stage and the final image
    images = {args.split()[0] for args in froms}
    assert len(images) == 1, "both stages use the same base (the venv's python links to it)"
    for image in images:
        assert re.fullmatch(r"python:3\.11\.\d+-[a-z0-9.-]+(@sha256:[0-9a-f]{64})?", image), image


def test_dockerfile_installs_only_hash_locked_requirements() -> None:
    installs = _pip_installs()
    locks = [cmd for cmd in installs if " -r " in cmd]
    files = {path.rsplit("/", 1)[-1] for cmd in locks for path in re.findall(r"-r (\S+)", cmd)}
    assert files == {"requirements-action.lock", "requirements-build.lock"}
    for cmd in locks:
        assert "--require-hashes" in cmd and "--no-deps" in cmd, cmd
    # Everything else installs evalbot itself, without resolving anything.
    for cmd in installs:
        assert "--no-deps" in cmd, cmd
    copies = " ".join(args for word, args in dockerfile() if word == "COPY")
    assert "requirements-action.lock" in copies


def test_final_image_is_the_base_plus_the_virtualenv() -> None:
    # No pip cache, build backend or source tree in the final stage.
    instructions = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    final = instructions[last_from + 1 :]
    assert [word for word, _ in final if word in ("RUN", "COPY", "ADD")] == ["COPY"]
    assert [args for word, args in final if word == "COPY"] == [
        "--from=build /opt/evalbot /opt/evalbot"
    ]


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


# --- lock files (checked offline: regenerate with the command in each file's header) ---------

LOCK_HEADER = re.compile(
    r"# This file was autogenerated by uv via the following command:\n"
    r"#    uv pip compile (?P<input>\S+) --generate-hashes .*-o (?P<output>\S+)\n"
)


def lock_entries(name: str) -> dict[str, tuple[str, list[str], list[str]]]:
    """{package: (version, hashes, via)} of a `uv pip compile --generate-hashes` lock."""
    text = (ROOT / name).read_text(encoding="utf-8")
    header = LOCK_HEADER.match(text)
    assert header, f"{name} has no `uv pip compile` header"
    assert header.group("output") == name
    entries: dict[str, tuple[str, list[str], list[str]]] = {}
    current: str | None = None
    in_via = False
    for line in text.splitlines():
        pin = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\", line)
        if pin:
            current = canonical(pin.group(1))
            assert current not in entries, f"{current} twice in {name}"
            entries[current] = (pin.group(2), [], [])
            in_via = False
            continue
        assert not re.match(r"[A-Za-z0-9]", line), f"not pinned with == and hashes: {line!r}"
        if current is None:
            continue
        hashed = re.fullmatch(r"    --hash=sha256:([0-9a-f]{64})(?: \\)?", line)
        via = re.fullmatch(r"    # via(?: (.+))?", line)
        more = re.fullmatch(r"    #   (.+)", line)
        if hashed:
            entries[current][1].append(hashed.group(1))
        elif via:
            in_via = via.group(1) is None
            if via.group(1):
                entries[current][2].append(via.group(1))
        elif more and in_via:
            entries[current][2].append(more.group(1))
    return entries


def _input_pins(name: str) -> dict[str, str]:
    found = {}
    for raw in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            package, version = line.split("==")
            found[canonical(package)] = version.strip()
    return found


@pytest.mark.parametrize(
    ("source", "lock"),
    [
        ("requirements-action.txt", "requirements-action.lock"),
        ("requirements-build.txt", "requirements-build.lock"),
    ],
)
def test_lock_matches_its_requirements(source: str, lock: str) -> None:
    entries = lock_entries(lock)
    pinned = _input_pins(source)
    # Every pin is locked at its version, and marked as coming from the input file...
    for package, version in pinned.items():
        assert package in entries, f"{lock} lacks {package}: regenerate it"
        assert entries[package][0] == version, f"{lock}: {package} is not {version}: regenerate it"
        assert f"-r {source}" in entries[package][2], f"{lock}: {package} not via {source}"
    # ...nothing else claims to be, and every other package is needed by one in the lock.
    for package, (_, hashes, via) in entries.items():
        assert hashes, f"{lock}: {package} has no hash"
        for reason in via:
            if reason.startswith("-r "):
                assert reason == f"-r {source}" and package in pinned, (package, reason)
            else:
                assert canonical(reason) in entries, f"{lock}: {package} via {reason}, not locked"
        assert via, f"{lock}: {package} is locked for no reason: regenerate it"


def test_build_lock_satisfies_the_build_system() -> None:
    requirements = pytest.importorskip("packaging.requirements")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    entries = lock_entries("requirements-build.lock")
    for spec in data["build-system"]["requires"]:
        requirement = requirements.Requirement(spec)
        name = canonical(requirement.name)
        assert name in entries, f"requirements-build.txt does not pin {name}"
        assert requirement.specifier.contains(entries[name][0]), (spec, entries[name][0])
