"""Checks behind `make … ENV=active`: is the active environment able to publish?

Run by the Makefile with the active environment's own interpreter, as a script (never
imported: the project may not be installed yet), from the project root:

  python mk/active_env.py packages   every pinned package installed? (exit 1 if not)
  python mk/active_env.py project    `helpers` and its entry points from this checkout? (exit 1 if not)
  python mk/active_env.py kernel     the kefu-weikan kernelspec of this env runs this python? (exit 1 if not)

Standard library only, and it reads nothing but the pins and the environment.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path.cwd()
PINS = ("requirements.txt", "requirements-kernel.txt")
KERNEL = "kefu-weikan"
# The project's entry points: the papermill engine and the kernel provisioner (pyproject.toml).
ENTRY_POINTS = {
    ("papermill.engine", "kefu"): "helpers.publish.kernels:KefuEngine",
    ("jupyter_client.kernel_provisioners", "kefu-forking-provisioner"): (
        "helpers.publish.kernels:ForkingProvisioner"
    ),
}
HOW_TO_INSTALL = (
    "  Install the pinned packages into it, then run make again:\n"
    "    conda:         conda env update -f environment.yml\n"
    "                   (or a new env: conda env create -f environment.yml; conda activate kefu-weikan)\n"
    "    a virtualenv:  python -m pip install -r requirements.txt\n"
    "  Or leave out ENV=active: make then builds and uses its own .venv."
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """Every `name==version` of the pinned requirements files, by normalised name."""
    found: dict[str, str] = {}
    for name in PINS:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
            if match:
                found[_norm(match[1])] = match[2]
    return found


def top_level() -> list[str]:
    """The packages the project names itself (requirements*.in), kernel's first."""
    names: list[str] = []
    for name in ("requirements-kernel.in", "requirements.in"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*$", line)
            if match and _norm(match[1]) not in names:
                names.append(_norm(match[1]))
    return names


def installed() -> dict[str, str]:
    versions: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(_norm(name), dist.version)
    return versions


def check_packages() -> int:
    where = sys.prefix
    # The active env's python may be any version: requires-python is not checked for us.
    if sys.version_info < (3, 11):  # noqa: UP036
        print(
            f"ENV=active: {where} runs Python {sys.version.split()[0]}; the project needs Python 3.11.\n"
            "  conda: conda env create -f environment.yml  (it installs python=3.11)",
            file=sys.stderr,
        )
        return 1
    have, want = installed(), pins()
    # The project's own requirements first (those are what a reader recognises), then the rest.
    first = [name for name in top_level() if name in want]
    missing = [name for name in first + sorted(set(want) - set(first)) if name not in have]
    if missing:
        shown = ", ".join(missing[:16]) + (f" and {len(missing) - 16} more" if len(missing) > 16 else "")
        print(
            f"ENV=active: the active environment {where} lacks {len(missing)} of the project's "
            f"{len(want)} pinned packages: {shown}.\n{HOW_TO_INSTALL}",
            file=sys.stderr,
        )
        return 1
    other = sorted(f"{name} {have[name]} (pinned {want[name]})" for name in want if have[name] != want[name])
    if other:
        shown = ", ".join(other[:8]) + (f" and {len(other) - 8} more" if len(other) > 8 else "")
        print(
            f"==> warning: {where} has other versions than the pins: {shown}; the issue may differ "
            "from one published with the pins (`python -m pip install -r requirements.txt` aligns them)",
            file=sys.stderr,
        )
    if sys.version_info[:2] != (3, 11):
        print(
            f"==> warning: {where} runs Python {sys.version.split()[0]}; the pins are resolved for 3.11",
            file=sys.stderr,
        )
    return 0


def check_project() -> int:
    """Exit 0 if this env imports `helpers` from this checkout's src/ and has its entry points."""
    spec = importlib.util.find_spec("helpers")
    expected = (ROOT / "src" / "helpers" / "__init__.py").resolve()
    if spec is None or spec.origin is None:
        print(f"==> the project is not installed in {sys.prefix}", file=sys.stderr)
        return 1
    if Path(spec.origin).resolve() != expected:
        print(f"==> {sys.prefix} imports helpers from {spec.origin}, not from this checkout", file=sys.stderr)
        return 1
    eps = md.entry_points()
    for (group, name), value in ENTRY_POINTS.items():
        if not any(ep.name == name and ep.value == value for ep in eps.select(group=group)):
            print(f"==> {sys.prefix} lacks the project's entry point {group}: {name}", file=sys.stderr)
            return 1
    return 0


def check_kernel() -> int:
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    try:
        argv = json.loads(spec.read_text(encoding="utf-8"))["argv"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"ENV=active: no usable kernelspec {spec}: {exc}", file=sys.stderr)
        return 1
    # Compared unresolved: a virtualenv's python is a symlink to the same base interpreter.
    if not argv or os.path.abspath(argv[0]) != os.path.abspath(sys.executable):
        print(f"ENV=active: {spec} runs {argv[:1]}, not {sys.executable}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    checks = {"packages": check_packages, "project": check_project, "kernel": check_kernel}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        sys.exit(f"usage: python mk/active_env.py {{{'|'.join(checks)}}}")
    sys.exit(checks[sys.argv[1]]())
