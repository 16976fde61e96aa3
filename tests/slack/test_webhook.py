"""Notifications posted through an incoming webhook, against the emulator."""

from __future__ import annotations

import json
import logging
import socket

import httpx
import pytest

from caspira_hookspecs import Flow, RemoteError, RetryableError
from caspira_slack import SlackSettings, render
from caspira_slack._client import WebhookDestination
from caspira_slack._redact import Redactor
from caspira_slack.emulator import create_app
from tests.slack.conftest import (
    ISSUE_CREATED,
    WEBHOOK_PATH,
    WEBHOOK_SETTINGS,
    WEBHOOK_URL,
    RecordingTransport,
)

pytestmark = pytest.mark.anyio

WRONG_URL = "https://hooks.slack.test/services/T0DEMO/B0DEMO/not-the-secret-path"


async def test_a_notification_is_posted_as_its_rendered_message(
    make_plugin, emulator_app
):
    plugin = make_plugin(WEBHOOK_SETTINGS)

    await plugin.notify(ISSUE_CREATED)

    [message] = emulator_app.state.emulator.messages
    expected = render(ISSUE_CREATED)
    assert (message["via"], message["channel_name"]) == ("incoming_webhook", "caspira")
    assert (message["text"], message["blocks"]) == (
        expected["text"],
        expected["blocks"],
    )


async def test_the_webhook_body_is_json_with_text_and_blocks_only(
    make_plugin, transport
):
    plugin = make_plugin(WEBHOOK_SETTINGS)

    await plugin.notify(ISSUE_CREATED)

    [(request, response)] = transport.exchanges
    assert (request.method, request.url.path) == ("POST", WEBHOOK_PATH)
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == render(ISSUE_CREATED)
    assert (response.status_code, response.text) == (200, "ok")


async def test_an_unknown_webhook_path_is_a_remote_error_that_is_not_retried(
    make_plugin,
):
    plugin = make_plugin(WEBHOOK_SETTINGS, secrets={"SLACK_WEBHOOK_URL": WRONG_URL})

    with pytest.raises(RemoteError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.status == 404
    assert caught.value.detail.startswith("no_service; the incoming webhook in ")
    assert "create one in Slack and put its URL in SLACK_WEBHOOK_URL" in str(
        caught.value
    )


async def test_the_webhook_url_never_appears_in_an_error(make_plugin):
    plugin = make_plugin(WEBHOOK_SETTINGS, secrets={"SLACK_WEBHOOK_URL": WRONG_URL})

    with pytest.raises(RemoteError) as caught:
        await plugin.notify(ISSUE_CREATED)

    shown = " ".join([str(caught.value), repr(caught.value.args), caught.value.detail])
    assert "not-the-secret-path" not in shown
    assert "hooks.slack.test" not in shown


async def test_the_webhook_url_never_appears_in_httpx_request_logs(make_plugin, caplog):
    plugin = make_plugin(WEBHOOK_SETTINGS)
    caplog.set_level(logging.INFO, logger="httpx")

    await plugin.notify(ISSUE_CREATED)

    [line] = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert line == 'HTTP Request: POST [redacted] "HTTP/1.1 200 OK"'


async def test_a_rate_limited_post_is_retryable_after_slacks_wait(make_plugin):
    limited = RecordingTransport(create_app(messages_per_minute="1"))
    plugin = make_plugin(WEBHOOK_SETTINGS, transport_override=limited)
    await plugin.notify(ISSUE_CREATED)

    with pytest.raises(RetryableError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert (caught.value.status, caught.value.retry_after) == (429, 60.0)


async def test_a_slack_server_error_is_retryable(make_plugin, emulator_app):
    plugin = make_plugin(WEBHOOK_SETTINGS)
    emulator_app.state.emulator.fail_next(503, "service_unavailable")

    with pytest.raises(RetryableError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert (caught.value.status, caught.value.retry_after) == (503, None)
    assert caught.value.detail.startswith(
        "service_unavailable; Slack is having trouble"
    )


async def test_an_unreachable_slack_is_retryable_and_hides_the_url(make_plugin):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now.
    url = f"http://127.0.0.1:{port}/services/T0DEMO/B0DEMO/closed-port-secret"
    plugin = make_plugin(
        WEBHOOK_SETTINGS, secrets={"SLACK_WEBHOOK_URL": url}, use_network=True
    )

    with pytest.raises(RetryableError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert caught.value.status is None
    assert caught.value.detail.startswith("could not reach Slack (ConnectError")
    assert "closed-port-secret" not in str(caught.value)


async def _post_raw(app, message: dict) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as http:
        destination = WebhookDestination(
            http,
            WEBHOOK_URL,
            url_env="SLACK_WEBHOOK_URL",
            redact=Redactor([WEBHOOK_URL]),
        )
        await destination.post(message)


async def test_an_invalid_payload_is_a_remote_error_naming_slacks_code(emulator_app):
    with pytest.raises(RemoteError) as caught:
        await _post_raw(emulator_app, {"text": 42})

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.status == 400
    assert caught.value.detail.startswith("invalid_payload; Slack refused the message")


async def test_a_message_without_text_or_blocks_is_a_remote_error(emulator_app):
    with pytest.raises(RemoteError) as caught:
        await _post_raw(emulator_app, {"text": ""})

    assert (caught.value.status, caught.value.detail.split(";")[0]) == (400, "no_text")


async def test_kinds_left_out_of_events_are_not_posted(make_plugin, emulator_app):
    settings = SlackSettings(
        webhook_url_env="SLACK_WEBHOOK_URL", events=["event_failed"]
    )
    plugin = make_plugin(settings)

    await plugin.notify(ISSUE_CREATED)

    assert emulator_app.state.emulator.messages == []


async def test_a_flow_with_notify_off_is_not_posted(make_plugin, emulator_app):
    quiet = Flow(name="bugs", table="BugReports", project="APP", notify=False)
    plugin = make_plugin(WEBHOOK_SETTINGS, flows={"bugs": quiet})

    await plugin.notify(ISSUE_CREATED)

    assert emulator_app.state.emulator.messages == []


async def test_a_slack_that_does_not_answer_in_time_is_retryable(make_plugin):
    # A listening socket nobody reads from: the connection opens, no answer comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"http://127.0.0.1:{port}/services/T0DEMO/B0DEMO/silent-secret"
        settings = SlackSettings(
            webhook_url_env="SLACK_WEBHOOK_URL", timeout_seconds=0.2
        )
        plugin = make_plugin(
            settings, secrets={"SLACK_WEBHOOK_URL": url}, use_network=True
        )

        with pytest.raises(RetryableError) as caught:
            await plugin.notify(ISSUE_CREATED)

    assert caught.value.status is None
    assert caught.value.detail.startswith("Slack did not answer in time")
    assert "silent-secret" not in str(caught.value)


async def test_a_rate_limit_error_says_how_long_to_wait(make_plugin, emulator_app):
    plugin = make_plugin(WEBHOOK_SETTINGS)
    emulator_app.state.emulator.fail_next(429, "rate_limited", retry_after=30)

    with pytest.raises(RetryableError) as caught:
        await plugin.notify(ISSUE_CREATED)

    assert str(caught.value) == (
        "slack incoming webhook failed (HTTP 429): rate limited by Slack; wait 30 "
        "seconds before posting again"
    )
