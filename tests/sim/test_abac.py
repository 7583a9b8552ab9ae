"""Unit tests of the ABAC condition evaluator (no simulator needed)."""

from __future__ import annotations

import pytest

from localdev.azure_sim import abac

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
WRITE = "Microsoft.Authorization/roleAssignments/write"
DELETE = "Microsoft.Authorization/roleAssignments/delete"

CONSTRAIN = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
    "{acdd72a7-3385-48ef-bd42-f606fba81ae7, b24988ac-6180-42a0-ab88-20f7382dd24c} AND "
    "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] "
    "ForAnyOfAnyValues:StringEqualsIgnoreCase "
    "{'ServicePrincipal'})) AND "
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
    "(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
    "{acdd72a7-3385-48ef-bd42-f606fba81ae7, b24988ac-6180-42a0-ab88-20f7382dd24c}))"
)


def ctx(action: str, role: str | None = None, ptype: str | None = None, resource_role: str | None = None):
    request = {}
    if role:
        request["RoleDefinitionId"] = [role]
    if ptype:
        request["PrincipalType"] = [ptype]
    resource = {"RoleDefinitionId": [resource_role]} if resource_role else {}
    return abac.Context(action=action, request=request, resource=resource)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (ctx(WRITE, READER, "ServicePrincipal"), True),
        (ctx(WRITE, CONTRIBUTOR.upper(), "serviceprincipal"), True),
        (
            ctx(
                WRITE,
                f"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                "ServicePrincipal",
            ),
            True,
        ),
        (ctx(WRITE, OWNER, "ServicePrincipal"), False),
        (ctx(WRITE, READER, "User"), False),
        (ctx(WRITE, READER), False),  # no principal type in the request: no value matches
        (ctx(DELETE, resource_role=READER), True),
        (ctx(DELETE, resource_role=OWNER), False),
        (ctx("Microsoft.Storage/storageAccounts/read"), True),  # the condition does not constrain reads
    ],
)
def test_constrain_roles_condition(context: abac.Context, expected: bool) -> None:
    assert abac.evaluate(CONSTRAIN, context) is expected


def test_operators_and_quantifiers() -> None:
    c = abac.Context(action=WRITE, request={"PrincipalId": ["a", "b"]}, resource={})
    assert abac.evaluate("@Request[x:PrincipalId] ForAnyOfAnyValues:StringEquals {'b', 'c'}", c)
    assert not abac.evaluate("@Request[x:PrincipalId] ForAllOfAnyValues:StringEquals {'b', 'c'}", c)
    assert abac.evaluate("@Request[x:PrincipalId] ForAllOfAnyValues:StringEquals {'a', 'b', 'c'}", c)
    assert not abac.evaluate("@Request[x:PrincipalId] ForAnyOfAllValues:StringEquals {'a', 'b'}", c)
    assert abac.evaluate("@Request[x:PrincipalId] StringNotEquals 'z'", c)
    assert abac.evaluate(
        "NOT (@Request[x:PrincipalId] StringEquals 'z') && ActionMatches{'Microsoft.Authorization/*'}", c
    )
    assert abac.evaluate("ActionMatches{'microsoft.authorization/roleassignments/write'}", c)
    assert not abac.evaluate("@Resource[x:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {" + READER + "}", c)


@pytest.mark.parametrize(
    "text",
    ["(ActionMatches{'x'}", "@Request[x:RoleDefinitionId] Frobnicates {a}", "ActionMatches{'x'} AND", "OR"],
)
def test_malformed_conditions_raise(text: str) -> None:
    with pytest.raises(abac.ConditionError):
        abac.parse(text)
