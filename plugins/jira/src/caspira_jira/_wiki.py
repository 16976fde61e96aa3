"""Plain text to and from Jira wiki markup, the rich text of Jira Server and Data
Center: markup characters are escaped, paragraphs are separated by blank lines.
"""

from __future__ import annotations

import re

__all__ = ["text_to_wiki", "wiki_to_text"]

# Characters that open or close wiki markup: *strong*, _emphasis_, ??citation??,
# -deleted-, +inserted+, ^sup^, ~sub~, {macros}, [links], |tables|, !images!, # lists.
_MARKUP = re.compile(r"([*_?\-+^~{}\[\]|!#])")
# Line starts that make a heading or a quote: "h1. Title", "bq. Quoted".
_BLOCK_START = re.compile(r"^(\s*)(h[1-6]|bq)\.", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
# A backslash escapes markup, and two make a line break, so a backslash the text
# holds is written as its character reference.
_BACKSLASH = "&#92;"
_UNESCAPE = re.compile(r"\\\\|\\(.)|&#92;", re.DOTALL)


def text_to_wiki(text: str) -> str:
    """Wiki markup that Jira Server shows as ``text``, with no formatting of its own."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    # Backslashes become references last, so that their "#" is not escaped.
    escaped = _MARKUP.sub(r"\\\1", normalised.replace("\\", "\0"))
    escaped = _BLOCK_START.sub(r"\1\2\\.", escaped).replace("\0", _BACKSLASH)
    return "\n\n".join(block for block in _BLANK_LINES.split(escaped) if block.strip())


def wiki_to_text(wiki: str) -> str:
    """The text a person reads in ``wiki``: escapes undone, ``\\\\`` a line break.

    Markup that people wrote (``*bold*``, ``[a link|https://...]``) is kept as typed.
    """
    return _UNESCAPE.sub(_unescaped, wiki.replace("\r\n", "\n")).strip("\n")


def _unescaped(match: re.Match[str]) -> str:
    if match.group(0) == "\\\\":
        return "\n"
    if match.group(0) == _BACKSLASH:
        return "\\"
    return match.group(1)
