"""A small static reader for the Guard's Bicep files (no Bicep compiler is installable here).

It understands just enough of the language for the infra tests: top-level and nested
``resource`` / ``module`` blocks (brace matching that skips strings and comments), ``param``
declarations, ``loadJsonContent``/``loadTextContent`` paths and the app-settings block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

_DECL = re.compile(r"^\s*(resource|module)\s+(\w+)\s+'([^']+)'\s*(?:existing\s*)?=\s*(\[)?", re.MULTILINE)
_PARAM = re.compile(r"^param\s+(\w+)\s+(\w+)(\s*=)?", re.MULTILINE)


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def strip_comments(text: str) -> str:
    """Blank out ``//`` and ``/* */`` comments, keeping string literals and offsets intact."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            i += 1
            while i < n and text[i] != "'":
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for j in range(i, end):
                if text[j] != "\n":
                    out[j] = " "
            i = end
        else:
            i += 1
    return "".join(out)


def block_end(text: str, start: int) -> int:
    """Index just past the ``{...}`` or ``[...]`` block opening at ``start`` (comments stripped)."""
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack: list[str] = []
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            i += 1
            while i < len(text) and text[i] != "'":
                i += 2 if text[i] == "\\" else 1
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in pairs.values():
            if not stack or stack.pop() != ch:
                raise ValueError(f"unbalanced {ch!r} at {i}")
            if not stack:
                return i + 1
        i += 1
    raise ValueError(f"block at {start} is not closed")


@dataclass(frozen=True)
class Block:
    file: Path
    kind: str  # resource | module
    symbol: str
    type: str  # 'Microsoft.X/y@version' or the module path
    body: str  # the whole declaration body, comments stripped
    target_scope: str  # the file's targetScope ('resourceGroup' by default)

    @property
    def resource_type(self) -> str:
        return self.type.split("@", 1)[0]

    def prop(self, name: str) -> str | None:
        """The expression of the first ``name:`` property in the body (one line), if any."""
        match = re.search(rf"^\s*{re.escape(name)}\s*:\s*(.+?)\s*$", self.body, re.MULTILINE)
        return match.group(1) if match else None


def target_scope(text: str) -> str:
    match = re.search(r"^targetScope\s*=\s*'(\w+)'", text, re.MULTILINE)
    return match.group(1) if match else "resourceGroup"


def blocks(path: Path) -> list[Block]:
    text = strip_comments(path.read_text(encoding="utf-8"))
    scope = target_scope(text)
    out = []
    for match in _DECL.finditer(text):
        open_at = text.index("{", match.end()) if match.group(4) is None else match.end() - 1
        end = block_end(text, open_at)
        out.append(Block(path, match.group(1), match.group(2), match.group(3), text[open_at:end], scope))
    return out


def all_blocks() -> list[Block]:
    return [block for path in bicep_files() for block in blocks(path)]


def params(path: Path) -> dict[str, bool]:
    """Parameter name -> True when it has a default value."""
    text = strip_comments(path.read_text(encoding="utf-8"))
    return {m.group(1): bool(m.group(3)) for m in _PARAM.finditer(text)}


def loaded_files(path: Path) -> list[Path]:
    text = strip_comments(path.read_text(encoding="utf-8"))
    return [
        (path.parent / rel).resolve() for rel in re.findall(r"load(?:Json|Text)Content\('([^']+)'\)", text)
    ]


def app_settings(path: Path | None = None) -> set[str]:
    """The names between ``BEGIN app settings`` and ``END app settings`` in the function module."""
    text = (path or INFRA / "app" / "function.bicep").read_text(encoding="utf-8")
    match = re.search(r"BEGIN app settings.*?\n(.*?)// END app settings", text, re.DOTALL)
    if match is None:
        raise AssertionError("function.bicep has no BEGIN/END app settings markers")
    body = strip_comments(match.group(1))
    return set(re.findall(r"^\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*:", body, re.MULTILINE)) - {"properties"}


def module_args(block: Block) -> dict[str, str]:
    """A module call's ``params: { name: expression }`` as written (one-line expressions only)."""
    match = re.search(r"\bparams\s*:\s*\{", block.body)
    if match is None:
        return {}
    start = match.end() - 1
    inner = block.body[start + 1 : block_end(block.body, start) - 1]
    args: dict[str, str] = {}
    depth = 0
    for line in inner.splitlines():
        if depth == 0:
            pair = re.match(r"^\s*(\w+)\s*:\s*(.+?)\s*$", line)
            if pair:
                args[pair.group(1)] = pair.group(2)
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
    return args


def callers(path: Path) -> list[Block]:
    """Module blocks (in any Bicep file) whose module path is ``path``."""
    target = path.resolve()
    return [
        block
        for block in all_blocks()
        if block.kind == "module" and (block.file.parent / block.type).resolve() == target
    ]
