"""Table-key encoding: any string (resource ids included) to a valid PartitionKey/RowKey.

Table keys forbid ``/ \\ # ?`` and control characters, and Azurite caps them at 512 characters
(Azure allows 1 KiB). :func:`encode` is a percent-style escape of the UTF-8 bytes of every
character outside a small safe set; ``%`` and ``~`` are escaped too, so:

- the result only contains ``[A-Za-z0-9-._:@!$&()*+,;=|%]`` (no quote, so it is safe inside an
  OData filter literal, and every character sorts below ``~``);
- it is **prefix-preserving**: ``encode(a + b) == encode(a) + encode(b)``, which lets the target
  index find every scope under a scope with one RowKey range query;
- ``~`` never appears in an encoded string, so the ledger uses it as a separator in composite
  keys and as the upper bound (``prefix + "~~"``) of range queries.

A result longer than ``max_length`` keeps its first characters and ends with ``~h`` and the
SHA-256 of the original (so it is still unique, still valid, and still starts with the encoded
prefix). Decoding is never needed: every entity keeps the original value as a property.
"""

from __future__ import annotations

import hashlib
import string

MAX_KEY_LENGTH = 512
_SAFE = frozenset(string.ascii_letters + string.digits + "-._:@!$&()*+,;=|")
_HASH_MARK = "~h"
_HASH_CHARS = 64


def encode(value: str, *, max_length: int = MAX_KEY_LENGTH) -> str:
    """A valid table key for ``value``, at most ``max_length`` characters (see the module doc)."""
    if max_length < _HASH_CHARS + len(_HASH_MARK) + 1:
        raise ValueError("max_length is too small to hold the hash form")
    parts: list[str] = []
    for char in value:
        if char in _SAFE:
            parts.append(char)
        else:
            parts.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    encoded = "".join(parts)
    if len(encoded) <= max_length:
        return encoded
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    head = encoded[: max_length - len(_HASH_MARK) - len(digest)]
    # never cut an escape sequence in half
    cut = head.rfind("%", max(0, len(head) - 2))
    if cut != -1:
        head = head[:cut]
    return head + _HASH_MARK + digest


def short_hash(value: str, length: int = 16) -> str:
    """A short, stable hex digest used where a key must be compact (index row suffixes, ids)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def prefix_range(prefix: str) -> tuple[str, str]:
    """Lower (inclusive) and upper (exclusive) RowKey bounds of every key starting with ``prefix``."""
    return prefix, prefix + "~~"


def odata_literal(value: str) -> str:
    """``value`` as an OData string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"
