"""The conda route: environment.yml agrees with the pins, and `make … ENV=active` publishes
with an environment the user made and activated, without touching .venv.

conda itself cannot run here (conda-forge is out of reach), so the "pre-made environment"
is a plain virtualenv holding the pins, activated the way `activate` does it (PATH and
VIRTUAL_ENV); the Makefile treats $CONDA_PREFIX the same way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, make_env

Q = "2022Q1"
KERNEL = "kefu-weikan"
# Tools, not packages of the project: conda needs them listed, and they carry no pin.
UNPINNED_TOOLS = {"python", "pip"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """`name==version` lines of a compiled requirements file, by normalised name."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        if match:
            found[_norm(match[1])] = match[2]
    return found


def env_yml_problems(
    env_yml: str, requirements: str, kernel: str, pyproject: str, makefile: str
) -> list[str]:
    """Where environment.yml, the pins, pyproject.toml and `make lock` disagree ([] if nowhere)."""
    problems = []
    spec = yaml.safe_load(env_yml)
    deps = spec.get("dependencies") or []
    conda = [d for d in deps if isinstance(d, str)]
    pip = [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
    req, kern = pins(requirements), pins(kernel)

    # One Python version everywhere: environment.yml, requires-python, and what the lock resolved for.
    lock_versions = set(re.findall(r"--python-version\s+(\S+)", makefile))
    requires = tomllib.loads(pyproject)["project"]["requires-python"]
    floor = re.fullmatch(r">=\s*(\d+\.\d+)", requires.strip())
    pythons = [d for d in conda if re.match(r"python\b(?!-)", d)]
    py = re.fullmatch(r"python\s*==?\s*(\d+\.\d+)(\.\*)?", pythons[0].strip()) if len(pythons) == 1 else None
    if py is None:
        problems.append(f"environment.yml: expected one `python=X.Y` dependency, found {pythons}")
    elif lock_versions != {py[1]}:
        problems.append(
            f"environment.yml has python={py[1]}, `make lock` resolves for {sorted(lock_versions)}"
        )
    elif floor is None or floor[1] != py[1]:
        problems.append(f"environment.yml has python={py[1]}, pyproject.toml requires-python {requires!r}")

    # The pip section installs the pinned files (the kernel's too: one env runs both) and the project.
    for needed in ("-r requirements.txt", "-r requirements-kernel.txt", "-e ."):
        if needed not in [p.strip() for p in pip]:
            problems.append(f"environment.yml: the pip section does not install `{needed}`")
    if "pip" not in [re.split(r"[=<>!\s]", d.strip())[0] for d in conda]:
        problems.append("environment.yml: `pip` is not a conda dependency, so its pip section cannot run")

    # A package listed by name must be pinned, at the pinned version.
    for where, entries in (
        ("dependencies", conda),
        ("pip", [p for p in pip if not p.strip().startswith("-")]),
    ):
        for entry in entries:
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:(==?)\s*([^\s=]+))?", entry.strip())
            if match is None:
                problems.append(f"environment.yml {where}: cannot read {entry!r}")
                continue
            name, version = _norm(match[1]), match[3]
            if name in UNPINNED_TOOLS:
                continue
            if name not in req:
                problems.append(f"environment.yml {where}: {entry!r} is not pinned in requirements.txt")
            elif version != req[name]:
                problems.append(f"environment.yml {where}: {entry!r}, but requirements.txt pins {req[name]}")

    # The kernel's pins are compiled with -c requirements.txt: the same version wherever both pin.
    for name in sorted(set(req) & set(kern)):
        if req[name] != kern[name]:
            problems.append(
                f"{name}: requirements.txt pins {req[name]}, requirements-kernel.txt {kern[name]}"
            )
    return problems


def _project_files() -> dict[str, str]:
    names = {
        "env_yml": "environment.yml",
        "requirements": "requirements.txt",
        "kernel": "requirements-kernel.txt",
        "pyproject": "pyproject.toml",
        "makefile": "Makefile",
    }
    return {key: (ROOT / name).read_text(encoding="utf-8") for key, name in names.items()}


def test_environment_yml_agrees_with_the_pins():
    files = _project_files()
    assert pins(files["requirements"]) and pins(files["kernel"])
    assert env_yml_problems(**files) == []


def _add_dependency(text: str, line: str) -> str:
    return text.replace("  - pip\n", f"  - pip\n  {line}\n", 1)


@pytest.mark.parametrize(
    "change",
    [
        "conda package at another version",
        "pip package at another version",
        "package not pinned",
        "another python",
        "kernel pins left out",
        "kernel pin differs",
        "lock for another python",
    ],
)
def test_environment_check_catches_a_disagreement(change):
    files = _project_files()
    pandas = pins(files["requirements"])["pandas"]
    other = pandas + ".1"
    if change == "conda package at another version":
        files["env_yml"] = _add_dependency(files["env_yml"], f"- pandas={other}")
    elif change == "pip package at another version":
        files["env_yml"] = files["env_yml"].replace("- -e .", f"- -e .\n      - pandas=={other}")
    elif change == "package not pinned":
        files["env_yml"] = _add_dependency(files["env_yml"], "- nodejs=20")
    elif change == "another python":
        files["env_yml"] = files["env_yml"].replace("- python=3.11", "- python=3.12")
    elif change == "kernel pins left out":
        files["env_yml"] = files["env_yml"].replace("- -r requirements-kernel.txt\n", "")
    elif change == "kernel pin differs":
        files["kernel"] = files["kernel"].replace(f"pandas=={pandas}", f"pandas=={other}")
    elif change == "lock for another python":
        files["makefile"] = files["makefile"].replace("--python-version 3.11", "--python-version 3.12", 1)
    before = _project_files()
    assert files != before, f"the change {change!r} did not apply"
    assert env_yml_problems(**before) == []
    assert env_yml_problems(**files), f"{change} went unnoticed"


# --- the active-environment route: `make quarter ENV=active` --------------------------------


def _uv() -> Path:
    uv = Path(sys.executable).with_name("uv")
    if uv.exists():
        return uv
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is needed to make the second environment (make env installs it into .venv)")
    return Path(found)


def _activated(env: dict[str, str], prefix: Path | None) -> dict[str, str]:
    """`env` as in a shell where `prefix` was activated (None: no environment active at all)."""
    env = {
        k: v
        for k, v in env.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    if prefix is not None:
        env["VIRTUAL_ENV"] = str(prefix)
        env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _make(*args: str, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _venv_state() -> dict[str, object]:
    """What the default route owns: .venv's stamp, its kernelspecs, its site-packages, .venv-kernel."""
    venv = ROOT / ".venv"
    kernels = venv / "share" / "jupyter" / "kernels"
    state: dict[str, object] = {}
    for path in (
        venv / ".ready",
        kernels,
        *sorted(kernels.glob("*/kernel.json")),
        *sorted(venv.glob("lib/python3*/site-packages")),
        *sorted((ROOT / ".venv-kernel").glob("lib/python3*/site-packages")),
    ):
        stat = path.stat() if path.exists() else None
        state[str(path.relative_to(ROOT))] = stat and (stat.st_mtime_ns, stat.st_size)
        if stat and path.is_file():
            state[f"{path.relative_to(ROOT)}:content"] = path.read_bytes()
    return state


def _git_filter() -> list[str]:
    return [
        subprocess.run(["git", "config", "--get", key], cwd=ROOT, capture_output=True, text=True).stdout
        for key in ("filter.nbstripout.clean", "diff.ipynb.textconv")
    ]


@pytest.fixture(scope="module")
def premade_env(tmp_path_factory) -> Path:
    """A second environment holding the pins (not the project, no kernelspec), as a user
    would have made it: `python3 -m venv`, then the pinned requirements (uv from .venv:
    from its cache, seconds)."""
    prefix = tmp_path_factory.mktemp("active-env") / "env"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, timeout=300)
    # No bytecode (an outer `make test` exports UV_COMPILE_BYTECODE=1): compiling ~800 MB of
    # packages takes ~35 s, more than the one publish here loses by compiling its imports.
    env = {**os.environ, "UV_COMPILE_BYTECODE": "0"}
    subprocess.run(
        [str(_uv()), "pip", "install", "--quiet", "--python", str(prefix / "bin" / "python")]
        + ["-r", str(ROOT / "requirements.txt"), "-r", str(ROOT / "requirements-kernel.txt")],
        check=True,
        env=env,
        timeout=900,
    )
    print(f"second environment made in {time.perf_counter() - start:.1f} s")
    return prefix


def test_make_quarter_publishes_with_the_active_environment(
    premade_env, sample_root, session_cache, tmp_path
):
    out = tmp_path / "out"
    env = _activated(make_env(session_cache), premade_env)
    venv_before, filter_before = _venv_state(), _git_filter()
    args = ["quarter", f"Q={Q}", "ENV=active", f"DATA={sample_root}", f"OUT={out}"]

    start = time.perf_counter()
    result = _make(*args, env=env)
    took = time.perf_counter() - start
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    print(f"make quarter ENV=active: {took:.1f} s")
    assert (out / Q / "issue.html").is_file(), output
    assert f"checking the active environment {premade_env}" in output
    # The env held the pins but not the project: make installed it from this checkout.
    assert "installing the project into" in output, output
    python = premade_env / "bin" / "python"
    found = subprocess.run(
        [str(python), "-c", "import helpers; print(helpers.__file__)"],
        cwd=premade_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve() == (ROOT / "src" / "helpers" / "__init__.py").resolve()

    # The kernel is registered inside that environment and runs that environment's python.
    spec = json.loads((premade_env / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json").read_text())
    assert spec["argv"][0] == str(python)
    assert spec["display_name"] == "客服微刊 (Python 3)"
    listed = subprocess.run(
        [str(premade_env / "bin" / "jupyter"), "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(json.loads(listed)["kernelspecs"][KERNEL]["resource_dir"]) == (
        premade_env / "share" / "jupyter" / "kernels" / KERNEL
    )

    # Nothing of the default route was made, used or changed.
    assert _venv_state() == venv_before
    assert _git_filter() == filter_before

    # Every recipe runs the env's programs; a second run does not set the env up again.
    dry = _make("-n", "validate", "lint", f"Q={Q}", "ENV=active", env=env, timeout=60)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"{premade_env}/bin/python -m helpers.publish.cli validate" in dry.stdout
    assert f"{premade_env}/bin/ruff check ." in dry.stdout
    assert ".venv" not in dry.stdout
    again = _make(*args, env=env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "checking the active environment" not in again.stdout + again.stderr
    assert _venv_state() == venv_before


def test_env_active_without_an_active_environment_says_so(session_cache):
    venv_before = _venv_state()
    result = _make(
        f"Q={Q}", "quarter", "ENV=active", env=_activated(make_env(session_cache), None), timeout=60
    )
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "ENV=active: no active environment" in message
    assert "CONDA_PREFIX" in message and "VIRTUAL_ENV" in message
    assert "conda env create -f environment.yml" in message
    assert "pip install -r requirements.txt" in message
    assert "publishing" not in message
    assert _venv_state() == venv_before


def test_env_active_without_the_pins_names_what_is_missing(session_cache, tmp_path):
    prefix = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    result = _make("env", "ENV=active", env=_activated(make_env(session_cache), prefix), timeout=120)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert f"the active environment {prefix} lacks" in message
    for package in ("altair", "ipykernel", "papermill"):
        assert package in message.split("lacks", 1)[1]
    assert "conda env update -f environment.yml" in message
    assert "python -m pip install -r requirements.txt" in message
    assert not (prefix / "share" / "jupyter" / "kernels" / KERNEL).exists()


def test_env_is_only_read_from_the_command_line(session_cache):
    # POSIX shells read $ENV (a startup file): an exported one must not switch make's route.
    env = {**make_env(session_cache), "ENV": "/etc/shrc"}
    result = _make("-n", "validate", f"Q={Q}", env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ".venv/bin/python -m helpers.publish.cli validate" in result.stdout


@pytest.mark.parametrize(
    "active, first_on_path, expected",
    [
        ({"CONDA_PREFIX": "conda"}, "conda", "conda"),
        ({"VIRTUAL_ENV": "venv"}, "venv", "venv"),
        # conda's base env stays active under an activated virtualenv: the one on PATH first wins.
        ({"CONDA_PREFIX": "conda", "VIRTUAL_ENV": "venv"}, "venv", "venv"),
        ({"CONDA_PREFIX": "conda", "VIRTUAL_ENV": "venv"}, "conda", "conda"),
    ],
)
def test_env_active_picks_the_activated_environment(session_cache, tmp_path, active, first_on_path, expected):
    env = _activated(make_env(session_cache), None)
    env.update({key: str(tmp_path / name) for key, name in active.items()})
    env["PATH"] = f"{tmp_path / first_on_path / 'bin'}{os.pathsep}{env['PATH']}"
    result = _make("-n", "validate", f"Q={Q}", "ENV=active", env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{tmp_path / expected}/bin/python -m helpers.publish.cli validate" in result.stdout
    assert ".venv" not in result.stdout
