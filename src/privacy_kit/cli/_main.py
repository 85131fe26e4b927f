"""The ``privacy-kit`` command line.

Exit codes: 0 when all is well, 1 when a check found an error (or the demo's steps did not all
succeed), 2 for a usage error (argparse's) or when privacy_kit refuses an operation (any
:class:`~privacy_kit.PrivacyKitError` but a malformed file: one line), 3 when a file cannot be
read, parsed or written (a malformed file lists each of its problems on its own line on
stderr), 141 when the reader of the output went away (``privacy-kit validate | head -1``: 128 + SIGPIPE, as a command killed by the
signal would report). The message is printed, never a traceback.

Example:
    >>> main(["schema", "policy"]) # doctest: +ELLIPSIS
    {...
    0
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import orjson

from .._errors import PolicyError, PrivacyKitError
from ._output import EXIT_INPUT, dumps, terminal_width

__all__ = ["main"]

Command = Callable[[argparse.Namespace, TextIO], int]


def _print(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")


def _summary(
    policy_path: Path, datamap_path: Path | None, out: TextIO, *, as_json: bool = False
) -> int:
    from ..model._check import check  # noqa: PLC0415 - keep `privacy-kit --help` fast
    from ..model._loading import load_datamap, load_policy  # noqa: PLC0415

    policy = load_policy(policy_path)
    datamap = load_datamap(datamap_path, policy=policy) if datamap_path else None
    if as_json:
        report = check(policy, datamap)
        _print(out, dumps(_summary_document(policy, datamap, report, policy_path, datamap_path)))
        return 0 if report.ok else 1
    tax = policy.vocabulary
    _print(
        out,
        f"{policy.title.get_text('en')} (version {policy.version}, effective {policy.effective})",
    )
    _print(
        out,
        f"Controller: {policy.controller.name}; contact: "
        + ", ".join(c.value for c in policy.controller.contacts),
    )
    _print(
        out,
        "Covers: "
        + ", ".join(tax.subject_kind(s.kind).name.get_text("en") for s in policy.subjects),
    )
    _print(out, "Jurisdictions: " + ", ".join(policy.jurisdictions))
    by_source: dict[str, list[str]] = {}
    for c in policy.collection:
        by_source.setdefault(c.source.value, []).append(c.category)
    _print(out, f"Collects {len(policy.collection)} categories:")
    for source, cats in by_source.items():
        _print(out, f"  {source:<12} {', '.join(cats)}")
    purposes = sorted({p for c in policy.collection for p in c.purposes})
    _print(out, f"For {len(purposes)} purposes: " + ", ".join(purposes))
    _print(
        out,
        "Shares with: "
        + ", ".join(f"{r.name.get_text('en')} ({r.kind.value})" for r in policy.recipients),
    )
    _print(
        out,
        "Stored in: "
        + ", ".join(f"{s.provider} ({s.country})" for s in policy.storage.locations)
        + (f"; {len(policy.storage.transfers)} transfer(s)" if policy.storage.transfers else ""),
    )
    _print(out, "Security: " + ", ".join(m.key for m in policy.security))
    _print(out, "Retention:")
    for rule in policy.retention:
        span = (
            "kept indefinitely"
            if rule.indefinite
            else f"{rule.duration.describe()} after {rule.trigger.value}"
            if rule.duration
            else f"until {rule.trigger.value}"
        )
        extra = ""
        if rule.override is not None:
            extra = f"; customer may set {rule.override.minimum}..{rule.override.maximum}"
        if rule.exceptions:
            extra += "; exceptions: " + ", ".join(e.kind.value for e in rule.exceptions)
        action = "" if rule.indefinite else f"{rule.action.value} "
        _print(out, f"  {rule.key:<14} {action}{span}{extra}")
    _print(out, "Rights: " + ", ".join(o.right.value for o in policy.rights))
    breach, children = policy.breach, policy.children
    _print(
        out,
        f"Breach: {', '.join(breach.notify) or 'those affected'} told within "
        f"{breach.notify_within.describe()}"
        if breach is not None
        else "Breach: no promise of the policy's own (only the law's duties)",
    )
    _print(
        out,
        f"Minimum age: {children.minimum_age}"
        if children is not None
        else "Minimum age: none set by the policy (only the law's ages)",
    )
    _print(out, "Languages: " + ", ".join(policy.languages))
    if datamap is not None:
        _print(
            out,
            f"Data map: {len(datamap.record_types)} record types in store(s) {', '.join(datamap.stores)}",
        )
    report = check(policy, datamap)
    _print(out)
    if not report.findings:
        _print(out, "Check: no findings.")
    else:
        counts = {
            s: sum(1 for f in report if f.severity.value == s) for s in ("error", "warning", "info")
        }
        _print(
            out,
            f"Check: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)",
        )
        for finding in report:
            _print(out, f"  {finding}")
    return 0 if report.ok else 1


def _summary_document(
    policy: Any, datamap: Any, report: Any, policy_path: Path, datamap_path: Path | None
) -> dict[str, Any]:
    """``validate --json``: what the policy promises, in counts, and every finding."""
    counts = {
        s: sum(1 for f in report if f.severity.value == s) for s in ("error", "warning", "info")
    }
    return {
        "policy": {
            "path": str(policy_path),
            "title": policy.title.get_text("en"),
            "version": policy.version,
            "effective": policy.effective,
            "controller": policy.controller.name,
            "jurisdictions": list(policy.jurisdictions),
            "languages": list(policy.languages),
            "subjects": [s.kind for s in policy.subjects],
            "categories": [c.category for c in policy.collection],
            "purposes": sorted({p for c in policy.collection for p in c.purposes}),
            "retention_rules": [r.key for r in policy.retention],
            "rights": [o.right.value for o in policy.rights],
        },
        "datamap": None
        if datamap is None
        else {
            "path": str(datamap_path),
            "record_types": [rt.name for rt in datamap.record_types],
            "stores": list(datamap.stores),
        },
        "check": {"ok": report.ok, "counts": counts, "findings": report.to_records()},
    }


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from ..model._loading import example_path  # noqa: PLC0415

    if args.policy is None:
        policy_path = example_path("policy.yaml")
        datamap_path = args.datamap or example_path("datamap.yaml")
        if not args.json:  # the JSON names the files it checked
            _print(out, f"(no policy given: checking the built-in example in {policy_path.parent})")
    else:
        policy_path, datamap_path = args.policy, args.datamap
    return _summary(policy_path, datamap_path, out, as_json=args.json)


def _cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    from ..model._datamap import DataMap  # noqa: PLC0415
    from ..model._policy import Policy  # noqa: PLC0415

    model = Policy if args.which == "policy" else DataMap
    _print(out, orjson.dumps(model.model_json_schema(), option=orjson.OPT_INDENT_2).decode())
    return 0


def _policy_arg(args: argparse.Namespace) -> Path:
    from ..model._loading import example_path  # noqa: PLC0415

    return Path(args.policy) if args.policy is not None else example_path("policy.yaml")


class _OutputError(PrivacyKitError, OSError):
    """The output could not be written (a missing folder, a full disk); names the file."""

    def __init__(self, target: str, cause: OSError) -> None:
        self.target = target
        super().__init__(f"{target}: {cause.strerror or cause}")
        self.errno, self.strerror, self.filename = cause.errno, cause.strerror, target

    def __str__(self) -> str:
        return str(self.args[0])


def _write(args: argparse.Namespace, out: TextIO, text: str) -> None:
    text = text if text.endswith("\n") or args.output is not None else text + "\n"
    if args.output is None:
        try:
            out.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError("standard output", exc) from exc
        return
    _write_file(Path(args.output), text)


def _write_file(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` whole or not at all: a full disk leaves no truncated file.

    The text goes to a temporary file next to ``target``, which then replaces it (a device or
    a pipe is written to directly).
    """
    data = text.encode("utf-8")
    real = Path(os.path.realpath(target))  # through a symbolic link, as a plain write would go
    temporary = real.with_name(f".{real.name}.{os.getpid()}.tmp")
    try:
        if target.exists() and not target.is_file():  # a device or a pipe (-o /dev/stdout)
            with open(target, "wb") as handle:
                handle.write(data)
            return
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if real.exists():  # keep the permissions of the file it replaces
            os.chmod(temporary, stat.S_IMODE(real.stat().st_mode))
        os.replace(temporary, real)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise _OutputError(str(target), exc) from exc


def _cmd_render(args: argparse.Namespace, out: TextIO) -> int:
    from ..model._loading import load_policy  # noqa: PLC0415
    from ..notices._render import render_notice  # noqa: PLC0415

    policy = load_policy(_policy_arg(args))
    _write(args, out, render_notice(policy, format=args.format, lang=args.lang))
    return 0


def _cmd_ropa(args: argparse.Namespace, out: TextIO) -> int:
    from ..model._loading import load_policy  # noqa: PLC0415
    from ..notices._ropa import records_of_processing  # noqa: PLC0415

    if args.json and args.format not in (None, "json"):
        raise _UsageError(f"--json and --format {args.format} ask for different outputs")
    fmt = "json" if args.json else args.format or "table"
    records = records_of_processing(load_policy(_policy_arg(args)), lang=args.lang)
    if fmt == "json":
        text = records.to_json()
    elif args.format == "csv":
        buf = io.StringIO()
        records.to_csv(buf)
        text = buf.getvalue()
    else:  # fitted to the terminal it is shown on; unwrapped into a file or a pipe
        target = out if args.output is None else None
        width = terminal_width(target) if target is not None else None
        text = records.to_text(width=width)
    _write(args, out, text)
    return 0


def _as_of(text: str) -> datetime.datetime:
    """``2026-01-01`` or an ISO 8601 instant; a date or naive time is read as UTC."""
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid date {text!r}: expected e.g. 2026-01-01 or 2026-01-01T12:00:00+00:00"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from ._demo import run_demo  # noqa: PLC0415

    fancy = False if args.plain else None
    result = run_demo(
        args.out,
        as_of=args.as_of,
        customers=args.customers,
        seed=args.seed,
        stream=io.StringIO() if args.json else out,  # --json: the step lines are in the JSON
        fancy=fancy,
        progress=sys.stderr,
    )
    if args.json:
        document = {
            "ok": result.ok,
            "as_of": args.as_of.isoformat(),
            "folder": result.folder,
            "database": result.database,
            "export": result.export,
            "audit_log": result.audit_log,
            "steps": [
                {"title": s.title, "seconds": round(s.seconds, 3), "lines": list(s.lines)}
                for s in result.steps
            ],
        }
        _print(out, dumps(document))
    return 0 if result.ok else 1


class _UsageError(Exception):
    """Arguments that cannot go together: reported as argparse reports its own (exit 2)."""


def _json_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as one JSON document")


class _Parser(argparse.ArgumentParser):
    """argparse, exiting with :data:`EXIT_USAGE` (64) on a usage error instead of 2 (bad input)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    from .._version import __version__  # noqa: PLC0415

    parser = _Parser(
        prog="privacy-kit",
        description="Turn a privacy policy into executable compliance logic.",
        epilog="exit codes: 0 ok, 1 findings (or work left undone), 2 bad input (a file cannot be read, parsed "
        "or written, or the operation is refused), 64 usage error, 141 output closed "
        "(see docs/cli.md)",
    )
    parser.add_argument("--version", action="version", version=f"privacy-kit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="load a policy (and data map), summarise it and check it")
    p.add_argument(
        "policy", nargs="?", type=Path, help="policy file (default: the built-in example)"
    )
    p.add_argument("--datamap", type=Path, help="data map file to check against the policy")
    _json_flag(p, "the summary and the findings")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of a policy or data map")
    p.add_argument("which", choices=["policy", "datamap"])
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("render", help="render a policy as a privacy notice (Markdown or HTML)")
    p.add_argument("policy", nargs="?", help="policy file (default: the built-in example)")
    p.add_argument("--format", choices=["md", "html"], default="md")
    p.add_argument("--lang", default="en", help="language tag, e.g. en or ar (default: en)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("ropa", help="records of processing activities (GDPR Art. 30(1))")
    p.add_argument("policy", nargs="?", help="policy file (default: the built-in example)")
    p.add_argument(
        "--format",
        choices=["csv", "json", "table"],
        help="table (default; fitted to the terminal's width), csv or json",
    )
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument(
        "--lang", default="en", help="language of the record: names and phrases (default: en)"
    )
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=_cmd_ropa)

    p = sub.add_parser(
        "demo", help="run the whole library on sample data in a temporary SQLite database"
    )
    p.add_argument("--out", type=Path, help="output folder (default: a new temporary folder)")
    p.add_argument(
        "--as-of",
        type=_as_of,
        default="2026-01-01",
        help="the demo's 'now', e.g. 2026-01-01 (default, so the output is reproducible)",
    )
    p.add_argument("--customers", type=int, default=60, help="sample customers (default: 60)")
    p.add_argument("--seed", type=int, default=7, help="sample data seed (default: 7)")
    p.add_argument("--plain", action="store_true", help="plain lines instead of a progress display")
    _json_flag(p, "what each step did and where the files are")
    p.set_defaults(func=_cmd_demo)

    from ._store_commands import add_store_commands  # noqa: PLC0415

    add_store_commands(sub)
    return parser


_EXIT_BROKEN_PIPE = 141
"""The exit code when standard output is closed early (128 + SIGPIPE)."""
EXIT_USAGE = 64
"""Arguments the parser rejects, or that cannot go together (``EX_USAGE`` of sysexits.h)."""
EXIT_REFUSED = EXIT_INPUT
"""privacy_kit refused the operation as asked (one line on stderr): bad input too."""


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit code.

    0 ok, 1 an error finding, 2 bad input (a file that cannot be read, parsed or written, or a
    refused operation; one line on stderr), 64 a usage error, 141 when the output's reader went
    away (a closed pipe).
    """
    stream = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    func: Command = args.func
    try:
        code = func(args, stream)
        stream.flush()
    except _UsageError as exc:
        parser.exit(EXIT_USAGE, f"{parser.prog} {args.command}: error: {exc}\n")
    except BrokenPipeError:
        _silence(stream)
        return _EXIT_BROKEN_PIPE
    except (PolicyError, _OutputError) as exc:
        # a policy error is the one multi-line report: each problem of the file on its own line
        sys.stderr.write(f"privacy-kit: {exc}\n")
        return EXIT_INPUT
    except UnicodeEncodeError as exc:  # the terminal's encoding cannot show the text
        encoding = getattr(stream, "encoding", None) or exc.encoding
        sys.stderr.write(
            f"privacy-kit: the output cannot be written as {encoding}: {exc.reason} "
            f"(write it to a file with -o, or set PYTHONIOENCODING=utf-8)\n"
        )
        return EXIT_INPUT
    except PrivacyKitError as exc:
        sys.stderr.write(f"privacy-kit: {_one_line(exc)}\n")
        return EXIT_REFUSED
    except OSError as exc:  # e.g. -o names a folder that does not exist
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"privacy-kit: {where}{exc.strerror or exc}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    return code


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _silence(stream: TextIO) -> None:
    """After a broken pipe, point the standard output at devnull so the final flush is silent."""
    if stream is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - no file descriptor to redirect
        return
