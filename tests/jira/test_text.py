"""Text made fit for Jira: control characters removed, lengths counted in UTF-16 code
units, invisible titles refused, and over-long values cut with a marker."""

from __future__ import annotations

from typing import Any

import pytest

from caspira_hookspecs import MappingError
from caspira_jira import (
    CLOUD,
    SERVER,
    TEXT_LIMIT,
    FieldSpec,
    adf_to_text,
    clean_labels,
    clean_text,
    cut_text,
    fit_summary,
    jira_length,
    rich_text_length,
    text_to_adf,
    text_to_wiki,
    wiki_to_text,
)
from caspira_jira import shape_value as _shape_value
from caspira_jira._dialect import Dialect

CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
DESCRIPTION = FieldSpec(
    "description", "Description", {"type": "string", "system": "description"}
)
EMAIL = FieldSpec(
    "customfield_10042",
    "Reporter Email",
    {"type": "string", "custom": CUSTOM + "textfield"},
)
BROWSERS_TEXT = FieldSpec(
    "customfield_10070",
    "Browser Notes",
    {"type": "array", "items": "string", "custom": "com.example.forge:text-list"},
)
MARKER = "… [truncated by caspira: {n:,} characters more in Caspio record BR-7]"
EMOJI = "\N{GRINNING FACE}"


def shape(field: FieldSpec, value: Any, dialect: Dialect = CLOUD) -> Any:
    return _shape_value(field, value, key=field.name, record_id="BR-7", dialect=dialect)


# --- Cleaning ------------------------------------------------------------------------


def test_control_characters_are_removed_and_tab_and_line_feed_kept() -> None:
    raw = "Crash\x00 on\x07 save\x1b[0m\tafter\x7f login\x9b\nSecond line"

    assert clean_text(raw) == "Crash on save[0m\tafter login\nSecond line"


@pytest.mark.parametrize("ending", ["\r\n", "\r", "\x0b", "\x0c", "\x85"])
def test_controls_that_end_a_line_become_line_feeds(ending: str) -> None:
    assert clean_text(f"first{ending}second") == "first\nsecond"


def test_unpaired_surrogates_and_noncharacters_are_removed() -> None:
    assert clean_text("a\ud800b\udfffc\ufffed\U0010ffffe\ufdd0f") == "abcdef"


def test_zero_width_characters_inside_text_are_kept() -> None:
    family = "\N{MAN}\u200d\N{WOMAN}\u200d\N{GIRL}"

    assert clean_text(f"{family} and ko\u200cmer") == f"{family} and ko\u200cmer"


def test_rich_text_loses_its_control_characters() -> None:
    sent = shape(DESCRIPTION, "Steps:\x07\n\t1. Tap\x00 Checkout\x1b")

    assert adf_to_text(sent) == "Steps:\n\t1. Tap Checkout"


def test_rich_text_that_shows_nothing_is_left_empty() -> None:
    assert shape(DESCRIPTION, "\u200b\x00 \n\ufeff") is None


def test_text_field_loses_its_control_characters() -> None:
    assert shape(EMAIL, "dana\x00@example.com\x07") == "dana@example.com"


def test_text_field_that_shows_nothing_is_left_empty() -> None:
    assert shape(EMAIL, "\u200b\u200b") is None


def test_list_of_texts_drops_items_that_show_nothing() -> None:
    assert shape(BROWSERS_TEXT, ["Safari\x00 17", "\u200b", "Edge"]) == [
        "Safari 17",
        "Edge",
    ]


def test_ready_made_document_has_control_characters_removed_from_its_text() -> None:
    document = text_to_adf("Crash\x07 on save")

    sent = shape(DESCRIPTION, document)

    assert sent == text_to_adf("Crash on save")


def test_text_node_of_a_ready_made_document_left_empty_is_dropped() -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Crash", "marks": [{"type": "strong"}]},
                    {"type": "text", "text": "\x00\x07"},
                    {"type": "text", "text": " on save"},
                ],
            }
        ],
    }

    sent = shape(DESCRIPTION, document)

    assert sent["content"][0]["content"] == [
        {"type": "text", "text": "Crash", "marks": [{"type": "strong"}]},
        {"type": "text", "text": " on save"},
    ]


def test_label_loses_control_characters() -> None:
    assert clean_labels(["web\x00 portal\x07"]) == ["web-portal"]


def test_label_that_shows_nothing_is_dropped() -> None:
    assert clean_labels(["\u200b", "\x00", "triage"]) == ["triage"]


# --- Counting as Jira counts --------------------------------------------------------


def test_jira_counts_an_emoji_as_two_units_and_a_letter_as_one() -> None:
    assert jira_length(EMOJI * 200) == 400
    assert jira_length("Zoë") == 3


def test_rich_text_counts_markup_characters_as_their_wiki_escapes() -> None:
    assert rich_text_length("a*b") == len(text_to_wiki("a*b")) == 4


# --- Cutting -----------------------------------------------------------------------


def test_text_within_the_limit_is_kept_whole() -> None:
    assert cut_text("x" * 50, 50, where="Caspio record 7") == "x" * 50


def test_over_long_text_is_cut_to_the_limit_with_a_marker() -> None:
    cut = cut_text("x" * 200, 100, where="Caspio record 7")

    marker = "… [truncated by caspira: 166 characters more in Caspio record 7]"
    assert cut == "x" * 34 + "\n\n" + marker
    assert len(cut) == 100


def test_cut_ends_on_a_whole_word_when_a_blank_is_near() -> None:
    cut = cut_text("alpha beta gamma " * 20, 120, where="Caspio record 7")

    assert cut.split("\n\n")[0].endswith("gamma")


def test_cut_counts_emoji_as_two_units() -> None:
    cut = cut_text(EMOJI * 200, 255, where="Caspio record 7", separator=" ")

    assert cut == EMOJI * 95 + (
        " … [truncated by caspira: 105 characters more in Caspio record 7]"
    )
    assert jira_length(cut) == 255


def test_rich_text_of_exactly_the_limit_is_sent_whole() -> None:
    text = "x" * TEXT_LIMIT

    assert adf_to_text(shape(DESCRIPTION, text)) == text


def test_a_204k_description_is_cut_to_what_jira_holds_and_says_what_is_missing() -> (
    None
):
    text = "The checkout log follows. " * 8_000

    sent = adf_to_text(shape(DESCRIPTION, text))

    kept, marker = sent.rsplit("\n\n", 1)
    assert jira_length(sent) <= TEXT_LIMIT
    assert text.startswith(kept)
    assert marker == MARKER.format(n=len(text) - len(kept))


def test_markup_heavy_text_is_cut_so_its_wiki_markup_fits_on_server() -> None:
    text = "*" * 20_000 + " done"

    sent = shape(DESCRIPTION, text, SERVER)

    assert jira_length(sent) <= TEXT_LIMIT
    assert wiki_to_text(sent).endswith("characters more in Caspio record BR-7]")


def test_too_long_ready_made_document_is_sent_as_its_cut_text() -> None:
    document = text_to_adf("word " * 10_000)

    sent = shape(DESCRIPTION, document)

    assert adf_to_text(sent).endswith("characters more in Caspio record BR-7]")
    assert rich_text_length(adf_to_text(sent)) <= TEXT_LIMIT


# --- Summaries ---------------------------------------------------------------------


def test_title_loses_its_control_characters() -> None:
    assert fit_summary("Crash\x00 on\x07 save\x1b", record_id="BR-7") == (
        "Crash on save",
        None,
    )


def test_zero_width_characters_at_the_ends_of_a_title_are_trimmed() -> None:
    assert fit_summary("\ufeff\u200bCrash on save\u200b ", record_id="BR-7") == (
        "Crash on save",
        None,
    )


@pytest.mark.parametrize(
    "title", ["\u200b", "\u200b\u200d\ufeff", "\x00\x07", " \u2060\u00ad ", "\u3164"]
)
def test_title_that_shows_nothing_is_a_mapping_error_like_an_empty_one(
    title: str,
) -> None:
    with pytest.raises(MappingError) as caught:
        fit_summary(title, record_id="BR-7")

    assert caught.value.record_id == "BR-7"
    assert caught.value.field == "summary"
    assert "summary would be empty" in caught.value.problem
    assert "visible text" in caught.value.fix


def test_title_of_200_emoji_is_cut_to_255_utf16_units() -> None:
    title = EMOJI * 200

    summary, kept = fit_summary(title, record_id="BR-7")

    assert summary == EMOJI * 127 + "…"
    assert jira_length(summary) == 255
    assert kept == title


def test_title_jira_counts_as_exactly_255_units_is_kept_whole() -> None:
    title = EMOJI * 127 + "x"

    assert fit_summary(title, record_id="BR-7") == (title, None)


def test_long_title_backs_up_to_a_blank_only_near_the_cut() -> None:
    summary, _ = fit_summary("Re: " + "x" * 400, record_id="BR-7")

    assert summary == "Re: " + "x" * 250 + "…"
