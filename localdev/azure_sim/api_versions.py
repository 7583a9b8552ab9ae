"""The api-versions each provider serves, and ARM's answers when a request names another.

Real ARM rejects a request without ``api-version`` (``MissingApiVersionParameter``), a version
the Microsoft.Resources/Authorization front door does not know (``InvalidApiVersionParameter``)
and a version a resource provider does not serve for a type (``NoRegisteredProviderFound``, with
the supported list and locations in the message). Messages follow the bodies Azure returned (see
tests/contracts/errors/).

The lists hold the stable and preview versions seen in recorded traffic (CLI recordings,
provider registrations), the REST specification folders, and the versions the pinned azure-mgmt
packages and this repository's own raw calls send. A version missing here is an error, as in
Azure: add it (with its source) when the SDK pins move.
"""

from __future__ import annotations

from localdev.azure_sim.errors import ArmError

SERVED: dict[str, tuple[str, ...]] = {
    # containerservice: the list in the NoRegisteredProviderFound message quoted in Azure/azure-cli#23985,
    # then versions seen in recordings and REST spec folders; every namespace also lists what the
    # pinned azure-mgmt packages send.
    "microsoft.containerservice": (
        "2017-08-31",
        "2018-03-31",
        "2019-02-01",
        "2019-04-01",
        "2019-06-01",
        "2019-08-01",
        "2019-10-01",
        "2019-11-01",
        "2020-01-01",
        "2020-02-01",
        "2020-03-01",
        "2020-04-01",
        "2020-06-01",
        "2020-07-01",
        "2020-09-01",
        "2020-11-01",
        "2020-12-01",
        "2021-02-01",
        "2021-03-01",
        "2021-05-01",
        "2021-07-01",
        "2021-08-01",
        "2021-09-01",
        "2021-10-01",
        "2022-01-01",
        "2022-02-01",
        "2022-03-01",
        "2022-04-01",
        "2022-06-01",
        "2022-07-01",
        "2022-07-02-preview",
        "2022-08-01",
        "2022-11-01",
        "2022-11-02-preview",
        "2024-05-01",
        "2025-07-01",
        "2026-02-01",
        "2026-08-01",
    ),
    "microsoft.dataprotection": (
        "2022-05-01",
        "2023-01-01",
        "2023-05-01",
        "2023-11-01",
        "2024-04-01",
        "2025-07-01",
        "2025-09-01",
        "2026-06-01",
    ),
    "microsoft.kubernetesconfiguration": (
        "2020-07-01-preview",
        "2021-05-01-preview",
        "2021-09-01",
        "2022-03-01",
        "2023-05-01",
        "2024-11-01",
        "2025-03-01",
    ),
    "microsoft.authorization": (
        "2015-07-01",
        "2016-09-01",
        "2018-01-01-preview",
        "2019-09-01",
        "2020-05-01",
        "2022-04-01",
        "2022-05-01-preview",
        "2023-04-01",
        "2026-06-01",
    ),
    "microsoft.storage": (
        "2021-01-01",
        "2023-05-01",
        "2025-06-01",
        "2026-09-01",
    ),
    "microsoft.network": (
        "2018-10-01",
        "2024-05-01",
        "2025-05-01",
        "2025-07-01",
        "2025-09-01",
        "2026-01-01",
        "2026-03-01",
    ),
    "microsoft.managedidentity": (
        "2018-11-30",
        "2023-01-31",
    ),
    "microsoft.resources": (
        "2016-09-01",
        "2020-06-01",
        "2021-04-01",
        "2022-09-01",
        "2025-04-01",
    ),
    "microsoft.management": (
        "2018-03-01-preview",
        "2020-02-01",
        "2020-05-01",
        "2023-04-01",
    ),
}
"""Provider namespace (lower case) -> api-versions served."""

# ARM serves these namespaces itself: an unknown version is InvalidApiVersionParameter there.
FRONT_DOOR = frozenset({"microsoft.resources", "microsoft.authorization", "microsoft.management"})


def namespace_of(path: str) -> str:
    """The provider namespace a path is served by (the last ``providers/{ns}`` segment)."""
    parts = [p for p in path.split("/") if p]
    lowered = [p.lower() for p in parts]
    # /subscriptions/{s}/providers[/{ns}[/register]]: Microsoft.Resources answers for providers
    if (
        len(parts) >= 3
        and lowered[0] == "subscriptions"
        and lowered[2] == "providers"
        and (len(parts) <= 4 or (len(parts) == 5 and lowered[4] in ("register", "unregister")))
    ):
        return "microsoft.resources"
    if "providers" in lowered:
        index = len(lowered) - 1 - lowered[::-1].index("providers")
        if index + 1 < len(parts):
            return lowered[index + 1]
    return "microsoft.resources"


def type_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        index = len(lowered) - 1 - lowered[::-1].index("providers")
        rest = parts[index + 2 :]
        return "/".join(rest[0::2]) if rest else parts[index + 1]
    return parts[2] if len(parts) > 2 else (parts[0] if parts else "subscriptions")


def check(path: str, api_version: str | None, location: str = "westeurope") -> None:
    """Raise ARM's 400 when ``api_version`` is missing or not served for ``path``."""
    if not api_version:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    namespace = namespace_of(path)
    served = SERVED.get(namespace)
    if served is None or api_version in served:
        return
    if namespace in FRONT_DOOR:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{api_version}' is invalid. The supported versions are "
            f"'{','.join(reversed(served))}'.",
        )
    raise ArmError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for location '{location}' and API version '{api_version}' "
        f"for type '{type_of(path)}'. The supported api-versions are '{', '.join(served)}'. The supported "
        f"locations are '{location}'.",
    )
