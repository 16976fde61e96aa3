"""The Slack emulator answers as Slack does, and as the Web API spec describes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from caspira_slack.emulator import SlackEmulator, channel_id, create_app
from tests.slack.conftest import BOT_TOKEN, WEBHOOK_PATH

pytestmark = pytest.mark.anyio

HEADER = {"type": "header", "text": {"type": "plain_text", "text": "APP-7 created"}}
AUTH = {"Authorization": f"Bearer {BOT_TOKEN}"}


@pytest.fixture
async def slack(emulator_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(emulator_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://slack.test"
    ) as client:
        yield client


# --- incoming webhooks -----------------------------------------------------------


async def test_a_webhook_post_answers_ok_as_plain_text(slack):
    response = await slack.post(WEBHOOK_PATH, json={"text": "hello"})

    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["content-type"].startswith("text/plain")


async def test_a_webhook_post_lands_in_the_webhooks_channel(slack, emulator_app):
    await slack.post(WEBHOOK_PATH, json={"text": "hello", "blocks": [HEADER]})

    [message] = emulator_app.state.emulator.messages
    assert {key: message[key] for key in ("channel", "text", "blocks", "via")} == {
        "channel": channel_id("caspira"),
        "text": "hello",
        "blocks": [HEADER],
        "via": "incoming_webhook",
    }


async def test_an_unknown_webhook_path_answers_no_service(slack):
    response = await slack.post(
        "/services/T0DEMO/B0DEMO/guessed", json={"text": "hello"}
    )

    assert (response.status_code, response.text) == (404, "no_service")


async def test_a_webhook_body_that_is_not_json_answers_invalid_payload(slack):
    response = await slack.post(
        WEBHOOK_PATH, content=b"{text: hello", headers={"content-type": "text/plain"}
    )

    assert (response.status_code, response.text) == (400, "invalid_payload")


async def test_a_webhook_body_that_is_a_json_list_answers_invalid_payload(slack):
    response = await slack.post(WEBHOOK_PATH, json=[{"text": "hello"}])

    assert (response.status_code, response.text) == (400, "invalid_payload")


async def test_a_webhook_post_without_text_or_blocks_answers_no_text(slack):
    response = await slack.post(WEBHOOK_PATH, json={"text": ""})

    assert (response.status_code, response.text) == (400, "no_text")


async def test_a_header_over_150_characters_answers_invalid_blocks(slack):
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}

    response = await slack.post(WEBHOOK_PATH, json={"text": "t", "blocks": [header]})

    assert (response.status_code, response.text) == (400, "invalid_blocks")


async def test_a_mrkdwn_header_answers_invalid_blocks(slack):
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "*bold*"}}

    response = await slack.post(WEBHOOK_PATH, json={"text": "t", "blocks": [header]})

    assert (response.status_code, response.text) == (400, "invalid_blocks")


async def test_a_form_encoded_payload_field_is_accepted(slack, emulator_app):
    response = await slack.post(
        WEBHOOK_PATH, data={"payload": json.dumps({"text": "from a form"})}
    )

    assert response.text == "ok"
    assert emulator_app.state.emulator.messages[0]["text"] == "from a form"


# --- chat.postMessage ------------------------------------------------------------


async def test_chat_post_message_answers_the_specs_success_shape(slack, chat_schemas):
    response = await slack.post(
        "/api/chat.postMessage",
        json={"channel": "#alerts", "text": "hello", "blocks": [HEADER]},
        headers=AUTH,
    )

    answer = response.json()
    chat_schemas.success.validate(answer)
    assert (answer["ok"], answer["channel"], answer["message"]["blocks"]) == (
        True,
        channel_id("alerts"),
        [HEADER],
    )


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        ({}, {"channel": "#alerts", "text": "hi"}, "not_authed"),
        ({}, {"token": BOT_TOKEN, "channel": "#alerts", "text": "hi"}, "not_authed"),
        (
            {"Authorization": "Bearer xoxb-wrong"},
            {"channel": "#alerts", "text": "hi"},
            "invalid_auth",
        ),
        (AUTH, {"channel": "#nowhere", "text": "hi"}, "channel_not_found"),
        (AUTH, {"text": "hi"}, "channel_not_found"),
        (AUTH, {"channel": "#alerts"}, "no_text"),
        (AUTH, {"channel": "#alerts", "text": "x" * 40_001}, "msg_too_long"),
    ],
    ids=[
        "no-token",
        "token-in-json",
        "wrong-token",
        "unknown-channel",
        "no-channel",
        "no-text",
        "long",
    ],
)
async def test_chat_post_message_refuses_with_http_200_and_the_specs_error_shape(
    slack, chat_schemas, headers, body, error
):
    response = await slack.post("/api/chat.postMessage", json=body, headers=headers)

    chat_schemas.error.validate(response.json())
    assert (response.status_code, response.json()) == (
        200,
        {"ok": False, "error": error},
    )


async def test_chat_post_message_takes_a_channel_by_id(slack, emulator_app):
    await slack.post(
        "/api/chat.postMessage",
        json={"channel": channel_id("general"), "text": "hi"},
        headers=AUTH,
    )

    assert emulator_app.state.emulator.messages[0]["channel_name"] == "general"


async def test_chat_post_message_takes_a_form_body_with_token_and_blocks(
    slack, emulator_app
):
    response = await slack.post(
        "/api/chat.postMessage",
        data={
            "token": BOT_TOKEN,
            "channel": "alerts",
            "text": "hi",
            "blocks": json.dumps([HEADER]),
        },
    )

    assert response.json()["ok"] is True
    assert emulator_app.state.emulator.messages[0]["blocks"] == [HEADER]


async def test_chat_post_message_with_bad_json_answers_invalid_json(slack):
    response = await slack.post(
        "/api/chat.postMessage",
        content=b"{channel",
        headers={**AUTH, "content-type": "application/json"},
    )

    assert response.json() == {"ok": False, "error": "invalid_json"}


async def test_chat_post_message_over_the_rate_limit_answers_429_with_retry_after(
    chat_schemas,
):
    app = create_app(messages_per_minute="1")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="https://slack.test"
    ) as slack:
        body = {"channel": "#alerts", "text": "hi"}
        await slack.post("/api/chat.postMessage", json=body, headers=AUTH)

        response = await slack.post("/api/chat.postMessage", json=body, headers=AUTH)

    chat_schemas.error.validate(response.json())
    assert (response.status_code, response.headers["retry-after"]) == (429, "60")
    assert response.json() == {"ok": False, "error": "rate_limited"}


async def test_each_message_gets_a_later_ts(slack):
    answers = [
        (
            await slack.post(
                "/api/chat.postMessage",
                json={"channel": "#alerts", "text": str(n)},
                headers=AUTH,
            )
        ).json()
        for n in range(3)
    ]

    stamps = [answer["ts"] for answer in answers]
    assert stamps == sorted(set(stamps), key=float)


# --- the emulator's own routes ---------------------------------------------------


async def test_received_messages_are_listed_oldest_first(slack):
    await slack.post(WEBHOOK_PATH, json={"text": "first"})
    await slack.post(WEBHOOK_PATH, json={"text": "second"})

    listed = (await slack.get("/_emulator/messages")).json()["messages"]

    assert [message["text"] for message in listed] == ["first", "second"]


async def test_deleting_the_messages_forgets_them(slack):
    await slack.post(WEBHOOK_PATH, json={"text": "first"})

    deleted = await slack.delete("/_emulator/messages")

    assert deleted.status_code == 204
    assert (await slack.get("/_emulator/messages")).json() == {"messages": []}


async def test_a_queued_failure_answers_the_next_request_only(slack):
    await slack.post(
        "/_emulator/failures",
        json={"status": 503, "error": "service_unavailable", "retry_after": 5},
    )

    failed = await slack.post(WEBHOOK_PATH, json={"text": "hi"})
    passed = await slack.post(WEBHOOK_PATH, json={"text": "hi"})

    assert (failed.status_code, failed.text, failed.headers["retry-after"]) == (
        503,
        "service_unavailable",
        "5",
    )
    assert (passed.status_code, passed.text) == (200, "ok")


async def test_a_malformed_failure_request_is_refused(slack):
    response = await slack.post("/_emulator/failures", json={"status": "soon"})

    assert response.status_code == 400


# --- options and state -----------------------------------------------------------


def test_a_webhook_path_not_shaped_like_slacks_is_refused():
    with pytest.raises(ValueError, match="webhook_path '/hooks/abc' is not shaped"):
        create_app(webhook_path="/hooks/abc")


def test_a_negative_rate_limit_is_refused():
    with pytest.raises(ValueError, match="messages_per_minute '-2' is not a whole"):
        create_app(messages_per_minute="-2")


def test_the_rate_limit_window_frees_a_slot_a_minute_after_a_post():
    now = [1_000.0]
    emulator = SlackEmulator(
        webhook_path=WEBHOOK_PATH,
        bot_token=BOT_TOKEN,
        channels=["alerts"],
        webhook_channel="alerts",
        messages_per_minute=1,
        clock=lambda: now[0],
    )
    assert emulator.wait_before_posting("C1") is None

    now[0] += 45.5
    assert emulator.wait_before_posting("C1") == 15
    now[0] += 14.5
    assert emulator.wait_before_posting("C1") is None
