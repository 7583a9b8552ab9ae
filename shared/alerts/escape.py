"""Make untrusted text inert in Teams cards (markdown) and email (HTML).

Every value that comes from a tag, a resource id or an ARM message can be chosen by whoever can
write a tag or name a resource group. Adaptive Card ``TextBlock`` text and ``FactSet`` values are
markdown (the Adaptive Cards library renders them with markdown-it), so a tag value like
``[Approve](https://evil.example)`` would become a live link in a trusted channel.
:func:`md` backslash-escapes every character that can open a markdown construct (links, images,
autolinks, emphasis, code, headings, lists, quotes, tables, entities), so the text renders as
written, and copies (a command) paste back unchanged. HTML uses :func:`html.escape` (``h``).
:func:`url_path` percent-encodes a resource id for use inside a link we build ourselves (a
resource group name may contain ``(``, ``)``, which would otherwise end a markdown link).
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

# CommonMark lets any ASCII punctuation be backslash-escaped. Escaped anywhere: what opens inline
# syntax (links, images, autolinks/HTML, emphasis, code, strikethrough, tables, entities); escaped
# at the start of a line only: block markers (heading, list, quote, setext underline), which keeps
# ids like ``rg-1`` or ``Microsoft.Storage`` readable.
_INLINE = re.compile(r"([\\`*_{}\[\]()<>|~&!])")
_LINE_START = re.compile(r"^(\s*)([#+\-=>])", re.MULTILINE)
_ORDERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_SAFE_URL_CHARS = "/-_.~"


def md(text: object) -> str:
    """``text`` as markdown that renders literally (no link, emphasis, heading, list, autolink)."""
    value = _INLINE.sub(r"\\\1", str(text).replace("\r", ""))
    value = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), value)
    return _ORDERED.sub(lambda m: m.group(1) + "\\.", value)


def h(text: object) -> str:
    """``text`` for HTML element content or a quoted attribute."""
    return html.escape(str(text), quote=True)


def url_path(resource_id: str) -> str:
    """A resource id as a URL path: every character but letters, digits and ``/-_.~`` encoded."""
    return quote(resource_id, safe=_SAFE_URL_CHARS)
