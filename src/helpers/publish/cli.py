"""Command line behind the Makefile: `python -m helpers.publish.cli COMMAND Q`.

Every expected failure (a bad quarter name, bad extracts, a bad params file, a
section notebook that raised) ends with a plain message on stderr and a non-zero
exit, never a traceback. Exit codes: 2 bad input (and, with STRICT=1, completeness
warnings), 3 a section failed, 4 a refused revision (the quarter is released and the
new issue differs; `REVISE="理由"` publishes a correction), 1 anything unexpected (its
traceback goes to a log file, named in the message).
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import tempfile
import traceback
from pathlib import Path

from helpers import paths
from helpers.params import ParamsError
from helpers.quarter import Quarter, QuarterError

EXIT_BAD_INPUT, EXIT_SECTION, EXIT_BUG, EXIT_REVISION = 2, 3, 1, 4


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


def revise_from_env() -> str | None:
    """`make quarter ... REVISE="理由"` (exported as KFWK_REVISE): the reason of a correction."""
    return os.environ.get("KFWK_REVISE", "").strip() or None


def cmd_publish(args: argparse.Namespace) -> int:
    from helpers.publish import pipeline as publish

    publish.publish(
        args.quarter,
        paths.data_root(),
        paths.out_root(),
        jobs=args.jobs,
        strict=args.strict,
        revise=(args.revise or "").strip() or None,
        session=getattr(args, "session", None),
    )
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from helpers.publish import pipeline, revisions

    out_root = paths.out_root().resolve()
    with pipeline.quarter_lock(out_root, args.quarter, print):
        try:
            record, newly = revisions.release(out_root, args.quarter)
        except revisions.ReleaseError as exc:
            _err(f"✗ {exc}")
            return EXIT_BAD_INPUT
        if newly:
            pipeline.refresh_index(out_root)
    where = out_root / args.quarter / revisions.RELEASE_FILE
    if newly:
        print(f"✓ {args.quarter} released ({record['released_at']}): {where}")
        for name, digest in record["files"].items():
            print(f"  {name}  sha256 {digest}")
    else:
        print(f"✓ {args.quarter} is already {record.get('status', 'released')} and unchanged since: {where}")
    return 0


def refusal_message(exc) -> str:
    """The refusal of an un-revised change to a released issue: what changed, how to go on."""
    lines = [f"✗ {exc.quarter} is released, and the new issue differs from it:"]
    lines += [f"    {line}" for line in exc.changes.lines()]
    lines += [
        "  nothing was published; every published file is unchanged.",
        f'  To publish a correction: make quarter Q={exc.quarter} REVISE="更正理由 / the reason"',
        "  (the released version is kept under revisions/, the issue opens with a 更正说明 box).",
        "  Or restore the inputs (extracts, editorial text, params) the released issue was made from.",
    ]
    return "\n".join(lines)


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


def cmd_backfill(args: argparse.Namespace) -> int:
    """Publish FROM..TO (helpers.publish.backfill): 0 when every quarter with extracts is
    published or up to date, else the exit status of the first quarter that failed."""
    from helpers.publish import backfill

    try:
        outcomes = backfill.backfill(
            args.first,
            args.last,
            paths.data_root(),
            paths.out_root(),
            parallel=args.parallel,
            strict=args.strict,
            ready=Path(os.environ["KFWK_READY"]) if os.environ.get("KFWK_READY") else None,
            emit=lambda line: print(line, flush=True),  # one line per quarter as it ends, even piped
        )
    except (QuarterError, ValueError) as exc:
        _err(f"✗ backfill: {exc}")
        return EXIT_BAD_INPUT
    failed = [o for o in outcomes if o.status == backfill.FAILED]
    if failed:
        _err(f"✗ backfill: {len(failed)} quarter(s) failed: {' '.join(o.quarter for o in failed)}")
        return failed[0].exit_code or EXIT_BUG
    return 0


COMMANDS = {
    "validate": (cmd_validate, "check a quarter's extracts"),
    "figures": (cmd_figures, "print a quarter's figures as JSON"),
    "publish": (cmd_publish, "publish a quarter's issue"),
    "release": (cmd_release, "mark a quarter's published issue as released"),
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
            p.add_argument(
                "--revise",
                default=revise_from_env(),
                metavar="REASON",
                help="publish a correction of a released issue, for this reason (default: KFWK_REVISE)",
            )
        if name in ("publish", "validate"):
            p.add_argument(
                "--strict",
                action=argparse.BooleanOptionalAction,
                default=strict_from_env(),
                help="refuse on completeness warnings (default: the environment's KFWK_STRICT)",
            )
    bf = sub.add_parser("backfill", help="publish every quarter FROM..TO that has extracts")
    bf.add_argument("first", metavar="FROM", help="first quarter, YYYYQn")
    bf.add_argument("last", metavar="TO", help="last quarter, YYYYQn")
    bf.add_argument("--parallel", type=int, default=None, help="quarters published at once (default 2)")
    bf.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=strict_from_env(),
        help="refuse quarters with completeness warnings (default: the environment's KFWK_STRICT)",
    )
    wk = sub.add_parser("backfill-worker", help="publish the quarters read from stdin (run by backfill)")
    wk.add_argument("--jobs", type=int, default=1, help="sections run in parallel")
    wk.add_argument("--strict", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args(argv)
    if args.command == "backfill":  # before the heavy imports below: a no-op backfill is quick
        return cmd_backfill(args)
    if args.command == "backfill-worker":
        from helpers.publish import backfill

        return backfill.serve(args.jobs, args.strict, lambda q, session: publish_command(q, args, session))
    return run(args)


def publish_command(quarter: str, worker_args: argparse.Namespace, session) -> int:
    """One quarter of a backfill worker: `publish Q` as its own command, with its messages
    and exit code, in the worker's publishing session."""
    args = argparse.Namespace(
        command="publish",
        quarter=quarter,
        jobs=worker_args.jobs,
        strict=worker_args.strict,
        revise=None,
        session=session,
    )
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run one command -> its exit code; every expected failure is a message on stderr."""
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
        from helpers.publish.revisions import RevisionRefused

        if isinstance(exc, RevisionRefused):
            _err(refusal_message(exc))
            return EXIT_REVISION

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
    code = main()
    # Every file is closed by now (the publisher's `with` blocks). The exit handlers run
    # (multiprocessing's: the exporters' queues are released, else its resource tracker
    # warns of leaked semaphores; logging's flush), but not the interpreter's teardown
    # (pyarrow, DuckDB, ~100k objects), which added ~0.6 s to each command.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code or 0))
