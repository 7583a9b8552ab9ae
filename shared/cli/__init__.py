"""aks-backup-guard: the operator and CI entry point over the same engine as the Function App.

Exit codes (every subcommand): 0 all good, 1 some check fails, 2 usage, configuration or
authentication error (one line on stderr naming the problem and the remedy), 3 nothing fails but
some checks are unknown. No input makes it print a traceback; -v (anywhere on the line) shows
more logging, -vv debug logging and the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from shared.errors import ConfigError, GuardError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3
PROG = "aks-backup-guard"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _verbosity() -> argparse.ArgumentParser:
    """``-v`` for every subparser too, so it works before or after the subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        dest="verbose_sub",
        action="count",
        default=0,
        help="more logging on stderr (-vv: debug, and the traceback of an unexpected error)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    from shared.cli import check

    parser = _Parser(
        prog=PROG,
        description=(__doc__ or "").split("\n\n")[0].replace("\n", " "),
        epilog="Exit codes: 0 all good, 1 some check fails, 2 usage, configuration or authentication "
        "error (one line on stderr), 3 nothing fails but some checks are unknown. "
        "Documentation: README.md and docs/ in the repository.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    parents = [_verbosity()]
    check.register(sub, parents)
    from shared.cli import drift, remediate, replay, silence

    for module in (remediate, drift, replay, silence):
        module.register(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = int(getattr(args, "verbose", 0)) + int(getattr(args, "verbose_sub", 0))
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        # azure.identity narrates every credential it tried at WARNING; the CLI says it in one line
        logging.getLogger("azure.identity").setLevel(logging.ERROR)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GuardError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (`| head`) left: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # the last line of defence: one line, never a traceback (unless -vv)
        if verbose >= 2:
            logging.getLogger(PROG).exception("unexpected error")
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        print(
            f"{PROG}: unexpected error: {type(exc).__name__}{': ' + first if first else ''} "
            "(run with -vv for details)",
            file=sys.stderr,
        )
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
