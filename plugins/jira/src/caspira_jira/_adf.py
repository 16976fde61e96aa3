"""Plain text to Atlassian Document Format, the rich text Jira Cloud's v3 API takes:
blank lines separate paragraphs, a single line break is a hard break.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["is_adf_document", "text_to_adf"]

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")


def text_to_adf(text: str) -> dict[str, Any]:
    """An ADF ``doc`` holding ``text``: one paragraph per blank-line-separated block."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    paragraphs = []
    for block in _BLANK_LINES.split(normalised):
        if not block.strip():
            continue
        content: list[dict[str, Any]] = []
        for number, line in enumerate(block.split("\n")):
            if number:
                content.append({"type": "hardBreak"})
            # ADF refuses empty text nodes, so an empty line is only its hard break.
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def is_adf_document(value: Any) -> bool:
    """Whether ``value`` looks like an ADF ``doc`` (its top node, not every node)."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )
