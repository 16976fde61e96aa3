"""Jira webhook deliveries in: signatures, the events the case files become, delivery
ids that make a retried delivery a duplicate, and what is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from caspira_hookspecs import (
    FieldChange,
    InboundEvent,
    IssueChange,
    IssueComment,
    IssueRef,
    PluginContext,
    User,
    WebhookRejected,
    WebhookRequest,
)
from caspira_jira import JiraPlugin, JiraSettings, hub_signature, text_to_wiki
from tests.conftest import CASES
from tests.jira.conftest import EMAIL, SITE, TOKEN, TOKEN_ENV, SpecCheckingTransport

pytestmark = pytest.mark.anyio

SECRET_ENV = "JIRA_WEBHOOK_SECRET"
CHECK_SECRET = "It's a Secret to Everybody"
CHECK_SIGNATURE = (
    "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"
)
PRIYA = "712020:5b0c8d2e-aaaa-4bbb-8ccc-0d1e2f3a4b5c"
TRANSITIONED = (CASES / "jira-webhook-issue-transitioned.body.json").read_bytes()
COMMENTED = (CASES / "jira-webhook-comment-created.json").read_bytes()


def case_headers() -> dict[str, str]:
    raw = json.loads(
        (CASES / "jira-webhook-issue-transitioned.headers.json").read_text()
    )
    return {k.lower(): v for k, v in raw.items() if not k.startswith("_")}


def case_secret() -> str:
    raw = json.loads(
        (CASES / "jira-webhook-issue-transitioned.headers.json").read_text()
    )
    return str(raw["_secret_used_for_signature"])


def make_plugin(
    transport: SpecCheckingTransport, secret: str | None = None, **settings: Any
) -> JiraPlugin:
    secrets = {TOKEN_ENV: TOKEN}
    if secret is not None:
        secrets[SECRET_ENV] = secret
        settings["webhook_secret_env"] = SECRET_ENV
    jira_settings = JiraSettings(
        site=SITE, email=EMAIL, api_token_env=TOKEN_ENV, **settings
    )
    return JiraPlugin(
        PluginContext(
            settings=jira_settings, secrets=secrets, transports={"jira": transport}
        )
    )


@pytest.fixture
async def open_plugin(transport: SpecCheckingTransport) -> AsyncIterator[JiraPlugin]:
    plugin = make_plugin(transport)
    yield plugin
    await plugin.aclose()


async def receive(
    plugin: JiraPlugin, body: bytes, headers: dict[str, str] | None = None
) -> list[InboundEvent]:
    (route,) = plugin.webhook_routes()
    request = WebhookRequest(path_params={}, headers=headers or {}, body=body)
    return await route.handler(request)


async def refusal(
    plugin: JiraPlugin, body: bytes, headers: dict[str, str] | None = None
) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        await receive(plugin, body, headers)
    return caught.value


def issue_body(event: str, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": 1764500000123,
        "webhookEvent": event,
        "issue": {
            "id": "10041",
            "key": "APP-41",
            "fields": {"project": {"key": "APP"}},
        },
        **extra,
    }


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


# --- The route ------------------------------------------------------------------------


async def test_the_plugin_offers_the_route_hooks_jira(open_plugin: JiraPlugin) -> None:
    (route,) = open_plugin.webhook_routes()

    assert (route.path, route.name) == ("/hooks/jira", "jira")


async def test_parsing_a_delivery_makes_no_remote_call(
    open_plugin: JiraPlugin, transport: SpecCheckingTransport
) -> None:
    await receive(open_plugin, TRANSITIONED, case_headers())

    assert transport.exchanges == []


# --- Signatures -----------------------------------------------------------------------


def test_signature_of_the_check_vector_is_the_documented_one() -> None:
    assert hub_signature(CHECK_SECRET, b"Hello World!") == CHECK_SIGNATURE


async def test_check_vector_signature_passes_and_the_body_is_then_refused_as_not_json(
    transport: SpecCheckingTransport,
) -> None:
    plugin = make_plugin(transport, CHECK_SECRET)

    rejected = await refusal(
        plugin, b"Hello World!", {"x-hub-signature": CHECK_SIGNATURE}
    )

    assert (rejected.status, rejected.reason) == (400, "body is not JSON")


async def test_check_vector_signature_with_another_secret_is_refused_with_401(
    transport: SpecCheckingTransport,
) -> None:
    plugin = make_plugin(transport, "another secret")

    rejected = await refusal(
        plugin, b"Hello World!", {"x-hub-signature": CHECK_SIGNATURE}
    )

    assert rejected.status == 401
    assert rejected.reason == (
        "X-Hub-Signature does not match the body; the Jira webhook's secret must "
        "equal the value of JIRA_WEBHOOK_SECRET"
    )


async def test_case_file_signed_with_its_secret_is_accepted(
    transport: SpecCheckingTransport,
) -> None:
    plugin = make_plugin(transport, case_secret())

    events = await receive(plugin, TRANSITIONED, case_headers())

    assert [event.kind for event in events] == ["issue_changed"]


async def test_case_file_with_one_byte_changed_is_refused_with_401(
    transport: SpecCheckingTransport,
) -> None:
    plugin = make_plugin(transport, case_secret())
    tampered = TRANSITIONED.replace(b'"In Progress"', b'"In  Progress"', 1)

    rejected = await refusal(plugin, tampered, case_headers())

    assert rejected.status == 401


async def test_delivery_without_a_signature_is_refused_when_a_secret_is_set(
    transport: SpecCheckingTransport,
) -> None:
    plugin = make_plugin(transport, case_secret())
    headers = {k: v for k, v in case_headers().items() if k != "x-hub-signature"}

    rejected = await refusal(plugin, TRANSITIONED, headers)

    assert rejected.status == 401
    assert rejected.reason.startswith("X-Hub-Signature header is missing")
    assert "JIRA_WEBHOOK_SECRET" in rejected.reason


async def test_refusals_never_carry_the_secret(
    transport: SpecCheckingTransport,
) -> None:
    plugin = make_plugin(transport, case_secret())

    wrong = await refusal(plugin, TRANSITIONED, {"x-hub-signature": "sha256=00"})
    missing = await refusal(plugin, TRANSITIONED, {})

    assert case_secret() not in f"{wrong} {missing}"


async def test_without_a_secret_an_unsigned_delivery_is_accepted(
    open_plugin: JiraPlugin,
) -> None:
    events = await receive(open_plugin, TRANSITIONED)

    assert len(events) == 1


# --- What the case files become -------------------------------------------------------


async def test_transitioned_case_becomes_the_exact_issue_change(
    open_plugin: JiraPlugin,
) -> None:
    (event,) = await receive(open_plugin, TRANSITIONED, case_headers())

    assert event == InboundEvent(
        source="jira",
        kind="issue_changed",
        flow=None,
        key="issue:APP-41",
        delivery_id="jira:wh-4f2b9c31-0001",
        payload=IssueChange(
            issue=IssueRef(
                key="APP-41", id="10041", url="https://jira.test/browse/APP-41"
            ),
            event="updated",
            project="APP",
            changes=(
                FieldChange(
                    field_id="status",
                    field="status",
                    from_id="10000",
                    from_text="To Do",
                    to_id="3",
                    to_text="In Progress",
                ),
            ),
            actor=User(account_id=PRIYA, display_name="Priya Nair"),
            occurred_at=datetime(2025, 11, 30, 10, 53, 20, 123000, tzinfo=UTC),
            delivery_id="jira:wh-4f2b9c31-0001",
        ).model_dump(mode="json"),
    )


async def test_comment_case_becomes_the_exact_issue_comment(
    open_plugin: JiraPlugin,
) -> None:
    headers = {"x-atlassian-webhook-identifier": "wh-77"}

    (event,) = await receive(open_plugin, COMMENTED, headers)

    assert (event.kind, event.key, event.delivery_id) == (
        "comment_changed",
        "issue:APP-41",
        "jira:wh-77",
    )
    assert IssueComment.model_validate(event.payload) == IssueComment(
        source="jira",
        event="created",
        issue=IssueRef(key="APP-41", id="10041", url="https://jira.test/browse/APP-41"),
        comment_id="30012",
        body="Reproduced on iPad Air. Fix goes out in 4.1.1.",
        author=User(account_id=PRIYA, display_name="Priya Nair"),
        occurred_at=datetime(2025, 11, 30, 10, 58, 20, 456000, tzinfo=UTC),
    )


async def test_payload_is_plain_json_the_store_can_keep(
    open_plugin: JiraPlugin,
) -> None:
    (event,) = await receive(open_plugin, TRANSITIONED, case_headers())

    assert json.loads(json.dumps(event.payload)) == event.payload
    assert event.payload["occurred_at"] == "2025-11-30T10:53:20.123000Z"


@pytest.mark.parametrize(
    ("webhook_event", "expected"),
    [
        ("jira:issue_created", "created"),
        ("jira:issue_updated", "updated"),
        ("jira:issue_deleted", "deleted"),
    ],
)
async def test_issue_events_are_named_by_what_happened(
    open_plugin: JiraPlugin, webhook_event: str, expected: str
) -> None:
    (event,) = await receive(open_plugin, encoded(issue_body(webhook_event)))

    assert event.payload["event"] == expected
    assert event.payload["changes"] == []


async def test_project_is_read_from_the_key_when_the_fields_leave_it_out(
    open_plugin: JiraPlugin,
) -> None:
    body = issue_body("jira:issue_deleted")
    body["issue"] = {"id": "10050", "key": "OPS-7"}

    (event,) = await receive(open_plugin, encoded(body))

    assert event.payload["project"] == "OPS"


async def test_changelog_item_without_field_id_is_named_by_its_field(
    open_plugin: JiraPlugin,
) -> None:
    item = {"field": "Customer Impact", "from": "10100", "fromString": "Low"}
    body = issue_body("jira:issue_updated", changelog={"items": [item]})

    (event,) = await receive(open_plugin, encoded(body))

    assert FieldChange.model_validate(event.payload["changes"][0]) == FieldChange(
        field_id="Customer Impact",
        field="Customer Impact",
        from_id="10100",
        from_text="Low",
    )


async def test_server_user_is_known_by_name(open_plugin: JiraPlugin) -> None:
    user = {
        "name": "priya.nair",
        "emailAddress": "priya.nair@example.com",
        "displayName": "Priya Nair",
    }

    (event,) = await receive(
        open_plugin, encoded(issue_body("jira:issue_updated", user=user))
    )

    assert User.model_validate(event.payload["actor"]) == User(
        name="priya.nair", email="priya.nair@example.com", display_name="Priya Nair"
    )


async def test_server_comment_in_wiki_markup_reads_as_plain_text(
    open_plugin: JiraPlugin,
) -> None:
    comment = {
        "id": "10500",
        "body": text_to_wiki("Fixed in 4.1.1 - see [notes]"),
        "author": {"name": "dana.whitfield", "displayName": "Dana Whitfield"},
    }
    body = issue_body("comment_created", comment=comment)

    (event,) = await receive(open_plugin, encoded(body))

    assert event.payload["body"] == "Fixed in 4.1.1 - see [notes]"
    assert event.payload["author"]["name"] == "dana.whitfield"


async def test_an_edited_comments_author_is_who_edited_it(
    open_plugin: JiraPlugin,
) -> None:
    comment = json.loads(COMMENTED)["comment"]
    comment["updateAuthor"] = {"accountId": "712020:dana", "displayName": "Dana"}
    body = {
        **json.loads(COMMENTED),
        "webhookEvent": "comment_updated",
        "comment": comment,
    }

    (event,) = await receive(open_plugin, encoded(body))

    assert event.payload["event"] == "updated"
    assert event.payload["author"]["account_id"] == "712020:dana"


# --- Delivery ids ---------------------------------------------------------------------


async def test_a_retry_carries_the_same_delivery_id_as_the_first_delivery(
    open_plugin: JiraPlugin,
) -> None:
    first = await receive(open_plugin, TRANSITIONED, case_headers())
    retry = await receive(
        open_plugin,
        TRANSITIONED,
        {**case_headers(), "x-atlassian-webhook-retry": "1"},
    )

    assert retry == first


async def test_without_an_identifier_the_delivery_id_is_the_hash_of_the_body(
    open_plugin: JiraPlugin,
) -> None:
    (event,) = await receive(open_plugin, TRANSITIONED)
    (again,) = await receive(open_plugin, TRANSITIONED)

    digest = hashlib.sha256(TRANSITIONED).hexdigest()
    assert event.delivery_id == again.delivery_id == f"jira:sha256:{digest}"


# --- Refusals and ignored events ------------------------------------------------------


async def test_event_caspira_does_not_use_answers_no_events(
    open_plugin: JiraPlugin,
) -> None:
    body = {"timestamp": 1764500000123, "webhookEvent": "sprint_started"}

    assert await receive(open_plugin, encoded(body)) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<xml/>", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (
            b'{"issue": {}}',
            "webhookEvent is missing; this is not a Jira webhook delivery",
        ),
        (
            b'{"webhookEvent": "jira:issue_updated"}',
            "issue is missing; it must be an object",
        ),
        (
            b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "APP-1"}}',
            "issue must have a key and an id",
        ),
    ],
)
async def test_a_body_of_the_wrong_shape_is_refused_with_400(
    open_plugin: JiraPlugin, body: bytes, reason: str
) -> None:
    rejected = await refusal(open_plugin, body)

    assert (rejected.status, rejected.reason) == (400, reason)


async def test_a_comment_event_without_its_comment_is_refused(
    open_plugin: JiraPlugin,
) -> None:
    rejected = await refusal(open_plugin, encoded(issue_body("comment_created")))

    assert rejected.status == 400
    assert rejected.reason.startswith("comment is missing")


async def test_a_timestamp_that_is_not_a_number_is_refused(
    open_plugin: JiraPlugin,
) -> None:
    body = issue_body("jira:issue_updated", timestamp="yesterday")

    rejected = await refusal(open_plugin, encoded(body))

    assert (rejected.status, rejected.reason) == (
        400,
        "timestamp 'yesterday' is not epoch milliseconds",
    )
