"""The emulator's outgoing-webhook management: webhooks and their events."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

HOOK = {"Name": "caspira", "OutgoingUrls": ["https://caspira.example.org/hooks/bugs"]}


@pytest.fixture
async def hook(api) -> dict:
    answer = await api.post("/outgoingWebhooks", json=HOOK)
    assert answer.status_code == 201
    return answer.json()


async def test_created_webhook_answers_id_and_secret(hook):
    assert len(hook["Id"]) == 6
    assert hook["Secret"] == "whsec-demo-0001"
    assert hook["OutgoingUrls"] == HOOK["OutgoingUrls"]
    assert hook["DateCreated"].endswith("Z")


@pytest.mark.parametrize("emulator_options", [{"webhook_secret": "whsec-other"}])
async def test_webhook_secret_option_sets_the_secret(hook):
    assert hook["Secret"] == "whsec-other"


async def test_webhooks_list_the_created_one_as_active(api, hook):
    answer = await api.get("/outgoingWebhooks")

    [listed] = answer.json()
    assert (listed["Id"], listed["Status"], listed["Name"]) == (
        hook["Id"],
        "Active",
        "caspira",
    )


async def test_webhook_answers_its_activity_counts(api, hook):
    answer = await api.get(f"/outgoingWebhooks/{hook['Id']}")

    body = answer.json()
    assert (body["Events"], body["Messages"], body["Calls"], body["Errors"]) == (
        0,
        0,
        0,
        0,
    )


async def test_webhook_without_urls_is_refused(api):
    answer = await api.post("/outgoingWebhooks", json={"Name": "caspira"})

    assert (answer.status_code, answer.json()["Code"]) == (
        400,
        "IncorrectBodyParameter",
    )


async def test_plain_http_to_another_host_is_refused(api):
    body = {"Name": "caspira", "OutgoingUrls": ["http://caspira.example.org/hook"]}

    answer = await api.post("/outgoingWebhooks", json=body)

    assert answer.status_code == 400
    assert "HTTPS" in answer.json()["Message"]


async def test_plain_http_to_loopback_is_allowed(api):
    body = {"Name": "local", "OutgoingUrls": ["http://127.0.0.1:8780/hooks/bugs"]}

    answer = await api.post("/outgoingWebhooks", json=body)

    assert answer.status_code == 201


async def test_webhook_names_are_unique(api, hook):
    again = {**HOOK, "OutgoingUrls": ["https://other.example.org/hook"]}

    answer = await api.post("/outgoingWebhooks", json=again)

    assert answer.status_code == 400


async def test_call_throttling_over_the_plan_is_refused(api):
    answer = await api.post("/outgoingWebhooks", json={**HOOK, "CallThrottling": 101})

    assert answer.status_code == 400


async def test_disabling_a_webhook_makes_it_inactive(api, hook):
    answer = await api.put(f"/outgoingWebhooks/{hook['Id']}", json={"Enabled": False})

    assert answer.json()["Status"] == "Inactive"


async def test_renaming_a_webhook_is_answered_with_the_new_name(api, hook):
    answer = await api.put(f"/outgoingWebhooks/{hook['Id']}", json={"Name": "renamed"})

    assert answer.json()["Name"] == "renamed"
    assert answer.json()["ModifiedBy"] == "caspira-demo"


async def test_changing_nothing_is_refused(api, hook):
    answer = await api.put(f"/outgoingWebhooks/{hook['Id']}", json={})

    assert answer.status_code == 400


async def test_deleted_webhook_is_gone(api, hook):
    deleted = await api.delete(f"/outgoingWebhooks/{hook['Id']}")
    answer = await api.get(f"/outgoingWebhooks/{hook['Id']}")

    assert deleted.status_code == 204
    assert (answer.status_code, answer.json()["Code"]) == (404, "ObjectNotFound")


async def test_event_subscribes_a_table_to_an_event_type(api, hook, bug_reports):
    answer = await api.post(
        f"/outgoingWebhooks/{hook['Id']}/events",
        json={"EventType": "table.recordInsert", "ObjectName": "BugReports"},
    )

    event = answer.json()
    assert answer.status_code == 201
    assert (event["Type"], event["ObjectName"], event["Status"]) == (
        "table.recordInsert",
        "BugReports",
        "Active",
    )
    assert event["EventSources"] == [
        "Datasheet",
        "DataPages",
        "RESTAPIs",
        "TriggeredActions",
        "Tasks",
    ]


async def test_events_list_what_the_webhook_listens_to(api, hook, bug_reports):
    for event_type in ("table.recordInsert", "table.recordUpdate"):
        await api.post(
            f"/outgoingWebhooks/{hook['Id']}/events",
            json={"EventType": event_type, "ObjectName": "BugReports"},
        )

    answer = await api.get(f"/outgoingWebhooks/{hook['Id']}/events")

    assert [event["Type"] for event in answer.json()] == [
        "table.recordInsert",
        "table.recordUpdate",
    ]


async def test_event_can_be_read_and_deleted(api, hook, bug_reports):
    created = await api.post(
        f"/outgoingWebhooks/{hook['Id']}/events",
        json={"EventType": "table.recordDelete", "ObjectName": "BugReports"},
    )
    path = f"/outgoingWebhooks/{hook['Id']}/events/{created.json()['Id']}"

    read = await api.get(path)
    deleted = await api.delete(path)

    assert read.json()["Type"] == "table.recordDelete"
    assert deleted.status_code == 204
    assert (await api.get(path)).status_code == 404


async def test_event_on_an_unknown_table_is_refused(api, hook):
    answer = await api.post(
        f"/outgoingWebhooks/{hook['Id']}/events",
        json={"EventType": "table.recordInsert", "ObjectName": "Nope"},
    )

    assert answer.status_code == 400
    assert "Nope" in answer.json()["Message"]


async def test_unknown_event_type_is_refused(api, hook, bug_reports):
    answer = await api.post(
        f"/outgoingWebhooks/{hook['Id']}/events",
        json={"EventType": "table.recordMerge", "ObjectName": "BugReports"},
    )

    assert answer.status_code == 400


async def test_object_fields_apply_only_to_updates(api, hook, bug_reports):
    answer = await api.post(
        f"/outgoingWebhooks/{hook['Id']}/events",
        json={
            "EventType": "table.recordInsert",
            "ObjectName": "BugReports",
            "ObjectFields": ["Severity"],
        },
    )

    assert answer.status_code == 400
