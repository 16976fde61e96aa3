"""The emulator's webhooks: registration through both APIs, and deliveries to a real
receiver on a loopback port, signed, shaped like Jira's, retried with one identifier."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from caspira_hookspecs import PluginContext, WebhookRequest
from caspira_jira import JiraPlugin, JiraSettings, hub_signature, text_to_adf
from caspira_jira.emulator import EmulatedJira
from tests.jira.conftest import (
    EMAIL,
    SITE,
    TOKEN,
    TOKEN_ENV,
    Receiver,
    SpecCheckingTransport,
)

pytestmark = pytest.mark.anyio

SECRET = "loopback-secret"
PRIYA = "712020:5b0c8d2e-aaaa-4bbb-8ccc-0d1e2f3a4b5c"
ALL_EVENTS = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
]


@pytest.fixture
async def priya(transport: SpecCheckingTransport) -> AsyncIterator[httpx.AsyncClient]:
    """A person, not caspira: her changes are not echoes."""
    async with httpx.AsyncClient(
        base_url=f"{SITE}/rest/api/3",
        auth=("priya.nair@example.com", "priya.nair-token"),
        transport=transport,
    ) as client:
        yield client


async def admin_hook(
    jira: httpx.AsyncClient, url: str, *, secret: str | None = SECRET, **extra: Any
) -> dict[str, Any]:
    body = {"name": "caspira", "url": url, "events": ALL_EVENTS, **extra}
    if secret is not None:
        body["secret"] = secret
    answer = await jira.post(f"{SITE}/rest/webhooks/1.0/webhook", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def dynamic_hook(
    jira: httpx.AsyncClient, url: str, **details: Any
) -> httpx.Response:
    webhook = {"events": ALL_EVENTS, "jqlFilter": "project = APP", **details}
    return await jira.post("/webhook", json={"url": url, "webhooks": [webhook]})


async def create(jira: httpx.AsyncClient, **fields: Any) -> str:
    body = {
        "fields": {
            "project": {"key": "APP"},
            "issuetype": {"id": "10004"},
            "summary": "Checkout button does nothing",
            **fields,
        }
    }
    answer = await jira.post("/issue", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- Registration ---------------------------------------------------------------------


async def test_dynamic_registration_answers_one_result_per_webhook(
    jira: httpx.AsyncClient, receiver: Receiver
) -> None:
    answer = await jira.post(
        "/webhook",
        json={
            "url": receiver.url,
            "webhooks": [
                {"events": ["jira:issue_updated"], "jqlFilter": "project = APP"},
                {"events": ["jira:issue_updated"], "jqlFilter": "flavour = vanilla"},
            ],
        },
    )

    assert answer.status_code == 200
    assert answer.json() == {
        "webhookRegistrationResult": [
            {"createdWebhookId": 1},
            {"errors": ["Field 'flavour' does not exist or you cannot search it."]},
        ]
    }


async def test_dynamic_webhooks_are_listed_then_deleted(
    jira: httpx.AsyncClient, receiver: Receiver
) -> None:
    await dynamic_hook(jira, receiver.url, fieldIdsFilter=["status"])

    listed = (await jira.get("/webhook")).json()
    deleted = await jira.request("DELETE", "/webhook", json={"webhookIds": [1]})
    after = (await jira.get("/webhook")).json()

    (webhook,) = listed["values"]
    assert (webhook["id"], webhook["url"], webhook["jqlFilter"]) == (
        1,
        receiver.url,
        "project = APP",
    )
    assert webhook["fieldIdsFilter"] == ["status"]
    assert deleted.status_code == 202
    assert after["values"] == []


async def test_admin_registration_answers_the_webhook_but_never_its_secret(
    jira: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await admin_hook(
        jira, receiver.url, filters={"issue-related-events-section": "project = APP"}
    )

    assert webhook["self"] == f"{SITE}/rest/webhooks/1.0/webhook/1"
    assert (webhook["name"], webhook["url"], webhook["events"]) == (
        "caspira",
        receiver.url,
        ALL_EVENTS,
    )
    assert webhook["filters"] == {"issue-related-events-section": "project = APP"}
    assert SECRET not in str(webhook)


async def test_admin_webhook_is_read_and_deleted_by_its_id(
    jira: httpx.AsyncClient, receiver: Receiver
) -> None:
    await admin_hook(jira, receiver.url)
    hooks = f"{SITE}/rest/webhooks/1.0/webhook"

    read = await jira.get(f"{hooks}/1")
    deleted = await jira.delete(f"{hooks}/1")
    gone = await jira.get(f"{hooks}/1")

    assert read.json()["name"] == "caspira"
    assert (deleted.status_code, gone.status_code) == (204, 404)
    assert (await jira.get(hooks)).json() == []


async def test_admin_registration_with_an_unknown_event_is_refused(
    jira: httpx.AsyncClient, receiver: Receiver
) -> None:
    answer = await jira.post(
        f"{SITE}/rest/webhooks/1.0/webhook",
        json={"name": "x", "url": receiver.url, "events": ["board_created"]},
    )

    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == [
        "The event 'board_created' is not supported."
    ]


# --- Delivery -------------------------------------------------------------------------


async def test_delivery_is_signed_with_the_secret_over_its_raw_body(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await admin_hook(jira, receiver.url)

    await create(jira)
    await site.drain()

    (delivery,) = receiver.received
    assert delivery.headers["x-hub-signature"] == hub_signature(SECRET, delivery.body)
    assert delivery.headers["content-type"].startswith("application/json")
    assert delivery.headers["x-atlassian-webhook-identifier"]
    assert "x-atlassian-webhook-retry" not in delivery.headers


async def test_dynamic_webhook_deliveries_carry_no_signature(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await dynamic_hook(jira, receiver.url)

    await create(jira)
    await site.drain()

    (delivery,) = receiver.received
    assert "x-hub-signature" not in delivery.headers
    assert delivery.json()["matchedWebhookIds"] == [1]


async def test_transition_by_a_person_is_delivered_like_jiras_issue_updated(
    jira: httpx.AsyncClient,
    priya: httpx.AsyncClient,
    site: EmulatedJira,
    receiver: Receiver,
) -> None:
    key = await create(jira)
    await admin_hook(jira, receiver.url)

    await priya.post(f"/issue/{key}/transitions", json={"transition": {"id": "21"}})
    await site.drain()

    body = receiver.received[0].json()
    assert (body["webhookEvent"], body["issue_event_type_name"]) == (
        "jira:issue_updated",
        "issue_generic",
    )
    assert (body["user"]["accountId"], body["user"]["displayName"]) == (
        PRIYA,
        "Priya Nair",
    )
    assert body["changelog"]["items"] == [
        {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": "10000",
            "fromString": "To Do",
            "to": "3",
            "toString": "In Progress",
        }
    ]
    assert body["issue"]["key"] == key
    assert body["issue"]["fields"]["status"]["name"] == "In Progress"
    assert body["matchedWebhookIds"] == [1]
    assert isinstance(body["timestamp"], int)


async def test_delivered_body_parses_into_the_change_the_person_made(
    jira: httpx.AsyncClient,
    priya: httpx.AsyncClient,
    site: EmulatedJira,
    receiver: Receiver,
    transport: SpecCheckingTransport,
) -> None:
    key = await create(jira, priority={"name": "Medium"})
    await admin_hook(jira, receiver.url)
    plugin = JiraPlugin(
        PluginContext(
            settings=JiraSettings(
                site=SITE, email=EMAIL, api_token_env=TOKEN_ENV, webhook_secret_env="S"
            ),
            secrets={TOKEN_ENV: TOKEN, "S": SECRET},
            transports={"jira": transport},
        )
    )

    await priya.put(f"/issue/{key}", json={"fields": {"priority": {"name": "High"}}})
    await site.drain()
    delivery = receiver.received[0]
    request = WebhookRequest(
        path_params={}, headers=delivery.headers, body=delivery.body
    )
    (event,) = await plugin.receive_webhook(request)
    await plugin.aclose()

    assert event.delivery_id == (
        f"jira:{delivery.headers['x-atlassian-webhook-identifier']}"
    )
    assert event.payload["actor"]["account_id"] == PRIYA
    assert event.payload["changes"] == [
        {
            "field_id": "priority",
            "field": "priority",
            "from_id": "3",
            "from_text": "Medium",
            "to_id": "2",
            "to_text": "High",
        }
    ]


async def test_each_kind_of_change_is_delivered_in_the_order_it_was_made(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await admin_hook(jira, receiver.url)

    key = await create(jira)
    await jira.put(f"/issue/{key}", json={"fields": {"summary": "Renamed"}})
    await jira.post(f"/issue/{key}/transitions", json={"transition": {"id": "21"}})
    added = await jira.post(
        f"/issue/{key}/comment", json={"body": text_to_adf("Seen.")}
    )
    comment = f"/issue/{key}/comment/{added.json()['id']}"
    await jira.put(comment, json={"body": text_to_adf("Seen twice.")})
    await jira.delete(comment)
    await jira.delete(f"/issue/{key}")
    await site.drain()

    assert [
        (body["webhookEvent"], body.get("issue_event_type_name"))
        for body in (delivery.json() for delivery in receiver.received)
    ] == [
        ("jira:issue_created", "issue_created"),
        ("jira:issue_updated", "issue_updated"),
        ("jira:issue_updated", "issue_generic"),
        ("comment_created", None),
        ("comment_updated", None),
        ("comment_deleted", None),
        ("jira:issue_deleted", "issue_deleted"),
    ]


async def test_an_edit_is_delivered_with_the_changelog_of_its_fields(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    key = await create(jira, labels=["web"])
    await admin_hook(jira, receiver.url)

    await jira.put(
        f"/issue/{key}",
        json={"fields": {"summary": "Renamed", "labels": ["web", "ipad"]}},
    )
    await site.drain()

    items = receiver.received[0].json()["changelog"]["items"]
    assert [(i["fieldId"], i["fromString"], i["toString"]) for i in items] == [
        ("summary", "Checkout button does nothing", "Renamed"),
        ("labels", "web", "web ipad"),
    ]


async def test_comment_delivery_carries_the_comment_in_adf(
    jira: httpx.AsyncClient,
    priya: httpx.AsyncClient,
    site: EmulatedJira,
    receiver: Receiver,
) -> None:
    key = await create(jira)
    await admin_hook(jira, receiver.url)

    await priya.post(f"/issue/{key}/comment", json={"body": text_to_adf("Seen.")})
    await site.drain()

    body = receiver.received[0].json()
    assert body["webhookEvent"] == "comment_created"
    assert body["comment"]["body"] == text_to_adf("Seen.")
    assert body["comment"]["author"]["accountId"] == PRIYA
    assert body["issue"]["key"] == key
    assert "user" not in body


async def test_failed_delivery_is_retried_with_the_same_identifier(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await admin_hook(jira, receiver.url)
    receiver.answers = [503, 429]

    await create(jira)
    await site.drain()

    first, second, third = receiver.received
    identifiers = {
        r.headers["x-atlassian-webhook-identifier"] for r in receiver.received
    }
    assert len(identifiers) == 1
    assert "x-atlassian-webhook-retry" not in first.headers
    assert (
        second.headers["x-atlassian-webhook-retry"],
        third.headers["x-atlassian-webhook-retry"],
    ) == ("1", "2")
    assert first.body == second.body == third.body
    assert site.courier.deliveries[0].outcome == "delivered"


async def test_delivery_refused_with_400_is_not_retried(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await admin_hook(jira, receiver.url)
    receiver.answers = [400]

    await create(jira)
    await site.drain()

    assert len(receiver.received) == 1
    assert site.courier.deliveries[0].outcome == "failed"


async def test_unreachable_receiver_is_tried_again_then_given_up(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    await admin_hook(jira, f"http://127.0.0.1:{closed_port()}/hooks/jira")

    await create(jira)
    await site.drain()

    (delivery,) = site.courier.deliveries
    assert delivery.outcome == "failed"
    assert [a.error for a in delivery.attempts] == ["ConnectError"] * 4


async def test_webhook_with_a_jql_filter_hears_only_the_issues_it_matches(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await dynamic_hook(jira, receiver.url, jqlFilter="issuetype = Task")

    await create(jira)
    await create(jira, **{"issuetype": {"id": "10003"}})
    await site.drain()

    (delivery,) = receiver.received
    assert delivery.json()["issue"]["fields"]["issuetype"]["name"] == "Task"


async def test_field_ids_filter_keeps_updates_of_other_fields_away(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    key = await create(jira)
    await dynamic_hook(
        jira, receiver.url, events=["jira:issue_updated"], fieldIdsFilter=["status"]
    )

    await jira.put(f"/issue/{key}", json={"fields": {"summary": "Renamed"}})
    await jira.post(f"/issue/{key}/transitions", json={"transition": {"id": "21"}})
    await site.drain()

    (delivery,) = receiver.received
    assert delivery.json()["changelog"]["items"][0]["fieldId"] == "status"


async def test_deliveries_are_listed_for_tests_and_demos(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await admin_hook(jira, receiver.url)
    receiver.answers = [500]

    await create(jira)
    await site.drain()
    listed = (await jira.get(f"{SITE}/_emulator/deliveries")).json()

    (delivery,) = listed
    assert (delivery["event"], delivery["outcome"], delivery["url"]) == (
        "jira:issue_created",
        "delivered",
        receiver.url,
    )
    assert [a["status"] for a in delivery["attempts"]] == [500, 200]


async def test_reset_forgets_the_webhooks(
    jira: httpx.AsyncClient, site: EmulatedJira, receiver: Receiver
) -> None:
    await admin_hook(jira, receiver.url)

    await jira.post(f"{SITE}/_emulator/reset")
    await create(jira)
    await site.drain()

    assert receiver.received == []
