"""The ``[slack]`` section: exactly one way to post, known events, sane URLs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from caspira_slack import NOTIFICATION_KINDS, SlackSettings


def test_a_webhook_alone_is_a_complete_section():
    settings = SlackSettings(webhook_url_env="SLACK_WEBHOOK_URL")

    assert (settings.webhook_url_env, settings.bot_token_env) == (
        "SLACK_WEBHOOK_URL",
        None,
    )


def test_a_bot_token_with_a_channel_is_a_complete_section():
    settings = SlackSettings(bot_token_env="SLACK_BOT_TOKEN", channel="#alerts")

    assert (settings.bot_token_env, settings.channel, settings.api_url) == (
        "SLACK_BOT_TOKEN",
        "#alerts",
        "https://slack.com/api",
    )


def test_every_notification_kind_is_posted_by_default():
    settings = SlackSettings(webhook_url_env="SLACK_WEBHOOK_URL")

    assert settings.events == [
        "issue_created",
        "issue_updated",
        "event_failed",
        "issue_transitioned",
    ]
    assert tuple(settings.events) == NOTIFICATION_KINDS


def test_both_ways_at_once_are_refused():
    with pytest.raises(ValidationError, match="set exactly one of webhook_url_env"):
        SlackSettings(
            webhook_url_env="SLACK_WEBHOOK_URL",
            bot_token_env="SLACK_BOT_TOKEN",
            channel="#alerts",
        )


def test_no_way_at_all_is_refused():
    with pytest.raises(ValidationError, match="set exactly one of webhook_url_env"):
        SlackSettings()


def test_a_bot_token_without_a_channel_is_refused():
    with pytest.raises(ValidationError, match="bot_token_env needs channel"):
        SlackSettings(bot_token_env="SLACK_BOT_TOKEN")


def test_a_channel_with_a_webhook_is_refused_because_webhooks_fix_their_channel():
    with pytest.raises(ValidationError, match="channel '#alerts' cannot be used"):
        SlackSettings(webhook_url_env="SLACK_WEBHOOK_URL", channel="#alerts")


def test_an_unknown_event_kind_is_refused_with_the_known_ones():
    with pytest.raises(ValidationError) as caught:
        SlackSettings(webhook_url_env="SLACK_WEBHOOK_URL", events=["issue_closed"])

    assert "unknown notification kind(s) ['issue_closed']" in str(caught.value)
    assert "'issue_transitioned'" in str(caught.value)


def test_an_unknown_key_is_refused():
    with pytest.raises(ValidationError, match="webhook_url"):
        SlackSettings(webhook_url_env="SLACK_WEBHOOK_URL", webhook_url="https://x.test")


def test_an_api_url_that_is_not_http_is_refused():
    with pytest.raises(ValidationError, match=r"api_url 'slack\.com/api' is not"):
        SlackSettings(
            bot_token_env="SLACK_BOT_TOKEN", channel="#alerts", api_url="slack.com/api"
        )


def test_a_trailing_slash_on_api_url_is_dropped():
    settings = SlackSettings(
        bot_token_env="SLACK_BOT_TOKEN",
        channel="#alerts",
        api_url="http://127.0.0.1:8025/api/",
    )

    assert settings.api_url == "http://127.0.0.1:8025/api"


def test_a_timeout_must_be_positive():
    with pytest.raises(ValidationError, match="timeout_seconds"):
        SlackSettings(webhook_url_env="SLACK_WEBHOOK_URL", timeout_seconds=0)
