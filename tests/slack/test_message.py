"""How a notification becomes Slack's ``text`` fallback and Block Kit blocks."""

from __future__ import annotations

from caspira_hookspecs import IssueRef, Notification
from caspira_slack import escape, render
from caspira_slack._message import HEADER_LIMIT, link
from tests.slack.conftest import ISSUE_CREATED


def test_the_title_becomes_a_plain_text_header():
    header = render(ISSUE_CREATED)["blocks"][0]

    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "APP-7 created: Checkout button does nothing on iPad after "
            "coupon applied",
        },
    }


def test_the_text_becomes_a_mrkdwn_section():
    section = render(ISSUE_CREATED)["blocks"][1]

    assert section == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "From record 123 of flow bugs."},
    }


def test_the_context_links_the_issue_key_to_the_issue():
    context = render(ISSUE_CREATED)["blocks"][2]

    assert context == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "<https://jira.example.test/browse/APP-7|APP-7> · flow bugs"
                " · record 123",
            }
        ],
    }


def test_an_issue_without_a_url_shows_its_key_unlinked():
    notification = ISSUE_CREATED.model_copy(
        update={"issue": IssueRef(key="APP-7", id="10007")}
    )

    context = render(notification)["blocks"][-1]

    assert context["elements"][0]["text"] == "APP-7 · flow bugs · record 123"


def test_a_notification_without_text_has_no_section():
    notification = Notification(
        flow="bugs", kind="issue_updated", title="APP-7 updated"
    )

    blocks = render(notification)["blocks"]

    assert [block["type"] for block in blocks] == ["header", "context"]


def test_the_fallback_text_holds_title_issue_and_text():
    assert render(ISSUE_CREATED)["text"] == (
        "APP-7 created: Checkout button does nothing on iPad after coupon applied\n"
        "<https://jira.example.test/browse/APP-7|APP-7> · flow bugs · record 123\n"
        "From record 123 of flow bugs."
    )


def test_an_empty_title_is_replaced_by_the_kind():
    notification = Notification(flow="bugs", kind="event_failed", title="  ")

    header = render(notification)["blocks"][0]

    assert header["text"]["text"] == "Event failed"


def test_ampersand_and_angle_brackets_are_escaped():
    assert escape("Q&A <b> 1 > 0") == "Q&amp;A &lt;b&gt; 1 &gt; 0"


def test_record_text_cannot_mention_a_whole_channel():
    notification = ISSUE_CREATED.model_copy(
        update={"title": "Ping <!channel>", "text": "see <https://evil.test|here>"}
    )

    message = render(notification)

    assert message["blocks"][0]["text"]["text"] == "Ping &lt;!channel&gt;"
    assert message["blocks"][1]["text"]["text"] == (
        "see &lt;https://evil.test|here&gt;"
    )
    assert "<!channel>" not in message["text"]


def test_a_link_escapes_its_url_and_keeps_a_pipe_out_of_it():
    assert link("https://jira.test/?a=1&b=x|y", "A<1>") == (
        "<https://jira.test/?a=1&amp;b=x%7Cy|A&lt;1&gt;>"
    )


def test_a_long_title_is_cut_to_the_header_limit_with_an_ellipsis():
    notification = ISSUE_CREATED.model_copy(update={"title": "word " * 60})

    header_text = render(notification)["blocks"][0]["text"]["text"]

    assert len(header_text) == HEADER_LIMIT
    assert header_text == ("word " * 30).rstrip() + "…"


def test_cutting_a_title_never_splits_an_escaped_character():
    notification = ISSUE_CREATED.model_copy(update={"title": "&" * 100})

    header_text = render(notification)["blocks"][0]["text"]["text"]

    # 29 entities of 5 characters and the ellipsis fit in 150; a 30th would not.
    assert header_text == "&amp;" * 29 + "…"
