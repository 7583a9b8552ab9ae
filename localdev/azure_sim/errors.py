"""ARM error responses."""

from __future__ import annotations

import json

from aiohttp import web


class ArmError(Exception):
    """Raised by handlers: becomes ``{"error": {"code", "message"}}`` with the given status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {"error": {"code": self.code, "message": self.message, "details": [], "additionalInfo": []}}
        return web.Response(
            status=self.status,
            text=json.dumps(body),
            content_type="application/json",
            headers={"x-ms-failure-cause": "gateway", **self.headers},
        )


def not_found(resource_type: str, name: str, resource_group: str | None = None) -> ArmError:
    if resource_group:
        message = (
            f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
            "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        )
    else:
        message = f"The Resource '{resource_type}/{name}' was not found."
    return ArmError(404, "ResourceNotFound", message)


def rg_not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)
