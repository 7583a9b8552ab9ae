"""One typed settings object, read once per process from the environment.

Every name here is the name used in ``local.settings.json``, the Bicep app settings and the
README. ``Settings.from_env`` fails fast with a :class:`ConfigError` that names the setting.
Secrets are kept as :class:`Secret` so that ``repr``/``str`` never reveal them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shared import ids
from shared.errors import ConfigError

if TYPE_CHECKING:
    from shared.alerts.routes import GroupBy, RoutingTable

Mode = Literal["enforce", "report"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, repr=False)
class Secret:
    """A secret string; ``str()``/``repr()`` show a placeholder, ``.reveal()`` the value."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class ArmSettings:
    """Where ARM is and how to reach it (real Azure by default, or the local simulator)."""

    endpoint: str = "https://management.azure.com"
    ca_bundle: str | None = None
    token: Secret | None = None
    client_id: str | None = None
    concurrency_per_subscription: int = 8
    timeout_seconds: float = 30.0
    retry_total: int = 6

    @property
    def is_simulator(self) -> bool:
        return self.token is not None


@dataclass(frozen=True)
class StorageSettings:
    """The ledger's storage account (same account as the Functions host by default)."""

    connection_string: Secret | None = None
    account_name: str | None = None
    table_service_uri: str | None = None
    queue_service_uri: str | None = None
    table_prefix: str = "guard"
    credential: str | None = None  # AzureWebJobsStorage__credential ("managedidentity" or unset)
    client_id: str | None = None  # AzureWebJobsStorage__clientId (user-assigned identity)

    @property
    def configured(self) -> bool:
        return bool(self.connection_string or self.account_name or self.table_service_uri)


@dataclass(frozen=True)
class AlertSettings:
    teams_webhook_url: Secret | None = None
    email_to: tuple[str, ...] = ()
    email_from: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: Secret | None = None
    smtp_starttls: bool = True
    smtp_ca_bundle: str | None = None
    acs_endpoint: str | None = None
    acs_connection_string: Secret | None = None
    renotify_hours: float = 24.0
    min_severity: str = "warn"
    max_attempts: int = 8
    acs_ca_bundle: str | None = None
    acs_client_id: str | None = None
    timeout_seconds: float = 15.0
    backoff_seconds: float = 60.0
    portal_url: str = "https://portal.azure.com"
    eventgrid_topic_endpoint: str | None = None
    eventgrid_topic_key: Secret | None = None
    eventgrid_source: str = "/aks-backup-guard"
    eventgrid_ca_bundle: str | None = None
    eventgrid_client_id: str | None = None
    # grouping, routing, digests (docs/alerts.md)
    routes: RoutingTable | None = None  # GUARD_ALERT_ROUTES; None: one receiver from the above
    receiver_webhooks: Mapping[str, Secret] = field(default_factory=dict)  # receiver -> Teams URL
    group_by: GroupBy = "vault"
    group_wait_seconds: float = 30.0
    group_interval_seconds: float = 300.0
    owner_tag: str = "owner"
    report_url: str | None = None


@dataclass(frozen=True)
class Settings:
    subscriptions: tuple[str, ...]
    mode: Mode = "report"
    remediate_cluster: bool = False
    incluster_checks: bool = False
    guard_principal_id: str | None = None
    principal_retry_seconds: float = 120.0
    provider_wait_seconds: float = 300.0
    extension_storage_account_id: str | None = None
    extension_blob_container: str | None = None
    debounce_seconds: float = 30.0
    trust_domains: tuple[str, ...] = ()
    arm: ArmSettings = field(default_factory=ArmSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    @property
    def enforce(self) -> bool:
        return self.mode == "enforce"

    def watches(self, subscription_id: str) -> bool:
        return subscription_id.lower() in {s.lower() for s in self.subscriptions}

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_subscriptions: bool = True
    ) -> Settings:
        """Read and validate settings. Raises :class:`ConfigError` naming the bad setting."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        subs = reader.csv("GUARD_SUBSCRIPTIONS")
        if require_subscriptions and not subs:
            raise ConfigError("GUARD_SUBSCRIPTIONS is required: a comma-separated list of subscription ids")
        for sub in subs:
            if not _GUID.match(sub):
                raise ConfigError(f"GUARD_SUBSCRIPTIONS: {sub!r} is not a subscription id (a GUID)")
        mode = reader.text("GUARD_MODE", "report").lower()
        if mode not in ("enforce", "report"):
            raise ConfigError(f"GUARD_MODE must be 'enforce' or 'report', not {mode!r}")
        guard_principal = reader.optional("GUARD_PRINCIPAL_ID")
        if guard_principal and not _GUID.match(guard_principal):
            raise ConfigError("GUARD_PRINCIPAL_ID must be the object id (GUID) of the Guard's identity")
        arm = ArmSettings(
            endpoint=reader.text("GUARD_ARM_ENDPOINT", ArmSettings.endpoint).rstrip("/"),
            ca_bundle=reader.optional("GUARD_ARM_CA_BUNDLE"),
            token=reader.secret("GUARD_ARM_TOKEN"),
            client_id=reader.optional("AZURE_CLIENT_ID"),
            concurrency_per_subscription=reader.integer("GUARD_ARM_CONCURRENCY", 8, minimum=1),
            timeout_seconds=reader.number("GUARD_ARM_TIMEOUT_SECONDS", 30.0, minimum=1),
            retry_total=reader.integer("GUARD_ARM_RETRY_TOTAL", 6, minimum=0),
        )
        if not arm.endpoint.startswith("https://"):
            raise ConfigError("GUARD_ARM_ENDPOINT must be an https:// URL")
        if arm.ca_bundle and not Path(arm.ca_bundle).is_file():
            raise ConfigError(f"GUARD_ARM_CA_BUNDLE: no such file {arm.ca_bundle!r}")
        storage = StorageSettings(
            connection_string=reader.secret("GUARD_STORAGE_CONNECTION")
            or reader.secret("AzureWebJobsStorage"),
            account_name=reader.optional("AzureWebJobsStorage__accountName"),
            table_service_uri=reader.optional("AzureWebJobsStorage__tableServiceUri"),
            queue_service_uri=reader.optional("AzureWebJobsStorage__queueServiceUri"),
            table_prefix=reader.text("GUARD_TABLE_PREFIX", "guard"),
            credential=reader.optional("AzureWebJobsStorage__credential"),
            client_id=reader.optional("AzureWebJobsStorage__clientId"),
        )
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,29}", storage.table_prefix):
            raise ConfigError("GUARD_TABLE_PREFIX must be 1-30 letters or digits, starting with a letter")
        alerts = AlertSettings(
            teams_webhook_url=reader.secret("GUARD_TEAMS_WEBHOOK_URL"),
            email_to=reader.csv("GUARD_EMAIL_TO"),
            email_from=reader.optional("GUARD_EMAIL_FROM"),
            smtp_host=reader.optional("GUARD_SMTP_HOST"),
            smtp_port=reader.integer("GUARD_SMTP_PORT", 587, minimum=1),
            smtp_user=reader.optional("GUARD_SMTP_USER"),
            smtp_password=reader.secret("GUARD_SMTP_PASSWORD"),
            smtp_starttls=reader.boolean("GUARD_SMTP_STARTTLS", True),
            smtp_ca_bundle=reader.optional("GUARD_SMTP_CA_BUNDLE"),
            acs_endpoint=reader.optional("GUARD_ACS_ENDPOINT"),
            acs_connection_string=reader.secret("GUARD_ACS_CONNECTION_STRING"),
            renotify_hours=reader.number("GUARD_RENOTIFY_HOURS", 24.0, minimum=0),
            min_severity=reader.text("GUARD_MIN_SEVERITY", "warn").lower(),
            max_attempts=reader.integer("GUARD_ALERT_MAX_ATTEMPTS", 8, minimum=1),
            acs_ca_bundle=reader.optional("GUARD_ACS_CA_BUNDLE"),
            acs_client_id=reader.optional("GUARD_ACS_CLIENT_ID") or reader.optional("AZURE_CLIENT_ID"),
            timeout_seconds=reader.number("GUARD_ALERT_TIMEOUT_SECONDS", 15.0, minimum=1),
            backoff_seconds=reader.number("GUARD_ALERT_BACKOFF_SECONDS", 60.0, minimum=0),
            portal_url=reader.text("GUARD_PORTAL_URL", "https://portal.azure.com").rstrip("/"),
            eventgrid_topic_endpoint=reader.optional("GUARD_EVENTGRID_TOPIC_ENDPOINT"),
            eventgrid_topic_key=reader.secret("GUARD_EVENTGRID_TOPIC_KEY"),
            eventgrid_source=reader.text("GUARD_EVENTGRID_SOURCE", "/aks-backup-guard"),
            eventgrid_ca_bundle=reader.optional("GUARD_ARM_CA_BUNDLE"),  # the simulator serves the topic too
            eventgrid_client_id=reader.optional("AZURE_CLIENT_ID"),
        )
        if alerts.eventgrid_topic_endpoint and not alerts.eventgrid_topic_endpoint.startswith("https://"):
            raise ConfigError("GUARD_EVENTGRID_TOPIC_ENDPOINT must be an https:// URL (the topic endpoint)")
        if alerts.eventgrid_topic_key and not alerts.eventgrid_topic_endpoint:
            raise ConfigError("GUARD_EVENTGRID_TOPIC_KEY is set but GUARD_EVENTGRID_TOPIC_ENDPOINT is not")
        if alerts.min_severity not in ("info", "warn", "fail"):
            raise ConfigError("GUARD_MIN_SEVERITY must be one of info, warn, fail")
        if alerts.email_to and not alerts.email_from:
            raise ConfigError("GUARD_EMAIL_FROM is required when GUARD_EMAIL_TO is set")
        alerts = _alert_routing(reader, env, alerts)
        trust_domains = _trust_domains(reader.csv("GUARD_TRUST_DOMAINS"), subs)
        return cls(
            subscriptions=subs,
            trust_domains=trust_domains,
            mode=mode,  # type: ignore[arg-type]  # validated above
            remediate_cluster=reader.boolean("GUARD_REMEDIATE_CLUSTER", False),
            incluster_checks=reader.boolean("GUARD_INCLUSTER_CHECKS", False),
            guard_principal_id=guard_principal.lower() if guard_principal else None,
            principal_retry_seconds=reader.number("GUARD_PRINCIPAL_RETRY_SECONDS", 120.0, minimum=0),
            provider_wait_seconds=reader.number("GUARD_PROVIDER_WAIT_SECONDS", 300.0, minimum=0),
            extension_storage_account_id=reader.optional("GUARD_EXTENSION_STORAGE_ACCOUNT_ID"),
            extension_blob_container=reader.optional("GUARD_EXTENSION_BLOB_CONTAINER"),
            debounce_seconds=reader.number("GUARD_DEBOUNCE_SECONDS", 30.0, minimum=0),
            arm=arm,
            storage=storage,
            alerts=alerts,
        )


def _alert_routing(reader: _Reader, env: Mapping[str, str], alerts: AlertSettings) -> AlertSettings:
    """Grouping, routing table (validated, with each receiver's webhook read from its setting)."""
    from dataclasses import replace

    from shared.alerts.routes import GROUP_BY, parse_routes

    group_by = reader.text("GUARD_ALERT_GROUP_BY", "vault").lower().replace("-", "_")
    if group_by not in GROUP_BY:
        raise ConfigError(f"GUARD_ALERT_GROUP_BY must be one of {', '.join(GROUP_BY)}, not {group_by!r}")
    routes = None
    webhooks: dict[str, Secret] = {}
    text = reader.optional("GUARD_ALERT_ROUTES")
    if text:
        routes = parse_routes(text, env)
        for receiver in routes.receivers:
            if receiver.email_to and not (
                alerts.smtp_host or alerts.acs_endpoint or alerts.acs_connection_string
            ):
                raise ConfigError(
                    f"GUARD_ALERT_ROUTES: receiver {receiver.name} has email_to but neither "
                    "GUARD_SMTP_HOST nor GUARD_ACS_ENDPOINT is set"
                )
            if receiver.email_to and not alerts.email_from:
                raise ConfigError(f"GUARD_EMAIL_FROM is required: receiver {receiver.name} has email_to")
            if receiver.eventgrid and not alerts.eventgrid_topic_endpoint:
                raise ConfigError(
                    f"GUARD_ALERT_ROUTES: receiver {receiver.name} wants Event Grid but "
                    "GUARD_EVENTGRID_TOPIC_ENDPOINT is not set"
                )
            if receiver.teams_webhook_setting:
                secret = reader.secret(receiver.teams_webhook_setting)
                if secret:
                    webhooks[receiver.name] = secret
    report_url = reader.optional("GUARD_REPORT_URL")
    if report_url and not report_url.lower().startswith("https://"):
        raise ConfigError("GUARD_REPORT_URL must be an https:// URL")
    return replace(
        alerts,
        routes=routes,
        receiver_webhooks=webhooks,
        group_by=group_by,  # validated above
        group_wait_seconds=reader.number("GUARD_ALERT_GROUP_WAIT_SECONDS", 30.0, minimum=0),
        group_interval_seconds=reader.number("GUARD_ALERT_GROUP_INTERVAL_SECONDS", 300.0, minimum=0),
        owner_tag=reader.text("GUARD_OWNER_TAG", "owner"),
        report_url=report_url,
    )


def _trust_domains(values: tuple[str, ...], subscriptions: tuple[str, ...]) -> tuple[str, ...]:
    """GUARD_TRUST_DOMAINS: subscription or resource group ids, each inside GUARD_SUBSCRIPTIONS."""
    watched = {s.lower() for s in subscriptions}
    out: list[str] = []
    for value in values:
        if ids.shape_of(value) not in ("subscription", "resource-group"):
            raise ConfigError(
                f"GUARD_TRUST_DOMAINS: {value!r} is not a subscription id (/subscriptions/<guid>) "
                "or a resource group id (/subscriptions/<guid>/resourceGroups/<name>)"
            )
        if ids.subscription_of(value) not in watched:
            raise ConfigError(f"GUARD_TRUST_DOMAINS: {value!r} lies outside GUARD_SUBSCRIPTIONS")
        out.append(value)
    return tuple(out)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def secret(self, name: str) -> Secret | None:
        value = self.optional(name)
        return Secret(value) if value else None

    def csv(self, name: str) -> tuple[str, ...]:
        raw = self.optional(name) or ""
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")

    def number(self, name: str, default: float, *, minimum: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, not {raw!r}")
        return value

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, not {raw!r}")
        return value
