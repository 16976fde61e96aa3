"""Rich text both ways: Atlassian Document Format (Cloud) and wiki markup (Server)
to the plain text people read, and back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from caspira_jira import adf_to_text, text_to_adf, text_to_wiki, wiki_to_text
from tests.conftest import CASES


def doc(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def paragraph(*inlines: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(inlines)}


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def item(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "listItem", "content": list(blocks)}


def test_the_shared_comment_reads_as_one_line_without_its_bold_mark() -> None:
    delivery = json.loads((CASES / "jira-webhook-comment-created.json").read_text())

    assert adf_to_text(delivery["comment"]["body"]) == (
        "Reproduced on iPad Air. Fix goes out in 4.1.1."
    )


def test_paragraphs_are_separated_by_a_blank_line() -> None:
    document = doc(paragraph(text("First.")), paragraph(text("Second.")))

    assert adf_to_text(document) == "First.\n\nSecond."


def test_a_hard_break_is_a_line_break() -> None:
    document = doc(paragraph(text("Steps:"), {"type": "hardBreak"}, text("1. Tap")))

    assert adf_to_text(document) == "Steps:\n1. Tap"


def test_bullet_list_items_start_with_a_dash() -> None:
    document = doc(
        {
            "type": "bulletList",
            "content": [item(paragraph(text("iPad"))), item(paragraph(text("iPhone")))],
        }
    )

    assert adf_to_text(document) == "- iPad\n- iPhone"


def test_ordered_list_items_are_numbered_from_the_lists_start() -> None:
    document = doc(
        {
            "type": "orderedList",
            "attrs": {"order": 3},
            "content": [item(paragraph(text("Apply"))), item(paragraph(text("Tap")))],
        }
    )

    assert adf_to_text(document) == "3. Apply\n4. Tap"


def test_a_nested_list_is_indented_under_its_item() -> None:
    inner = {"type": "bulletList", "content": [item(paragraph(text("iPad Air")))]}
    document = doc(
        {"type": "orderedList", "content": [item(paragraph(text("Tablets")), inner)]}
    )

    assert adf_to_text(document) == "1. Tablets\n   - iPad Air"


def test_a_mention_reads_as_at_and_the_name() -> None:
    mention = {"type": "mention", "attrs": {"id": "712020:1", "text": "@Priya Nair"}}
    bare = {"type": "mention", "attrs": {"id": "712020:2", "text": "Dana"}}

    assert adf_to_text(doc(paragraph(text("Ask "), mention, text(" and "), bare))) == (
        "Ask @Priya Nair and @Dana"
    )


def test_a_code_block_keeps_its_lines_between_fences() -> None:
    code = {
        "type": "codeBlock",
        "attrs": {"language": "python"},
        "content": [text("if coupon:\n    apply(coupon)")],
    }

    assert adf_to_text(doc(paragraph(text("Try:")), code)) == (
        "Try:\n\n```\nif coupon:\n    apply(coupon)\n```"
    )


def test_a_link_reads_as_its_text() -> None:
    link = text("the runbook", marks=[{"type": "link", "attrs": {"href": "https://x"}}])

    assert adf_to_text(doc(paragraph(text("See "), link, text(".")))) == (
        "See the runbook."
    )


def test_a_smart_link_reads_as_its_address() -> None:
    card = {"type": "inlineCard", "attrs": {"url": "https://status.example.com"}}

    assert adf_to_text(doc(paragraph(text("Status: "), card))) == (
        "Status: https://status.example.com"
    )


def test_headings_quotes_and_rules_become_text_blocks() -> None:
    document = doc(
        {"type": "heading", "attrs": {"level": 2}, "content": [text("Cause")]},
        {"type": "blockquote", "content": [paragraph(text("Cache was stale."))]},
        {"type": "rule"},
    )

    assert adf_to_text(document) == "Cause\n\n> Cache was stale.\n\n---"


def test_media_is_left_out() -> None:
    image = {
        "type": "mediaSingle",
        "content": [{"type": "media", "attrs": {"id": "abc", "type": "file"}}],
    }

    assert adf_to_text(doc(paragraph(text("Screenshot:")), image)) == "Screenshot:"


def test_an_empty_document_is_empty_text() -> None:
    assert adf_to_text(doc()) == ""


@pytest.mark.parametrize(
    "plain",
    ["One line", "Steps:\n1. Apply\n2. Tap", "First.\n\nSecond.\nStill second."],
)
def test_text_made_into_adf_reads_back_the_same(plain: str) -> None:
    assert adf_to_text(text_to_adf(plain)) == plain


def test_wiki_escapes_every_markup_character() -> None:
    assert text_to_wiki("*not bold* _or_ [a|link] {code} -x- +y+ ^z^ ~w~ !i! #") == (
        r"\*not bold\* \_or\_ \[a\|link\] \{code\} \-x\- \+y\+ \^z\^ \~w\~ \!i\! \#"
    )


def test_wiki_keeps_a_line_that_looks_like_a_heading_as_text() -> None:
    assert text_to_wiki("h1. Not a heading\nbq. Not a quote") == (
        "h1\\. Not a heading\nbq\\. Not a quote"
    )


def test_wiki_writes_a_backslash_as_its_character_reference() -> None:
    # Two backslashes would be a line break in wiki markup.
    assert text_to_wiki(r"C:\Users\priya") == "C:&#92;Users&#92;priya"


def test_wiki_separates_paragraphs_by_one_blank_line() -> None:
    assert text_to_wiki("First.\n\n\n\nSecond.\r\nSame paragraph.") == (
        "First.\n\nSecond.\nSame paragraph."
    )


@pytest.mark.parametrize(
    "plain",
    [r"C:\temp\*.log", "well-known [draft] {x} h2. a", "a\n\nb\nc", "100% ~ #1 | !"],
)
def test_text_made_into_wiki_reads_back_the_same(plain: str) -> None:
    assert wiki_to_text(text_to_wiki(plain)) == plain


def test_wiki_forced_line_break_reads_as_a_line_break() -> None:
    assert wiki_to_text("first\\\\second") == "first\nsecond"


def test_wiki_markup_people_typed_is_kept_as_typed() -> None:
    assert (
        wiki_to_text("*Fixed* in [4.1.1|https://x]") == "*Fixed* in [4.1.1|https://x]"
    )
