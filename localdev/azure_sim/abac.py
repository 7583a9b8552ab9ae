"""A small evaluator for Azure ABAC role-assignment conditions (version 2.0).

Supports what "constrain roles" delegation uses: parentheses, ``AND``, ``OR``, ``!``/``NOT``,
``ActionMatches{'...'}``, ``SubOperationMatches{'...'}`` and attribute comparisons
``@Request[...]`` / ``@Resource[...]`` / ``@Principal[...]`` with ``GuidEquals``,
``GuidNotEquals``, ``StringEquals``, ``StringEqualsIgnoreCase``, ``StringNotEquals``,
``StringNotEqualsIgnoreCase`` and ``StringLike``, optionally prefixed by
``ForAnyOfAnyValues:``, ``ForAnyOfAllValues:``, ``ForAllOfAnyValues:`` or ``ForAllOfAllValues:``.

Attribute values are lists of strings; an attribute that is absent has no values.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ConditionError", "Context", "evaluate", "parse"]


class ConditionError(ValueError):
    """The condition text could not be parsed."""


@dataclass(frozen=True)
class Context:
    """What a condition is evaluated against.

    ``request``/``resource``/``principal`` map attribute names (the part after the colon, e.g.
    ``RoleDefinitionId``, matched case-insensitively) to their values.
    """

    action: str
    request: Mapping[str, Sequence[str]]
    resource: Mapping[str, Sequence[str]]
    principal: Mapping[str, Sequence[str]] | None = None
    sub_operation: str | None = None


Node = Callable[[Context], bool]

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<not>!|\bNOT\b)
    | (?P<and>\bAND\b|&&)
    | (?P<or>\bOR\b|\|\|)
    | (?P<matches>(?:ActionMatches|SubOperationMatches)\s*\{[^}]*\})
    | (?P<attr>@(?:Request|Resource|Principal|Environment)\[[^\]]+\])
    | (?P<op>(?:For(?:Any|All)Of(?:Any|All)Values:)?[A-Za-z]+)
    | (?P<values>\{[^}]*\}|'[^']*'|[0-9a-fA-F-]{36})
    )""",
    re.VERBOSE | re.IGNORECASE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ConditionError(f"cannot parse condition at {pos}: {text[pos : pos + 40]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind).strip()))
        pos = match.end()
    return tokens


def _values(text: str) -> list[str]:
    inner = text.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    out = []
    for part in inner.split(","):
        value = part.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        if value:
            out.append(value)
    return out


def _wild(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _guid(value: str) -> str:
    """Compare GUIDs whatever form they come in (bare or at the end of a role definition id)."""
    return value.strip().strip("{}").rsplit("/", 1)[-1].lower()


_COMPARERS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "guidequals": (lambda a, b: _guid(a) == _guid(b), False),
    "guidnotequals": (lambda a, b: _guid(a) == _guid(b), True),
    "stringequals": (lambda a, b: a == b, False),
    "stringnotequals": (lambda a, b: a == b, True),
    "stringequalsignorecase": (lambda a, b: a.lower() == b.lower(), False),
    "stringnotequalsignorecase": (lambda a, b: a.lower() == b.lower(), True),
    "stringlike": (lambda a, b: _wild(b, a), False),
    "stringnotlike": (lambda a, b: _wild(b, a), True),
    "stringstartswith": (lambda a, b: a.startswith(b), False),
    "stringstartswithignorecase": (lambda a, b: a.lower().startswith(b.lower()), False),
}


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, kind: str) -> str:
        if self.peek() != kind:
            found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end of text"
            raise ConditionError(f"expected {kind}, found {found!r}")
        value = self.tokens[self.pos][1]
        self.pos += 1
        return value

    def parse(self) -> Node:
        node = self.or_expr()
        if self.pos != len(self.tokens):
            raise ConditionError(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek() == "or":
            self.take("or")
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda ctx: any(p(ctx) for p in parts)

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while self.peek() == "and":
            self.take("and")
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda ctx: all(p(ctx) for p in parts)

    def unary(self) -> Node:
        if self.peek() == "not":
            self.take("not")
            inner = self.unary()
            return lambda ctx: not inner(ctx)
        return self.primary()

    def primary(self) -> Node:
        kind = self.peek()
        if kind == "lparen":
            self.take("lparen")
            node = self.or_expr()
            self.take("rparen")
            return node
        if kind == "matches":
            return self.matches(self.take("matches"))
        if kind == "attr":
            return self.comparison(self.take("attr"))
        found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end of text"
        raise ConditionError(f"unexpected {found!r}")

    @staticmethod
    def matches(text: str) -> Node:
        name, _, rest = text.partition("{")
        patterns = _values("{" + rest)
        if name.strip().lower() == "suboperationmatches":
            return lambda ctx: (
                ctx.sub_operation is not None and any(_wild(p, ctx.sub_operation) for p in patterns)
            )
        return lambda ctx: any(_wild(p, ctx.action) for p in patterns)

    def comparison(self, attr: str) -> Node:
        match = re.fullmatch(r"@(\w+)\[([^\]]+)\]", attr)
        if not match:
            raise ConditionError(f"bad attribute {attr!r}")
        source = match.group(1).lower()
        name = match.group(2).rsplit(":", 1)[-1].strip().lower()
        op_text = self.take("op")
        quantifier, _, op_name = op_text.rpartition(":")
        comparer = _COMPARERS.get(op_name.lower())
        if comparer is None:
            raise ConditionError(f"unsupported operator {op_text!r}")
        cmp, negate = comparer
        right = _values(self.take("values"))
        quant = quantifier.lower() or "foranyofanyvalues"
        any_left = quant.startswith("forany")
        any_right = quant.endswith("ofanyvalues")

        def pair(left_value: str) -> bool:
            hits = (cmp(left_value, r) != negate for r in right)
            return any(hits) if any_right else all(hits)

        def node(ctx: Context) -> bool:
            table = {"request": ctx.request, "resource": ctx.resource, "principal": ctx.principal or {}}.get(
                source, {}
            )
            left: Sequence[str] = ()
            for key, values in table.items():
                if key.lower() == name:
                    left = values
                    break
            results = (pair(v) for v in left)
            return any(results) if any_left else all(results)

        return node


def parse(condition: str) -> Node:
    """Parse a condition into a predicate over :class:`Context`; :class:`ConditionError` if malformed."""
    return _Parser(_tokenize(condition)).parse()


def evaluate(condition: str, ctx: Context) -> bool:
    return parse(condition)(ctx)
