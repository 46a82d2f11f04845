"""A griffe extension for the API reference: dynadapt's docstrings are written with reStructuredText habits
(``code``, :class:`Name` roles, literal blocks after ``::``, matrices written ``R[i][j]``), which
mkdocstrings reads as Markdown. Before a docstring is rendered, roles become code spans, ``::`` blocks
fenced code, and brackets outside code are escaped (``[i][j]`` is not a Markdown link).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc):`(~?)([^`]+)`")
CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")


def _role(match: re.Match[str]) -> str:
    name = match[2].rsplit(".", 1)[-1] if match[1] else match[2]
    return f"``{name}``"


def _inline(line: str) -> str:
    """Roles as code spans; brackets outside code spans escaped."""
    parts = CODE_SPAN.split(ROLE.sub(_role, line))
    return "".join(p if k % 2 else p.replace("[", r"\[").replace("]", r"\]") for k, p in enumerate(parts))


def markdown(text: str) -> str:
    """The Markdown of a reST-flavoured docstring ``text`` (already dedented)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::"):
            out.append(_inline(line))
            i += 1
            continue
        margin = len(line) - len(line.lstrip())
        head = line.rstrip()[:-2].rstrip()
        if head.strip():
            out.append(_inline(head + ":"))
        block, i = [], i + 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > margin):
            block.append(lines[i])
            i += 1
        while block and not block[0].strip():
            block.pop(0)
        while block and not block[-1].strip():
            block.pop()
        indent = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
        out += ["", "```text", *(b[indent:] for b in block), "```", ""]
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrite every docstring as :func:`markdown` says."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
