"""Key encoding: hostile ids give valid, unique keys that Azurite accepts and that round-trip."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ledger import keys
from shared.ledger.ledger import Ledger

_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f/\\#?]")

HOSTILE = [
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ContainerService/managedClusters/aks#1?x=y\\z",
    "/subscriptions/s/resourceGroups/" + "ü" * 300,  # unicode, encodes to 1800 characters
    "/" + "a/" * 250,  # 500 characters of slashes
    "it's a 'quoted' ~tilde~ %41 percent\t\n\r\x7f\x9f",
    "\U0001f680 rocket / 火箭",
    "",
    "%" * 600,
]


def test_hostile_keys_are_valid_and_distinct() -> None:
    seen = set()
    for value in HOSTILE:
        key = keys.encode(value)
        assert len(key) <= 512
        assert not _FORBIDDEN.search(key)
        assert "'" not in key
        seen.add(key)
    assert len(seen) == len(HOSTILE)


def test_encoding_preserves_prefixes() -> None:
    a, b = "/subscriptions/x/resourceGroups/rg", "/providers/Microsoft.Storage/storageAccounts/s#1"
    assert keys.encode(a + b) == keys.encode(a) + keys.encode(b)
    assert keys.encode(a + b).startswith(keys.encode(a))
    low, high = keys.prefix_range(keys.encode(a))
    assert low <= keys.encode(a + b) < high


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=700))
def test_any_string_gives_a_valid_key(value: str) -> None:
    key = keys.encode(value)
    assert len(key) <= 512
    assert not _FORBIDDEN.search(key)
    assert "~" not in key or "~h" in key


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_distinct_short_strings_give_distinct_keys(a: str, b: str) -> None:
    if a != b:
        assert keys.encode(a) != keys.encode(b)


def test_azurite_accepts_hostile_keys_and_keeps_the_original(ledger: Ledger) -> None:
    table = ledger.history_table
    for value in HOSTILE:
        table.upsert_entity(
            {"PartitionKey": keys.encode(value), "RowKey": keys.encode(value), "Original": value}
        )
    for value in HOSTILE:
        entity = table.get_entity(keys.encode(value), keys.encode(value))
        if "\x00" not in value:
            assert entity["Original"] == value
