"""How a Jira comment is written on the Caspio side: a comments-table row or a block."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from caspira_hookspecs import CommentSync, IssueComment, MappingError, User

__all__ = ["author_name", "comment_block", "comment_row", "same_comment_row"]


def comment_block(comment: IssueComment) -> str:
    """The text appended to a record's comments field for one comment.

    ``"\\n\\n[<author>, <YYYY-MM-DD HH:MM> UTC] <body>"``; without a time the
    brackets hold only the author. A naive ``occurred_at`` is taken as UTC.
    """
    author = author_name(comment.author) or "unknown author"
    heading = author
    if comment.occurred_at is not None:
        moment = comment.occurred_at
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        heading = f"{author}, {moment:%Y-%m-%d %H:%M} UTC"
    return f"\n\n[{heading}] {comment.body}"


def author_name(user: User | None) -> str | None:
    """The name a comment's author is shown by: display name, user name or e-mail."""
    if user is None:
        return None
    return user.display_name or user.name or user.email or None


def comment_row(
    comment: IssueComment, sync: CommentSync, record_id: str
) -> dict[str, Any]:
    """The values of the comments-table row that holds ``comment``.

    Raises :class:`~caspira_hookspecs.MappingError` when ``record_id`` is not a
    Caspio ``PK_ID``, since the row's ``record_field`` holds it as a number.
    """
    if not record_id.isdigit():
        raise MappingError(
            record_id,
            sync.record_field,
            "is not a Caspio PK_ID, so the comment row cannot point at the record",
            "link comments only to records of a Caspio table",
        )
    row: dict[str, Any] = {
        sync.record_field: int(record_id),
        sync.body_field: comment.body,
    }
    author = author_name(comment.author)
    if sync.author_field and author is not None:
        row[sync.author_field] = author
    return row


def same_comment_row(stored: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether a stored comments-table row holds the values of ``row``.

    Text is compared with line ends and surrounding blanks set aside, which a
    store may change; so the same words by the same author count as one comment.
    """
    return all(
        _comparable(stored.get(name)) == _comparable(value)
        for name, value in row.items()
    )


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\r\n", "\n").strip()
    return value
