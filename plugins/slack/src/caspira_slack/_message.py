"""Turning a notification into a Slack message: a plain ``text`` fallback and blocks."""

from __future__ import annotations

from typing import Any

from caspira_hookspecs import Notification

__all__ = [
    "HEADER_LIMIT",
    "SECTION_LIMIT",
    "escape",
    "link",
    "render",
]

#: Slack rejects a header block whose text is longer than this.
HEADER_LIMIT = 150

#: Slack rejects a section block whose text is longer than this.
SECTION_LIMIT = 3000

_ELLIPSIS = "…"

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}

_KIND_TITLES = {
    "issue_created": "Issue created",
    "issue_updated": "Issue updated",
    "issue_transitioned": "Issue transitioned",
    "event_failed": "Event failed",
}


def escape(text: str) -> str:
    """Escape Slack's control characters so user text cannot become a link or mention.

    Without this a record value such as ``<!channel>`` would page a whole channel.
    """
    return "".join(_ENTITIES.get(char, char) for char in text)


def link(url: str, label: str) -> str:
    """A mrkdwn link to ``url`` showing ``label``."""
    # A "|" ends the URL part of Slack's link syntax, so it must not appear raw.
    target = escape(url).replace("|", "%7C")
    return f"<{target}|{escape(label)}>"


def _fit(text: str, limit: int) -> str:
    """``text`` escaped, cut so the escaped form is at most ``limit`` characters.

    Cutting happens before escaping so an entity such as ``&amp;`` is never split.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped

    pieces: list[str] = []
    length = 0
    for char in text:
        piece = _ENTITIES.get(char, char)
        if length + len(piece) > limit - len(_ELLIPSIS):
            break
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces).rstrip() + _ELLIPSIS


def _context(notification: Notification) -> str:
    parts: list[str] = []
    issue = notification.issue
    if issue is not None:
        parts.append(link(issue.url, issue.key) if issue.url else escape(issue.key))
    parts.append(f"flow {escape(notification.flow)}")
    if notification.record_id is not None:
        parts.append(f"record {escape(notification.record_id)}")
    return " · ".join(parts)


def render(notification: Notification) -> dict[str, Any]:
    """The ``text`` and ``blocks`` of the message announcing ``notification``.

    The header carries the title, a section the text (when there is any) and a
    context line the issue key, linked to the issue when its URL is known, the flow
    and the record. ``text`` is what Slack shows in notifications and to clients
    that cannot draw blocks.
    """
    kind_title = _KIND_TITLES.get(
        notification.kind, notification.kind.replace("_", " ")
    )
    title = notification.title.strip() or kind_title
    body = notification.text.strip()
    context = _context(notification)

    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _fit(title, HEADER_LIMIT)},
        }
    ]
    if body:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _fit(body, SECTION_LIMIT)},
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}
    )

    fallback = [_fit(title, SECTION_LIMIT), context]
    if body:
        fallback.append(_fit(body, SECTION_LIMIT))
    return {"text": "\n".join(fallback), "blocks": blocks}
