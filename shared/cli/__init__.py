"""``aks-backup-guard``: the operator and CI entry point over the same engine as the Function App.

Exit codes (every subcommand): 0 all good, 1 some check fails, 2 usage or configuration error
(one line on stderr naming the problem), 3 nothing fails but some checks are unknown.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from shared.errors import ConfigError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from shared.cli import check

    parser = _Parser(prog="aks-backup-guard", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check.register(sub)
    for optional in ("shared.cli.drift", "shared.cli.remediate", "shared.cli.replay", "shared.cli.silence"):
        try:
            module = __import__(optional, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != optional:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"aks-backup-guard: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aks-backup-guard: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
