"""Command line behind the Makefile: `python -m helpers.publish.cli COMMAND Q`.

Every expected failure (a bad quarter name, bad extracts, a bad params file, a
section notebook that raised) ends with a plain message on stderr and a non-zero
exit, never a traceback. Exit codes: 2 bad input (and, with STRICT=1, completeness
warnings), 3 a section failed, 1 anything unexpected (its traceback goes to a log
file, named in the message).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from pathlib import Path

from helpers import paths
from helpers.params import ParamsError
from helpers.quarter import Quarter, QuarterError

EXIT_BAD_INPUT, EXIT_SECTION, EXIT_BUG = 2, 3, 1


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def strict_from_env() -> bool:
    """`make ... STRICT=1` (the Makefile exports it as KFWK_STRICT): empty or 0 is off."""
    return os.environ.get("KFWK_STRICT", "").strip() not in ("", "0")


STRICT_HINT = (
    "  STRICT=1 turns completeness warnings into a refusal: fix or re-export the extracts named\n"
    "  above (docs/validation.md, Completeness warnings), or publish without STRICT=1 to show\n"
    "  them in the issue's About panel (数据完整性)."
)


def cmd_validate(args: argparse.Namespace) -> int:
    from helpers.data import completeness, extracts
    from helpers.params import load_params

    min_share = load_params(args.quarter).completeness_min_share
    report = extracts.validate_quarter(args.quarter, paths.data_root())
    # Warnings (of the files without errors) after the errors; they fail the run only
    # with STRICT=1.
    warnings = completeness.quarter_warnings(args.quarter, report, min_share)
    print(report.format())
    if warnings or report.ok:
        print(completeness.format_warnings(warnings, args.quarter))
    if not report.ok:
        _err(f"✗ {args.quarter}: the extracts were refused.")
        return EXIT_BAD_INPUT
    if warnings and args.strict:
        _err(f"✗ {args.quarter}: {len(warnings)} completeness warning(s) refused (STRICT=1).")
        _err(STRICT_HINT)
        return EXIT_BAD_INPUT
    noted = f", {len(warnings)} completeness warning(s)" if warnings else ""
    print(f"✓ {args.quarter}: all extracts valid{noted}")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    from helpers.figures import metrics
    from helpers.figures import store as figures

    print(metrics.to_json(figures.quarter_figures(args.quarter, paths.data_root())))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from helpers.publish import pipeline as publish

    publish.publish(args.quarter, paths.data_root(), paths.out_root(), jobs=args.jobs, strict=args.strict)
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    import yaml

    from helpers.figures import store as figures
    from helpers.publish import reconcile

    ref_path = Path(args.ref)
    if not ref_path.exists():
        _err(f"reference file not found: {ref_path}")
        return EXIT_BAD_INPUT
    reference = yaml.safe_load(ref_path.read_text(encoding="utf-8"))
    rows = reconcile.reconcile(figures.quarter_figures(args.quarter, paths.data_root()), reference)
    print(reconcile.format_table(rows))
    return 0 if all(r.agree for r in rows) else 1


COMMANDS = {
    "validate": (cmd_validate, "check a quarter's extracts"),
    "figures": (cmd_figures, "print a quarter's figures as JSON"),
    "publish": (cmd_publish, "publish a quarter's issue"),
    "reconcile": (cmd_reconcile, "compare a quarter's figures with a printed issue"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helpers.publish.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.add_argument("quarter", help="YYYYQn, e.g. 2022Q1")
        if name == "reconcile":
            p.add_argument("--ref", required=True, help="reference YAML of a printed issue")
        if name == "publish":
            p.add_argument("--jobs", type=int, default=None, help="sections run in parallel")
        if name in ("publish", "validate"):
            p.add_argument(
                "--strict",
                action=argparse.BooleanOptionalAction,
                default=strict_from_env(),
                help="refuse on completeness warnings (default: the environment's KFWK_STRICT)",
            )
    args = parser.parse_args(argv)
    from helpers.data import extracts

    try:
        Quarter.parse(args.quarter)  # before anything touches the disk
        return COMMANDS[args.command][0](args)
    except QuarterError as exc:
        _err(str(exc))
    except extracts.ExtractError as exc:
        if exc.role:
            _err(f"✗ {exc.role}")
        _err(exc.report.format())
        _err("✗ the extracts were refused; nothing was published, the last published issue is unchanged.")
    except ParamsError as exc:
        _err(f"✗ params: {exc}")
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a readable message
        from helpers.publish.pipeline import SectionFailed, StrictRefusal

        if isinstance(exc, StrictRefusal):
            _err(f"✗ {exc}")
            _err(
                f"✗ {exc.quarter}: refused with STRICT=1; nothing was published, "
                "the last published issue is unchanged."
            )
            _err(STRICT_HINT)
            return EXIT_BAD_INPUT
        if isinstance(exc, SectionFailed):
            _err(f"✗ {exc}\n  nothing was published; the last published issue is unchanged.")
            return EXIT_SECTION
        log = Path(tempfile.gettempdir()) / "kefu-weikan-error.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        _err(f"✗ unexpected error: {type(exc).__name__}: {exc}\n  details: {log}")
        return EXIT_BUG
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
