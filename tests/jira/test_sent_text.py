"""What reaches Jira from a record's text: no control characters, nothing longer than
Jira holds (cut with a marker), and no summary that shows nothing."""

from __future__ import annotations

import pytest

from caspira_hookspecs import Flow, IssueComment, IssueRef, MappingError
from caspira_jira import (
    SUMMARY_LIMIT,
    TEXT_LIMIT,
    JiraPlugin,
    adf_to_text,
    jira_length,
    text_to_adf,
)
from caspira_jira.emulator import EmulatedJira
from tests.jira.conftest import SpecCheckingTransport
from tests.jira.test_plugin import draft

pytestmark = pytest.mark.anyio

EMOJI = "\N{GRINNING FACE}"


async def test_control_characters_never_reach_the_issue(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    case = draft(
        summary="Checkout\x07 freezes\x00 on iPad\x1b",
        description="Steps:\x7f\n\t1. Apply coupon\x0b2. Tap Checkout\x9b",
        fields={"Environment": "iPadOS\x00 18.2", "Reporter Email": "dana\x07@x.io"},
    )

    await plugin.create_issue(case, flow)

    fields = site.issue("APP-1").fields
    assert fields["summary"] == "Checkout freezes on iPad"
    assert adf_to_text(fields["description"]) == (
        "Steps:\n\t1. Apply coupon\n2. Tap Checkout"
    )
    assert fields["customfield_10040"] == text_to_adf("iPadOS 18.2")
    assert fields["customfield_10042"] == "dana@x.io"


async def test_a_204k_character_description_is_cut_to_what_jira_holds(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    details = "Payment log line with a timestamp and a code. " * 4_400

    await plugin.create_issue(draft(description=details), flow)

    stored = adf_to_text(site.issue("APP-1").fields["description"])
    kept, marker = stored.rsplit("\n\n", 1)
    assert jira_length(stored) <= TEXT_LIMIT
    assert details.startswith(kept)
    assert marker == (
        f"… [truncated by caspira: {len(details.strip()) - len(kept):,} characters "
        "more in Caspio record 123]"
    )


async def test_over_long_paragraph_field_is_cut_too(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    await plugin.create_issue(draft(fields={"Environment": "iPadOS " * 6_000}), flow)

    stored = adf_to_text(site.issue("APP-1").fields["customfield_10040"])
    assert jira_length(stored) <= TEXT_LIMIT
    assert stored.endswith("characters more in Caspio record 123]")


async def test_the_cut_is_logged_without_the_text(
    plugin: JiraPlugin, flow: Flow, caplog_jira: pytest.LogCaptureFixture
) -> None:
    await plugin.create_issue(draft(description="secret " * 6_000), flow)

    (record,) = [r for r in caplog_jira.records if r.getMessage() == "field.truncated"]
    assert (record.record, record.field, record.length) == (
        "123",
        "description",
        41_999,
    )
    assert "secret" not in repr(record.__dict__)


async def test_title_of_only_zero_width_spaces_fails_before_anything_is_sent(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.create_issue(draft(summary="\u200b\u200b"), flow)

    assert (caught.value.record_id, caught.value.field) == ("123", "summary")
    assert transport.count("POST", "/rest/api/3/issue") == 0


async def test_a_title_of_200_emoji_becomes_a_summary_jira_takes(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    title = EMOJI * 200

    await plugin.create_issue(draft(summary=title, description=""), flow)

    fields = site.issue("APP-1").fields
    assert fields["summary"] == EMOJI * 127 + "…"
    assert jira_length(fields["summary"]) == SUMMARY_LIMIT
    assert fields["description"] == text_to_adf(title)


async def test_comment_loses_its_control_characters(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(), flow)
    comment = IssueComment(
        source="caspio", record_id="123", comment_id="7", body="Seen\x07 again\x00."
    )

    await plugin.add_issue_comment(created.issue, comment, flow)

    (posted,) = site.issue("APP-1").comments
    assert posted.body == text_to_adf("Seen again.")


async def test_over_long_comment_is_cut_naming_the_comment_and_its_record(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(), flow)
    body = "Customer log line. " * 2_000
    comment = IssueComment(source="caspio", record_id="123", comment_id="7", body=body)

    await plugin.add_issue_comment(created.issue, comment, flow)

    (posted,) = site.issue("APP-1").comments
    text = adf_to_text(posted.body)
    assert jira_length(text) <= TEXT_LIMIT
    assert text.endswith("characters more in Caspio comment 7 of record 123]")


async def test_comment_that_shows_nothing_is_a_mapping_error(
    plugin: JiraPlugin, flow: Flow
) -> None:
    issue = IssueRef(key="APP-1", id="10001")
    comment = IssueComment(source="caspio", comment_id="7", body="\u200b\x00")

    with pytest.raises(MappingError) as caught:
        await plugin.add_issue_comment(issue, comment, flow)

    assert (caught.value.record_id, caught.value.field) == ("APP-1", "comment")
