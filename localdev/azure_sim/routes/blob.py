"""The Blob service data plane, path-style: ``GET /{account}/{container}?restype=container&comp=list``.

Authorization is by bearer token and RBAC *data* actions only
(``Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read``: Storage Blob Data
Reader/Contributor/Owner; Reader or Contributor alone are not enough). The account's network
rules apply to the caller (127.0.0.1): ``publicNetworkAccess: Disabled`` answers 403
``PublicAccessNotPermitted``; ``defaultAction: Deny`` without an IP rule covering 127.0.0.1 answers
403 ``AuthorizationFailure``.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from aiohttp import web

from localdev.azure_sim import rbac
from localdev.azure_sim.context import Ctx
from localdev.azure_sim.router import Router

DATA_ACTION = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
CLIENT_IP = ipaddress.ip_address("127.0.0.1")


def _xml_error(status: int, code: str, message: str) -> web.Response:
    request_id = str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    text = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>'
        f"{escape(code)}</Code><Message>{escape(message)}\nRequestId:{request_id}\nTime:{stamp}</Message></Error>"
    )
    return web.Response(
        status=status,
        text=text,
        content_type="application/xml",
        headers={"x-ms-error-code": code, "x-ms-request-id": request_id, "x-ms-version": "2025-11-05"},
    )


def auth_error(request: web.Request) -> web.Response:
    if "Authorization" not in request.headers:
        return _xml_error(
            401,
            "NoAuthenticationInformation",
            "Server failed to authenticate the request. Please refer to the information in the "
            "www-authenticate header.",
        )
    return _xml_error(401, "InvalidAuthenticationInfo", "Server failed to authenticate the request.")


def _firewall_denies(props: dict[str, object]) -> str | None:
    if str(props.get("publicNetworkAccess", "Enabled")).lower() == "disabled":
        return "PublicAccessNotPermitted"
    acls = props.get("networkAcls") or {}
    if not isinstance(acls, dict) or str(acls.get("defaultAction", "Allow")).lower() != "deny":
        return None
    for rule in acls.get("ipRules") or []:
        try:
            if CLIENT_IP in ipaddress.ip_network(str(rule.get("value", "")), strict=False):
                return None
        except ValueError:
            continue
    return "AuthorizationFailure"


async def list_blobs(ctx: Ctx) -> web.Response:
    q = ctx.query
    if q.get("restype") != "container" or q.get("comp") != "list":
        return _xml_error(400, "UnsupportedQueryParameter", "The simulator serves only List Blobs.")
    account_name, container_name = ctx.params["account"], ctx.params["container"]
    account_key = ctx.store.accounts_by_name.get(account_name.lower())
    if account_key is None:
        return _xml_error(404, "ResourceNotFound", "The specified resource does not exist.")
    account = ctx.store.resources[account_key]
    ctx.extra["subscription"] = account_key.split("/")[2]
    denial = _firewall_denies(account.get("properties", {}))
    if denial == "PublicAccessNotPermitted":
        return _xml_error(403, denial, "Public access is not permitted on this storage account.")
    if denial:
        return _xml_error(403, denial, "This request is not authorized to perform this operation.")
    scope = f"{account['id']}/blobServices/default/containers/{container_name}"
    decision = rbac.authorize(ctx.store, ctx.caller, DATA_ACTION, scope, data=True)
    if not decision.allowed:
        return _xml_error(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        )
    blobs = ctx.store.blobs.get((account_name.lower(), container_name.lower()))
    if blobs is None:
        return _xml_error(404, "ContainerNotFound", "The specified container does not exist.")
    prefix = str(q.get("prefix", ""))
    marker = str(q.get("marker", ""))
    try:
        max_results = max(1, min(5000, int(q.get("maxresults", "5000"))))
    except ValueError:
        max_results = 5000
    names = [n for n in blobs if n.startswith(prefix) and (not marker or n >= marker)]
    chosen, rest = names[:max_results], names[max_results:]
    endpoint = f"{ctx.base_url}/{account_name}/"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<EnumerationResults ServiceEndpoint="{escape(endpoint)}" ContainerName="{escape(container_name)}">',
    ]
    if prefix:
        parts.append(f"<Prefix>{escape(prefix)}</Prefix>")
    if marker:
        parts.append(f"<Marker>{escape(marker)}</Marker>")
    if "maxresults" in q:
        parts.append(f"<MaxResults>{max_results}</MaxResults>")
    parts.append("<Blobs>")
    for name in chosen:
        parts.append(
            f"<Blob><Name>{escape(name)}</Name><Properties>"
            "<Creation-Time>Thu, 01 Jan 2026 00:00:00 GMT</Creation-Time>"
            "<Last-Modified>Thu, 01 Jan 2026 00:00:00 GMT</Last-Modified>"
            "<Etag>0x8DC0000000000000</Etag><Content-Length>1024</Content-Length>"
            "<Content-Type>application/octet-stream</Content-Type><Content-Encoding />"
            "<Content-Language /><Content-CRC64 /><Content-MD5 /><Cache-Control /><Content-Disposition />"
            "<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true"
            "</AccessTierInferred><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
            "<ServerEncrypted>true</ServerEncrypted></Properties><OrMetadata /></Blob>"
        )
    parts.append("</Blobs>")
    parts.append(f"<NextMarker>{escape(rest[0]) if rest else ''}</NextMarker></EnumerationResults>")
    return web.Response(
        text="".join(parts),
        content_type="application/xml",
        headers={"x-ms-request-id": str(uuid.uuid4()), "x-ms-version": "2025-11-05"},
    )


def register(router: Router) -> None:
    router.add(
        "GET",
        "/{account}/{container}",
        list_blobs,
        data_plane=True,
        label="/{account}/{container}?restype=container&comp=list",
    )
