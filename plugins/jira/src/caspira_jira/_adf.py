"""Plain text to and from Atlassian Document Format, the rich text of Jira Cloud's v3
API: blank lines separate paragraphs, a single line break is a hard break.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["adf_to_text", "is_adf_document", "map_adf_text", "text_to_adf"]

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
# Nodes that carry nothing a reader of plain text could use.
_SILENT = {"media", "mediaSingle", "mediaGroup", "mediaInline", "extension"}


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


def map_adf_text(node: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """A copy of ``node`` with the text of every text node passed through ``change``.

    Text nodes left empty are dropped, as ADF refuses them; the rest is kept as is.
    """
    copy = dict(node)
    if node.get("type") == "text" and isinstance(node.get("text"), str):
        copy["text"] = change(node["text"])
    content = node.get("content")
    if isinstance(content, list):
        children = [
            map_adf_text(child, change) if isinstance(child, dict) else child
            for child in content
        ]
        copy["content"] = [child for child in children if not _empty_text(child)]
    return copy


def _empty_text(node: Any) -> bool:
    return (
        isinstance(node, dict) and node.get("type") == "text" and not node.get("text")
    )


def adf_to_text(document: Any) -> str:
    """The plain text a person reads in an ADF ``doc``.

    Paragraphs and other blocks are separated by blank lines, hard breaks become
    line breaks, list items read ``- item`` or ``1. item`` (nested ones indented),
    mentions ``@Name``, links their text, and code blocks keep their lines between
    ``` fences. Images and other media are left out. A string is answered as it is.
    """
    if isinstance(document, str):
        return document
    if not isinstance(document, dict):
        return ""
    return "\n\n".join(_blocks(_children(document))).strip("\n")


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    content = node.get("content")
    if not isinstance(content, list):
        return []
    return [child for child in content if isinstance(child, dict)]


def _blocks(nodes: list[dict[str, Any]]) -> list[str]:
    rendered = (_block(node) for node in nodes)
    return [text for text in rendered if text.strip()]


def _block(node: dict[str, Any]) -> str:
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind in ("paragraph", "heading"):
        return _inline(_children(node))
    if kind == "bulletList":
        return "\n".join(_list_item(item, "- ") for item in _children(node))
    if kind == "orderedList":
        first = attrs.get("order") if isinstance(attrs.get("order"), int) else 1
        return "\n".join(
            _list_item(item, f"{first + number}. ")
            for number, item in enumerate(_children(node))
        )
    if kind == "codeBlock":
        return "```\n" + _inline(_children(node)) + "\n```"
    if kind == "blockquote":
        quoted = "\n\n".join(_blocks(_children(node)))
        return "\n".join(f"> {line}" if line else ">" for line in quoted.split("\n"))
    if kind == "rule":
        return "---"
    if kind == "table":
        return "\n".join(_table_row(row) for row in _children(node))
    if kind in _SILENT:
        return ""
    if kind in _INLINE:
        return _inline([node])
    # Panels, expands, layouts and whatever Atlassian adds later: their blocks.
    return "\n\n".join(_blocks(_children(node)))


def _list_item(item: dict[str, Any], marker: str) -> str:
    # Inside an item, its paragraph and a nested list sit on consecutive lines.
    lines = "\n".join(_blocks(_children(item))).split("\n")
    indent = " " * len(marker)
    rest = [f"{indent}{line}" if line else "" for line in lines[1:]]
    return "\n".join([marker + lines[0], *rest])


def _table_row(row: dict[str, Any]) -> str:
    cells = (" ".join(_blocks(_children(cell))) for cell in _children(row))
    return " | ".join(cell.replace("\n", " ") for cell in cells)


def _inline(nodes: list[dict[str, Any]]) -> str:
    return "".join(_INLINE.get(str(node.get("type")), _nested)(node) for node in nodes)


def _nested(node: dict[str, Any]) -> str:
    if isinstance(node.get("text"), str):
        return node["text"]
    return _inline(_children(node))


def _text(node: dict[str, Any]) -> str:
    return str(node.get("text", ""))


def _mention(node: dict[str, Any]) -> str:
    attrs = node.get("attrs") or {}
    name = str(attrs.get("text") or attrs.get("id") or "")
    return name if name.startswith("@") else f"@{name}"


def _emoji(node: dict[str, Any]) -> str:
    attrs = node.get("attrs") or {}
    return str(attrs.get("text") or attrs.get("shortName") or "")


def _card(node: dict[str, Any]) -> str:
    return str((node.get("attrs") or {}).get("url", ""))


def _date(node: dict[str, Any]) -> str:
    stamp = (node.get("attrs") or {}).get("timestamp")
    try:
        moment = datetime.fromtimestamp(int(stamp) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return str(stamp or "")
    return moment.date().isoformat()


def _status(node: dict[str, Any]) -> str:
    return str((node.get("attrs") or {}).get("text", ""))


_INLINE: dict[str, Any] = {
    "text": _text,
    "hardBreak": lambda node: "\n",
    "mention": _mention,
    "emoji": _emoji,
    "inlineCard": _card,
    "date": _date,
    "status": _status,
}
