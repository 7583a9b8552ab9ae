"""Alert routing: which receiver gets an alert, and which group it joins (docs/alerts.md).

The routing table is the ``GUARD_ALERT_ROUTES`` setting, a JSON document::

    {
      "receivers": [
        {"name": "platform", "teams_webhook_setting": "GUARD_TEAMS_WEBHOOK_URL",
         "email_to": ["platform@contoso.example"], "eventgrid": true},
        {"name": "team-a", "teams_webhook_setting": "GUARD_TEAMS_WEBHOOK_URL_TEAM_A"}
      ],
      "routes": [
        {"match": {"owner": "team-a"}, "receiver": "team-a"},
        {"match": {"subscription": "<guid>", "resource_group": ["rg-1", "rg-2"]}, "receiver": "team-a"}
      ],
      "default_receiver": "platform"
    }

Routes are tried in order; the first whose every ``match`` key equals the alert's label (any of
the listed values, case-insensitive) wins; otherwise the default receiver. Labels come from the
target: ``subscription`` and ``resource_group`` of the cluster, ``owner`` from the owner tag
(``GUARD_OWNER_TAG``) on the cluster, else on the vault. A receiver never holds a secret: a Teams
webhook is named by the *setting* that holds its URL (an app setting, typically a Key Vault
reference); a literal URL in the table is refused. Parsing is pure and raises
:class:`ConfigError` naming ``GUARD_ALERT_ROUTES`` and the offending entry.

Without a routing table there is one receiver, ``default``, made of the classic settings
(``GUARD_TEAMS_WEBHOOK_URL``, ``GUARD_EMAIL_TO``, ``GUARD_EVENTGRID_TOPIC_ENDPOINT``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared import ids
from shared.errors import ConfigError

GroupBy = Literal["vault", "subscription", "resource_group", "owner"]
GROUP_BY: tuple[GroupBy, ...] = ("vault", "subscription", "resource_group", "owner")
MATCH_KEYS = ("subscription", "resource_group", "owner")
DEFAULT_RECEIVER = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")


@dataclass(frozen=True)
class Labels:
    """What routing and grouping look at, for one alert (all lower-case, '' when unknown)."""

    subscription: str
    resource_group: str
    owner: str
    vault: str

    @classmethod
    def of(cls, cluster_id: str, vault_id: str, owner: str = "") -> Labels:
        try:
            sub = ids.subscription_of(cluster_id)
        except ValueError:
            sub = ""
        return cls(
            sub.lower(),
            (ids.resource_group_of(cluster_id) or "").lower(),
            owner.strip().lower(),
            ids.normalize(vault_id) if vault_id else "",
        )

    def get(self, key: str) -> str:
        return str(getattr(self, key))


@dataclass(frozen=True)
class ReceiverSpec:
    """One receiver: the setting naming its Teams webhook URL, its email list, Event Grid or not."""

    name: str
    teams_webhook_setting: str | None = None
    email_to: tuple[str, ...] = ()
    eventgrid: bool = False


@dataclass(frozen=True)
class Route:
    match: tuple[tuple[str, tuple[str, ...]], ...]  # (label, accepted values), all lower-case
    receiver: str

    def matches(self, labels: Labels) -> bool:
        return all(labels.get(key) in values for key, values in self.match)


@dataclass(frozen=True)
class RoutingTable:
    receivers: tuple[ReceiverSpec, ...]
    routes: tuple[Route, ...]
    default_receiver: str

    def receiver_for(self, labels: Labels) -> str:
        """The name of the receiver of an alert with ``labels`` (first matching route, else default)."""
        for route in self.routes:
            if route.matches(labels):
                return route.receiver
        return self.default_receiver

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.receivers)


def group_key(labels: Labels, group_by: GroupBy) -> str:
    """The value alerts are grouped on (an open group per receiver and key)."""
    return labels.get(group_by) or "(none)"


def parse_routes(text: str, env: Mapping[str, str]) -> RoutingTable:
    """Parse and validate ``GUARD_ALERT_ROUTES`` (see the module doc). ``env`` must hold every
    setting a receiver names. Pure; raises :class:`ConfigError`."""
    where = "GUARD_ALERT_ROUTES"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} must be a JSON object with receivers, routes and default_receiver")
    _only(doc, {"receivers", "routes", "default_receiver"}, where)
    raw_receivers = doc.get("receivers")
    if not isinstance(raw_receivers, list) or not raw_receivers:
        raise ConfigError(f"{where}: 'receivers' must be a non-empty list")
    receivers: list[ReceiverSpec] = []
    for i, raw in enumerate(raw_receivers):
        receivers.append(_receiver(raw, env, f"{where} receivers[{i}]"))
    names = [r.name for r in receivers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{where}: receiver names must be unique; repeated: {', '.join(duplicates)}")
    default = doc.get("default_receiver")
    if not isinstance(default, str) or default not in names:
        raise ConfigError(f"{where}: 'default_receiver' must name one of the receivers ({', '.join(names)})")
    raw_routes = doc.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError(f"{where}: 'routes' must be a list")
    routes = [_route(raw, names, f"{where} routes[{i}]") for i, raw in enumerate(raw_routes)]
    return RoutingTable(tuple(receivers), tuple(routes), default)


def _only(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _receiver(raw: Any, env: Mapping[str, str], where: str) -> ReceiverSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object")
    for key, value in raw.items():
        if isinstance(value, str) and "://" in value:
            raise ConfigError(
                f"{where}.{key}: a URL in the routing table; name the app setting that holds it "
                "instead (teams_webhook_setting), so the secret stays in settings / Key Vault"
            )
    _only(raw, {"name", "teams_webhook_setting", "email_to", "eventgrid"}, where)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}.name must be 1-63 letters, digits, '.', '_' or '-'")
    setting = raw.get("teams_webhook_setting")
    if setting is not None:
        if not isinstance(setting, str) or not _SETTING.match(setting):
            raise ConfigError(f"{where}.teams_webhook_setting must be the name of an app setting")
        url = env.get(setting, "").strip()
        if not url:
            raise ConfigError(f"{where}.teams_webhook_setting names {setting}, which is not set")
        if not url.lower().startswith(("https://", "http://")):
            raise ConfigError(f"{setting} (Teams webhook of receiver {name}) must be an http(s) URL")
    email = raw.get("email_to", [])
    if isinstance(email, str):
        email = [e.strip() for e in email.split(",") if e.strip()]
    if not isinstance(email, list) or not all(isinstance(e, str) and _EMAIL.match(e) for e in email):
        raise ConfigError(f"{where}.email_to must be a list of email addresses")
    eventgrid = raw.get("eventgrid", False)
    if not isinstance(eventgrid, bool):
        raise ConfigError(f"{where}.eventgrid must be true or false")
    if not (setting or email or eventgrid):
        raise ConfigError(
            f"{where} ({name}) has no channel: give teams_webhook_setting, email_to or eventgrid"
        )
    return ReceiverSpec(name, setting, tuple(email), eventgrid)


def _route(raw: Any, names: list[str], where: str) -> Route:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object with match and receiver")
    _only(raw, {"match", "receiver"}, where)
    receiver = raw.get("receiver")
    if receiver not in names:
        raise ConfigError(f"{where}.receiver must name one of the receivers ({', '.join(names)})")
    match = raw.get("match")
    if not isinstance(match, dict) or not match:
        raise ConfigError(f"{where}.match must be a non-empty object ({', '.join(MATCH_KEYS)})")
    _only(match, set(MATCH_KEYS), f"{where}.match")
    pairs: list[tuple[str, tuple[str, ...]]] = []
    for key in MATCH_KEYS:
        if key not in match:
            continue
        value = match[key]
        values = [value] if isinstance(value, str) else value
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v.strip() for v in values)
        ):
            raise ConfigError(f"{where}.match.{key} must be a string or a list of strings")
        pairs.append((key, tuple(v.strip().lower() for v in values)))
    return Route(tuple(pairs), str(receiver))
