"""Outgoing webhook deliveries: the emulator POSTs to a receiver on a loopback port."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from caspira_caspio import CaspioPlugin, CaspioSettings
from caspira_hookspecs import CommentSync, Flow, PluginContext, WebhookRequest
from tests.caspio.conftest import ACCOUNT_URL, closed_port
from tests.conftest import CASES

pytestmark = pytest.mark.anyio

ZONELESS_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\Z")


async def subscribe(api, url: str, event_type: str, **event) -> tuple[str, str]:
    hook = await api.post(
        "/outgoingWebhooks", json={"Name": "caspira", "OutgoingUrls": [url]}
    )
    hook_id = hook.json()["Id"]
    created = await api.post(
        f"/outgoingWebhooks/{hook_id}/events",
        json={"EventType": event_type, "ObjectName": "BugReports", **event},
    )
    return hook_id, created.json()["Id"]


def caspio_plugin(flow: Flow, timezone: str = "UTC") -> CaspioPlugin:
    """The plugin as a receiving daemon holds it: flows and the webhook secret."""
    settings = CaspioSettings(
        account_url=ACCOUNT_URL,
        client_id_env="CASPIO_CLIENT_ID",
        client_secret_env="CASPIO_CLIENT_SECRET",
        timezone=timezone,
    )
    return CaspioPlugin(
        PluginContext(
            settings=settings,
            flows={flow.name: flow},
            secrets={"CASPIO_WEBHOOK_SECRET": "whsec-demo-0001"},
        )
    )


def handled_by(plugin: CaspioPlugin, flow: str = "bugs"):
    async def handle(body: bytes):
        request = WebhookRequest(path_params={"flow": flow}, headers={}, body=body)
        return await plugin.receive(request)

    return handle


async def test_insert_is_delivered_shaped_like_caspio(
    api, client, emulator, receiver, bug_reports
):
    hook_id, event_id = await subscribe(api, receiver.url, "table.recordInsert")

    record = await client.insert_record(bug_reports, {"Title": "Crash"})
    await emulator.drain()

    [body] = receiver.bodies
    shape = json.loads((CASES / "caspio-webhook-insert.json").read_text())
    assert list(body) == list(shape)
    assert (body["eventType"], body["objectName"]) == (
        "table.recordInsert",
        "BugReports",
    )
    assert (body["webhookId"], body["eventId"]) == (hook_id, event_id)
    assert (body["accountId"], body["secret"]) == ("c0demo01", "whsec-demo-0001")
    assert uuid.UUID(body["messageId"]).version == 4
    assert ZONELESS_DATE.match(body["eventDate"])
    assert body["data"] == [record]


async def test_update_without_a_changed_value_is_not_delivered(
    api, client, emulator, receiver, bug_reports
):
    record = await client.insert_record(bug_reports, {"Title": "Crash"})
    await subscribe(api, receiver.url, "table.recordUpdate")

    await client.update_record(bug_reports, record["PK_ID"], {"Title": "Crash"})
    await emulator.drain()

    assert receiver.bodies == []


async def test_update_with_a_changed_value_is_delivered(
    api, client, emulator, receiver, bug_reports
):
    record = await client.insert_record(bug_reports, {"Title": "Crash"})
    await subscribe(api, receiver.url, "table.recordUpdate")

    await client.update_record(bug_reports, record["PK_ID"], {"JiraKey": "APP-41"})
    await emulator.drain()

    [body] = receiver.bodies
    assert body["eventType"] == "table.recordUpdate"
    assert body["data"][0]["JiraKey"] == "APP-41"


async def test_update_of_fields_outside_object_fields_is_not_delivered(
    api, client, emulator, receiver, bug_reports
):
    record = await client.insert_record(bug_reports, {"Title": "Crash"})
    await subscribe(api, receiver.url, "table.recordUpdate", ObjectFields=["Severity"])

    await client.update_record(bug_reports, record["PK_ID"], {"JiraKey": "APP-41"})
    await client.update_record(bug_reports, record["PK_ID"], {"Severity": "High"})
    await emulator.drain()

    assert [body["data"][0]["Severity"] for body in receiver.bodies] == ["High"]


async def test_delete_is_delivered_with_the_deleted_record(
    api, client, emulator, receiver, bug_reports
):
    record = await client.insert_record(bug_reports, {"Title": "Crash"})
    await subscribe(api, receiver.url, "table.recordDelete")

    await api.delete("/tables/BugReports/records", params={"q.where": "PK_ID=1"})
    await emulator.drain()

    [body] = receiver.bodies
    assert body["eventType"] == "table.recordDelete"
    assert body["data"] == [record]


async def test_custom_payload_fields_narrow_the_delivered_record(
    api, client, emulator, receiver, bug_reports
):
    await subscribe(
        api, receiver.url, "table.recordInsert", CustomPayloadFields=["Title"]
    )

    await client.insert_record(bug_reports, {"Title": "Crash", "Severity": "High"})
    await emulator.drain()

    assert receiver.bodies[0]["data"] == [{"PK_ID": 1, "Title": "Crash"}]


async def test_disabled_webhook_delivers_nothing(
    api, client, emulator, receiver, bug_reports
):
    hook_id, _ = await subscribe(api, receiver.url, "table.recordInsert")
    await api.put(f"/outgoingWebhooks/{hook_id}", json={"Enabled": False})

    await client.insert_record(bug_reports, {"Title": "Crash"})
    await emulator.drain()

    assert receiver.bodies == []


async def test_failed_delivery_is_retried_with_the_same_message(
    api, client, emulator, receiver, bug_reports
):
    await subscribe(api, receiver.url, "table.recordInsert")
    receiver.fail_first = 1

    await client.insert_record(bug_reports, {"Title": "Crash"})
    await emulator.drain()

    attempts = emulator.deliveries
    assert [(a.attempt, a.status) for a in attempts] == [(1, 500), (2, 200)]
    assert attempts[0].message_id == attempts[1].message_id
    assert receiver.bodies[0]["messageId"] == attempts[0].message_id


async def test_unreachable_receiver_is_tried_the_configured_number_of_times(
    api, client, emulator, bug_reports
):
    hook_id, _ = await subscribe(
        api, f"http://127.0.0.1:{closed_port()}/hooks", "table.recordInsert"
    )

    await client.insert_record(bug_reports, {"Title": "Crash"})
    await emulator.drain()

    assert [(a.attempt, a.error) for a in emulator.deliveries] == [
        (1, "ConnectError"),
        (2, "ConnectError"),
        (3, "ConnectError"),
    ]
    activity = (await api.get(f"/outgoingWebhooks/{hook_id}")).json()
    assert (activity["Messages"], activity["Calls"], activity["Errors"]) == (1, 3, 3)


async def test_delivery_becomes_an_event_through_the_plugin_handler(
    api, client, emulator, receiver, bug_reports
):
    flow = Flow(
        name="bugs",
        table="BugReports",
        project="APP",
        webhook_secret_env="CASPIO_WEBHOOK_SECRET",
    )
    receiver.handler = handled_by(caspio_plugin(flow))
    await subscribe(api, receiver.url, "table.recordInsert")

    await client.insert_record(bug_reports, {"Title": "Crash"})
    await emulator.drain()

    [[event]] = receiver.answers
    message_id = receiver.bodies[0]["messageId"]
    assert event.key == "bugs:1"
    assert event.delivery_id == f"caspio:{message_id}:1"
    assert event.payload["values"]["Title"] == "Crash"


async def test_comments_table_rows_are_delivered_beside_the_records(
    api, client, emulator, receiver, bug_reports, bug_comments
):
    flow = Flow(
        name="bugs",
        table="BugReports",
        project="APP",
        webhook_secret_env="CASPIO_WEBHOOK_SECRET",
        comments=CommentSync(table="BugComments"),
    )
    receiver.handler = handled_by(caspio_plugin(flow))
    hook_id, _ = await subscribe(api, receiver.url, "table.recordInsert")
    await api.post(
        f"/outgoingWebhooks/{hook_id}/events",
        json={"EventType": "table.recordInsert", "ObjectName": "BugComments"},
    )

    record = await client.insert_record(bug_reports, {"Title": "Crash"})
    await emulator.drain()
    row = await client.insert_record(
        bug_comments,
        {"RecordID": record["PK_ID"], "Body": "Also on iOS 19.", "Author": "Ann"},
    )
    await emulator.drain()

    assert [body["objectName"] for body in receiver.bodies] == [
        "BugReports",
        "BugComments",
    ]
    assert receiver.bodies[1]["data"] == [row]
    [[record_event], [comment_event]] = receiver.answers
    assert (comment_event.kind, comment_event.key) == ("comment_changed", "bugs:1")
    assert record_event.key == comment_event.key
    assert comment_event.payload["body"] == "Also on iOS 19."
    assert comment_event.payload["author"]["display_name"] == "Ann"


@pytest.mark.parametrize("emulator_options", [{"timezone": "Asia/Tokyo"}])
async def test_event_date_in_the_account_zone_is_read_as_the_right_moment(
    api, client, emulator, receiver, bug_reports
):
    flow = Flow(
        name="bugs",
        table="BugReports",
        project="APP",
        webhook_secret_env="CASPIO_WEBHOOK_SECRET",
    )
    receiver.handler = handled_by(caspio_plugin(flow, timezone="Asia/Tokyo"))
    await subscribe(api, receiver.url, "table.recordInsert")

    await client.insert_record(bug_reports, {"Title": "Crash"})
    await emulator.drain()

    [[event]] = receiver.answers
    occurred_at = datetime.fromisoformat(event.payload["occurred_at"])
    assert occurred_at.utcoffset() == timedelta(hours=9)
    assert abs(occurred_at - datetime.now(UTC)) < timedelta(seconds=30)
