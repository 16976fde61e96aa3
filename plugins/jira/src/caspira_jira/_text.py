"""Text as Jira takes it: control characters removed, lengths counted the way Jira
counts them (UTF-16 code units), and over-long text cut with a marker saying so.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "SUMMARY_LIMIT",
    "TEXT_LIMIT",
    "clean_text",
    "cut_text",
    "is_blank",
    "jira_length",
    "prefix_within",
    "trim_unseen",
]

#: The most a summary, a single-line text field or a label holds, in UTF-16 code
#: units. Atlassian gives the limit in "characters" without saying which kind. Jira is
#: a Java application whose API declares it as ``SummaryField.MAX_LEN = 255`` and
#: plugins built on that API compare it with Java's ``String.length()``, which counts
#: UTF-16 code units, so an emoji outside the Basic Multilingual Plane counts two.
#: Counting units is also the safe reading: what fits in 255 units fits in 255
#: characters.
SUMMARY_LIMIT = 255

#: The most a multi-line text field (description, environment, paragraph custom
#: fields) or a comment holds. Atlassian's REST description gives 32767 characters as
#: the longest text of a paragraph field (``CustomFieldContextDefaultValueTextArea``
#: in ``jira-cloud-platform.openapi.json``), and Jira Cloud answers a longer value
#: with a 400 whose ``errors`` name the field: "The entered text is too long. It
#: exceeds the allowed limit of 32,767 characters." (reported by integrators in
#: mozilla/jira-bugzilla-integration#1030 and HASecuritySolutions/VulnWhisperer#151;
#: pycontribs/jira#1686 points to Atlassian's JRACLOUD-68949). Counted in UTF-16
#: units, as above.
TEXT_LIMIT = 32_767

# C0 controls but tab and line feed, DEL, C1 controls, unpaired surrogates (which
# cannot even be encoded as UTF-8) and Unicode's noncharacters.
_NONCHARACTERS = "".join(
    chr(plane | last)
    for plane in range(0, 0x110000, 0x10000)
    for last in (0xFFFE, 0xFFFF)
)
_LINE_ENDS = re.compile("\r\n|[\r\x0b\x0c\x85]")
_REFUSED = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + _NONCHARACTERS + "]"
)
# Characters that show nothing on their own: controls, format characters (zero-width
# spaces and joiners, direction marks, the byte order mark), unpaired surrogates,
# combining marks with no letter to sit on, and separators.
_UNSEEN_CATEGORIES = {"Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"}
# Letters and symbols that fonts draw as blank space.
_BLANK_LOOKING = set("\u115f\u1160\u3164\uffa0\u2800")
_ZERO_WIDTH_JOINER = "\u200d"
# How far back a cut looks for a blank to end on a whole word.
_WORD_WINDOW = 40


def jira_length(text: str) -> int:
    """How long Jira finds ``text``: its UTF-16 code units, so an emoji counts two."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean_text(text: str) -> str:
    """``text`` without the characters Jira refuses or shows as garbage.

    Controls that end a line (carriage return, alone or before a line feed, vertical
    tab, form feed, next line) become line feeds. Other control characters (C0 but tab
    and line feed, DEL, C1), unpaired surrogates and Unicode noncharacters are
    removed. Everything else stays, zero-width characters too: joiners hold emoji
    together and non-joiners spell words in some scripts.
    """
    return _REFUSED.sub("", _LINE_ENDS.sub("\n", text))


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only blanks, zero-width or other format
    characters, controls, combining marks without a letter, or blank-looking fillers."""
    return all(
        char in _BLANK_LOOKING or unicodedata.category(char) in _UNSEEN_CATEGORIES
        for char in text
    )


def trim_unseen(text: str) -> str:
    """``text`` without blanks and format characters at either end."""
    start, end = 0, len(text)
    while start < end and _edge_unseen(text[start]):
        start += 1
    while end > start and _edge_unseen(text[end - 1]):
        end -= 1
    return text[start:end]


def prefix_within(text: str, units: int) -> str:
    """The longest start of ``text`` Jira counts as at most ``units`` long."""
    total = 0
    for index, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > units:
            return text[:index]
    return text


def cut_text(
    text: str,
    limit: int,
    *,
    where: str,
    separator: str = "\n\n",
    measure: Callable[[str], int] = jira_length,
) -> str:
    """``text`` when ``measure`` finds it within ``limit``; else its longest start that
    fits followed by ``separator`` and ``… [truncated by caspira: N characters more in
    <where>]``, so a reader knows what is missing and where the rest is.

    The cut ends on a whole word when a blank is near; ``N`` counts the characters
    left out.
    """
    if measure(text) <= limit:
        return text

    def marked(keep: int) -> str:
        kept = _trim_end(text[:keep])
        marker = (
            f"… [truncated by caspira: {len(text) - len(kept):,} characters more "
            f"in {where}]"
        )
        return f"{kept}{separator}{marker}" if kept else marker

    # A start is never longer in code points than in units, so the limit bounds the
    # search; and a shorter start fits wherever a longer one does (but for a digit
    # more in the count), so halving finds the longest that fits.
    low, high = 0, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(marked(middle)) <= limit:
            low = middle
        else:
            high = middle - 1

    blank = _last_blank(text, low)
    if blank is not None and measure(marked(blank)) <= limit:
        return marked(blank)
    return marked(low)


def _edge_unseen(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"


def _trim_end(text: str) -> str:
    # A joiner left at the end would join the emoji to the marker.
    return text.rstrip().rstrip(_ZERO_WIDTH_JOINER).rstrip()


def _last_blank(text: str, end: int) -> int | None:
    for index in range(end - 1, max(0, end - _WORD_WINDOW) - 1, -1):
        if text[index].isspace():
            return index
    return None
