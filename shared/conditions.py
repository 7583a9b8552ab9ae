"""ABAC conditions on data-role assignments: does a condition cover one blob container?

A Storage Blob Data role assignment can carry a condition such as
``@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'velero'``
(Azure spells the attribute ``containers:name`` or ``containers:Name``). The Guard only needs to
know whether the backup container is among the names the condition allows. Anything it cannot
read with certainty is reported as "cannot tell", never as covered.

Pure: no I/O.
"""

from __future__ import annotations

import re

_ATTRIBUTE = r"@Resource\[Microsoft\.Storage/storageAccounts/blobServices/containers:name\]"
_SINGLE = re.compile(
    _ATTRIBUTE + r"\s+(StringEquals|StringEqualsIgnoreCase)\s+'([^']*)'",
    re.IGNORECASE,
)
_MANY = re.compile(
    _ATTRIBUTE + r"\s+ForAnyOfAnyValues:(StringEquals|StringEqualsIgnoreCase)\s+\{([^}]*)\}",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"(StringNotEquals|NOT\s*\(|!\s*\(\s*@Resource)", re.IGNORECASE)


def container_names(condition: str) -> tuple[str, ...]:
    """Container names the condition compares ``containers:name`` with (in order, deduplicated)."""
    names: list[str] = []
    for match in _SINGLE.finditer(condition):
        names.append(match.group(2))
    for match in _MANY.finditer(condition):
        names.extend(part.strip().strip("'") for part in match.group(2).split(","))
    return tuple(dict.fromkeys(n for n in names if n))


def covers_container(condition: str | None, container: str | None) -> bool | None:
    """True when ``condition`` allows ``container``; False when it names only other containers;
    None when the Guard cannot tell (no container named, negations, or the container is unknown)."""
    if not condition:
        return True
    if not container:
        return None
    names = container_names(condition)
    if not names or _NEGATED.search(condition):
        return None
    return any(name.lower() == container.lower() for name in names)
