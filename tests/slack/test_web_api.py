"""Notifications posted with a bot token through ``chat.postMessage``."""

from __future__ import annotations

import json

import pytest

from caspira_hookspecs import RemoteError, RetryableError
from caspira_slack import SlackSettings, render
from caspira_slack.emulator import channel_id, create_app
from tests.slack.conftest import (
    API_URL,
    BOT_SETTINGS,
    BOT_TOKEN,
    ISSUE_CREATED,
    RecordingTransport,
)

pytestmark = pytest.mark.anyio


async def test_a_notification_is_posted_to_the_configured_channel(
    make_plugin, emulator_app
):
    plugin = make_plugin(BOT_SETTINGS)

    await plugin.notify(ISSUE_CREATED)

    [message] = emulator_app.state.emulator.messages
    expected = render(ISSUE_CREATED)
    assert (message["via"], message["channel"]) == (
        "chat.postMessage",
        channel_id("alerts"),
    )
    assert (message["text"], message["blocks"]) == (
        expected["text"],
        expected["blocks"],
    )


async def test_the_request_is_what_the_spec_describes(
    make_plugin, transport, chat_schemas
):
    plugin = make_plugin(BOT_SETTINGS)

    await plugin.notify(ISSUE_CREATED)

    [(request, _)] = transport.exchanges
    assert str(request.url) == f"{API_URL}/chat.postMessage"
    body = json.loads(request.content)
    chat_schemas.request.validate(body)
    assert body == {"channel": "#alerts", **render(ISSUE_CREATED)}


async def test_the_token_travels_as_a_bearer_header_only(make_plugin, transport):
    plugin = make_plugin(BOT_SETTINGS)

    await plugin.notify(ISSUE_CREATED)

    [(request, _)] = transport.exchanges
    # The spec names a "token" header; Slack's documented way is this one.
    assert request.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert BOT_TOKEN not in request.content.decode()


async def test_the_emulators_answer_is_what_the_spec_describes(
    make_plugin, transport, chat_schemas
):
    plugin = make_plugin(BOT_SETTINGS)

    await plugin.notify(ISSUE_CREATED)

    [(_, response)] = transport.exchanges
    chat_schemas.success.validate(response.json())


async def test_an_unknown_channel_is_a_remote_error_naming_the_channel(make_plugin):
    settings = BOT_SETTINGS.model_copy(update={"channel": "#nowhere"})
    plugin = make_plugin(settings)

    with pytest.raises(RemoteError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.status == 200
    assert caught.value.detail == (
        "channel_not_found; no channel '#nowhere' is visible to the bot; check "
        "[slack] channel, and invite the bot if the channel is private"
    )


async def test_a_wrong_token_is_a_remote_error_that_names_the_variable_not_the_token(
    make_plugin,
):
    plugin = make_plugin(
        BOT_SETTINGS, secrets={"SLACK_BOT_TOKEN": "xoxb-revoked-long-ago"}
    )

    with pytest.raises(RemoteError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert caught.value.detail == (
        "invalid_auth; put a valid bot token (xoxb-...) in SLACK_BOT_TOKEN"
    )
    assert "xoxb-revoked-long-ago" not in str(caught.value)


async def test_a_rate_limited_post_is_retryable_after_slacks_wait(make_plugin):
    limited = RecordingTransport(create_app(messages_per_minute="1"))
    plugin = make_plugin(BOT_SETTINGS, transport_override=limited)
    await plugin.notify(ISSUE_CREATED)

    with pytest.raises(RetryableError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert (caught.value.status, caught.value.retry_after) == (429, 60.0)


async def test_a_retryable_error_code_in_an_ok_false_answer_is_retryable(
    make_plugin, emulator_app
):
    plugin = make_plugin(BOT_SETTINGS)
    emulator_app.state.emulator.fail_next(200, "internal_error")

    with pytest.raises(RetryableError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert (caught.value.status, caught.value.detail.split(";")[0]) == (
        200,
        "internal_error",
    )


async def test_an_api_url_that_is_not_slacks_api_is_a_remote_error_naming_it(
    make_plugin,
):
    settings = SlackSettings(
        bot_token_env="SLACK_BOT_TOKEN",
        channel="#alerts",
        api_url="https://slack.test/not-the-api",
    )
    plugin = make_plugin(settings)

    with pytest.raises(RemoteError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert caught.value.status == 404
    assert caught.value.detail == (
        "unexpected answer 'Not Found'; check that [slack] api_url points at "
        "Slack's Web API (https://slack.com/api)"
    )
