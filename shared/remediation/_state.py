"""Provisioning states as plain strings (SDK models return str-valued enums or None)."""

from __future__ import annotations

from typing import Any


def state_of(model: Any, *, default: str = "Succeeded") -> str:
    """``provisioningState`` of a model (top level or under ``properties``) as its wire string."""
    value = getattr(model, "provisioning_state", None)
    if value is None:
        value = getattr(getattr(model, "properties", None), "provisioning_state", None)
    if value is None:
        return default
    return str(getattr(value, "value", value))
