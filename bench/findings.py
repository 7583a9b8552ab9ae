"""Findings as ``target<TAB>check<TAB>status`` lines, written as results stream, and compared. Pure
apart from the file helpers.

A scan writes one line per finding while it runs (nothing is held), the sequential reference
does the same, and :func:`differences` counts the (target, check) pairs whose status differs or
that only one side has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

Key = tuple[str, str]  # (target key, check id)


def line(target: str, check: str, status: str) -> str:
    for part in (target, check, status):
        if "\t" in part or "\n" in part:
            raise ValueError(f"a finding field holds a tab or newline: {part!r}")
    return f"{target}\t{check}\t{status}\n"


def parse(lines: Iterable[str]) -> Iterator[tuple[Key, str]]:
    for raw in lines:
        raw = raw.rstrip("\n")
        if raw:
            target, check, status = raw.split("\t")
            yield (target, check), status


def load(path: Path) -> dict[Key, str]:
    """A findings file as a mapping; a (target, check) pair written twice is an error."""
    out: dict[Key, str] = {}
    with path.open(encoding="utf-8") as handle:
        for key, status in parse(handle):
            if key in out:
                raise ValueError(f"{path}: finding {key} written twice")
            out[key] = status
    return out


def differences(
    left: Mapping[Key, str], right: Mapping[Key, str], *, left_only: frozenset[str] = frozenset()
) -> list[tuple[Key, str | None, str | None]]:
    """(key, left status, right status) for every pair that differs or is missing on one side;
    a check of ``left_only`` that only ``left`` has is not a difference (a scan-only check the
    single-target reference does not evaluate)."""
    return [
        (key, left.get(key), right.get(key))
        for key in sorted(set(left) | set(right))
        if left.get(key) != right.get(key) and not (key[1] in left_only and key not in right)
    ]
