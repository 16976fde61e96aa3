"""The Caspio webhook handler: case deliveries become events, bad ones are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from caspira_caspio import CaspioPlugin, CaspioSettings
from caspira_hookspecs import (
    CommentSync,
    Flow,
    InboundEvent,
    PluginContext,
    RecordChange,
    WebhookRejected,
    WebhookRequest,
)
from tests.caspio.conftest import ACCOUNT_URL
from tests.conftest import CASES

pytestmark = pytest.mark.anyio

SECRET_ENV = "CASPIO_WEBHOOK_SECRET"
SECRETS = {SECRET_ENV: "whsec-demo-0001"}
SETTINGS = CaspioSettings(
    account_url=ACCOUNT_URL,
    client_id_env="CASPIO_CLIENT_ID",
    client_secret_env="CASPIO_CLIENT_SECRET",
)
BERLIN = CaspioSettings(
    account_url=ACCOUNT_URL,
    client_id_env="CASPIO_CLIENT_ID",
    client_secret_env="CASPIO_CLIENT_SECRET",
    timezone="Europe/Berlin",
)
BUGS = Flow(
    name="bugs", table="BugReports", project="APP", webhook_secret_env=SECRET_ENV
)


def case(name: str) -> dict[str, Any]:
    return json.loads((CASES / f"caspio-webhook-{name}.json").read_text())


def plugin_for(
    *flows: Flow,
    secrets: dict[str, str] = SECRETS,
    transports=None,
    settings: CaspioSettings = SETTINGS,
):
    context = PluginContext(
        settings=settings,
        flows={flow.name: flow for flow in flows},
        secrets=secrets,
        transports=transports or {},
    )
    return CaspioPlugin(context)


async def deliver(
    body: bytes | dict[str, Any], flow: str = "bugs", plugin=None
) -> list[InboundEvent]:
    plugin = plugin or plugin_for(BUGS)
    [route] = plugin.webhook_routes()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = WebhookRequest(
        path_params={"flow": flow},
        headers={"content-type": "application/json"},
        body=raw,
    )
    return await route.handler(request)


async def rejection(body: bytes | dict[str, Any], **kwargs: Any) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as raised:
        await deliver(body, **kwargs)
    return raised.value


def test_plugin_offers_one_caspio_route():
    [route] = plugin_for(BUGS).webhook_routes()

    assert (route.path, route.name) == ("/hooks/caspio/{flow}", "caspio")


async def test_insert_case_becomes_one_insert_event():
    delivery = case("insert")

    [event] = await deliver(delivery)

    assert (event.source, event.kind, event.flow) == (
        "caspio",
        "record_changed",
        "bugs",
    )
    assert event.key == "bugs:123"
    assert event.delivery_id == "caspio:3f1c9a2e-8b4d-4e61-9a0b-5d2c7e1f4a90:123"
    assert event.payload == {
        "flow": "bugs",
        "table": "BugReports",
        "record_id": "123",
        "operation": "insert",
        "values": delivery["data"][0],
        "occurred_at": "2026-11-30T09:14:05Z",
        "delivery_id": "3f1c9a2e-8b4d-4e61-9a0b-5d2c7e1f4a90",
        "source": "caspio",
    }


async def test_update_case_becomes_one_update_event():
    [event] = await deliver(case("update"))

    assert event.payload["operation"] == "update"
    assert event.payload["values"]["JiraKey"] == "APP-41"
    assert event.payload["values"]["Severity"] == "Critical"


async def test_batch_case_becomes_three_events_one_per_record():
    events = await deliver(case("insert-batch"))

    assert [event.key for event in events] == ["bugs:124", "bugs:125", "bugs:126"]
    assert [event.delivery_id for event in events] == [
        f"caspio:c6a1f0e2-1111-4a2b-9c3d-0e1f2a3b4c5d:{pk}" for pk in (124, 125, 126)
    ]
    assert events[1].payload["values"]["Title"].endswith("(e.g. Zoë)")


async def test_record_delete_becomes_a_delete_event():
    delivery = {**case("insert"), "eventType": "table.recordDelete"}

    [event] = await deliver(delivery)

    assert event.payload["operation"] == "delete"


async def test_wrong_secret_is_refused_with_401():
    refused = await rejection({**case("insert"), "secret": "whsec-guess"})

    assert refused.status == 401
    assert "whsec-demo-0001" not in refused.reason


async def test_missing_secret_is_refused_with_401():
    delivery = case("insert")
    del delivery["secret"]

    assert (await rejection(delivery)).status == 401


async def test_secret_is_not_checked_for_a_flow_without_one():
    open_flow = BUGS.model_copy(update={"webhook_secret_env": None})
    delivery = {**case("insert"), "secret": "anything"}

    events = await deliver(delivery, plugin=plugin_for(open_flow))

    assert len(events) == 1


async def test_unset_secret_variable_answers_503_so_caspio_retries():
    refused = await rejection(case("insert"), plugin=plugin_for(BUGS, secrets={}))

    assert refused.status == 503


async def test_unknown_flow_is_refused_with_404():
    refused = await rejection(case("insert"), flow="tickets")

    assert refused.status == 404
    assert "'tickets'" in refused.reason


async def test_body_that_is_not_json_is_refused_with_400():
    refused = await rejection(b"eventType=table.recordInsert")

    assert (refused.status, refused.reason) == (400, "body is not JSON")


async def test_body_that_is_a_list_is_refused_with_400():
    assert (await rejection(b"[]")).status == 400


async def test_data_that_is_not_a_list_is_refused_with_400():
    refused = await rejection({**case("insert"), "data": {"PK_ID": 1}})

    assert (refused.status, refused.reason) == (
        400,
        "data must be a non-empty list of records",
    )


async def test_record_without_pk_id_is_refused_with_400():
    refused = await rejection({**case("insert"), "data": [{"Title": "x"}]})

    assert refused.status == 400
    assert "PK_ID" in refused.reason


async def test_unknown_event_type_is_refused_with_400():
    refused = await rejection({**case("insert"), "eventType": "table.recordMerge"})

    assert refused.status == 400
    assert "table.recordMerge" in refused.reason


async def test_another_table_is_refused_with_400_naming_the_expected_one():
    refused = await rejection({**case("insert"), "objectName": "Customers"})

    assert refused.status == 400
    assert "expects 'BugReports'" in refused.reason


async def test_event_date_that_is_not_a_date_is_refused_with_400():
    refused = await rejection({**case("insert"), "eventDate": "yesterday"})

    assert refused.status == 400


async def test_receiving_needs_no_rest_credentials_and_calls_nobody(
    emulator_app, emulator
):
    plugin = plugin_for(BUGS, transports={"caspio": httpx.ASGITransport(emulator_app)})

    events = await deliver(case("insert"), plugin=plugin)

    assert len(events) == 1
    assert emulator.calls == []
    assert emulator.token_grants == 0


# --- time zones ---------------------------------------------------------------


async def test_event_date_is_read_as_utc_by_default():
    [event] = await deliver(case("insert"))

    assert RecordChange.model_validate(event.payload).occurred_at == datetime(
        2026, 11, 30, 9, 14, 5, tzinfo=UTC
    )


async def test_plugin_without_settings_reads_event_dates_as_utc():
    plugin = CaspioPlugin(PluginContext(flows={"bugs": BUGS}, secrets=SECRETS))

    [event] = await deliver(case("insert"), plugin=plugin)

    assert event.payload["occurred_at"] == "2026-11-30T09:14:05Z"


async def test_event_date_is_read_in_the_account_timezone():

    [event] = await deliver(case("insert"), plugin=plugin_for(BUGS, settings=BERLIN))

    assert event.payload["occurred_at"] == "2026-11-30T09:14:05+01:00"


async def test_event_date_in_summer_gets_the_summer_offset():
    delivery = {**case("insert"), "eventDate": "2026-07-01T12:00:00"}

    [event] = await deliver(delivery, plugin=plugin_for(BUGS, settings=BERLIN))

    assert event.payload["occurred_at"] == "2026-07-01T12:00:00+02:00"


# --- the comments table -------------------------------------------------------

COMMENTED = BUGS.model_copy(update={"comments": CommentSync(table="BugComments")})
COMMENT_ROW = {"PK_ID": 7, "RecordID": 123, "Body": "Still crashes.", "Author": "Ann"}


def comment_delivery(event_type: str = "table.recordInsert", **row: Any) -> dict:
    return {
        **case("insert"),
        "eventType": event_type,
        "objectName": "BugComments",
        "data": [{**COMMENT_ROW, **row}],
    }


async def deliver_comment(body: dict[str, Any]) -> list[InboundEvent]:
    return await deliver(body, plugin=plugin_for(COMMENTED))


async def comment_rejection(body: dict[str, Any]) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as raised:
        await deliver_comment(body)
    return raised.value


async def test_new_comment_row_becomes_a_comment_event_keyed_by_its_record():
    delivery = comment_delivery()

    [event] = await deliver_comment(delivery)

    assert (event.source, event.kind, event.flow, event.key) == (
        "caspio",
        "comment_changed",
        "bugs",
        "bugs:123",
    )
    assert event.delivery_id == f"caspio:{delivery['messageId']}:7"
    assert event.payload == {
        "source": "caspio",
        "event": "created",
        "issue": None,
        "record_id": "123",
        "comment_id": "7",
        "body": "Still crashes.",
        "author": {
            "account_id": None,
            "name": None,
            "email": None,
            "display_name": "Ann",
        },
        "occurred_at": "2026-11-30T09:14:05Z",
    }


async def test_comment_row_without_author_gives_a_comment_without_author():
    [event] = await deliver_comment(comment_delivery(Author=None))

    assert event.payload["author"] is None


async def test_comment_row_parent_id_in_a_text_field_is_read_as_the_record():
    [event] = await deliver_comment(comment_delivery(RecordID="123"))

    assert event.key == "bugs:123"


@pytest.mark.parametrize("event_type", ["table.recordUpdate", "table.recordDelete"])
async def test_changed_or_deleted_comment_rows_give_no_events(event_type):
    assert await deliver_comment(comment_delivery(event_type)) == []


async def test_comment_row_without_parent_id_is_refused_naming_the_field():
    refused = await comment_rejection(comment_delivery(RecordID=None))

    assert refused.status == 400
    assert "'RecordID'" in refused.reason


async def test_comment_row_without_body_is_refused_naming_the_field():
    refused = await comment_rejection(comment_delivery(Body="  "))

    assert refused.status == 400
    assert "'Body'" in refused.reason


async def test_foreign_table_is_refused_naming_both_expected_tables():
    refused = await comment_rejection({**case("insert"), "objectName": "Customers"})

    assert refused.status == 400
    assert "expects 'BugReports' or its comments table 'BugComments'" in (
        refused.reason
    )


async def test_comment_rows_for_a_flow_without_comments_table_are_refused():
    refused = await rejection(comment_delivery())

    assert refused.status == 400
    assert "'BugComments'" in refused.reason


# --- reading the body ---------------------------------------------------------


def with_record(**values: Any) -> dict[str, Any]:
    delivery = case("insert")
    delivery["data"] = [{**delivery["data"][0], **values}]
    return delivery


async def test_number_too_long_to_read_is_refused_before_the_secret_check():
    refused = await rejection(b'{"x": ' + b"9" * 5000 + b"}")

    assert refused.status == 400
    assert "a number of 5000 digits" in refused.reason


async def test_body_nested_beyond_the_parser_is_refused_with_400():
    refused = await rejection(b"[" * 200_000)

    assert (refused.status, refused.reason) == (
        400,
        "body is nested too deeply to be a delivery",
    )


async def test_lone_surrogate_as_secret_is_a_wrong_secret():
    refused = await rejection(json.dumps({"secret": "\ud800"}).encode())

    assert refused.status == 401


async def test_secret_beyond_ascii_is_accepted_when_it_matches():
    plugin = plugin_for(BUGS, secrets={SECRET_ENV: "sécret-ü-🔑"})

    events = await deliver({**case("insert"), "secret": "sécret-ü-🔑"}, plugin=plugin)

    assert len(events) == 1


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_non_numbers_python_would_read_are_refused(constant):
    body = json.dumps(case("insert"))[:-1] + f', "Score": {constant}}}'

    refused = await rejection(body.encode())

    assert (refused.status, refused.reason) == (
        400,
        f"body holds {constant}, which is not a JSON number; send numbers only",
    )


async def test_number_beyond_the_float_range_is_refused():
    body = json.dumps(case("insert"))[:-1] + ', "Score": 1e400}'

    refused = await rejection(body.encode())

    assert refused.status == 400
    assert "1e400, too large" in refused.reason


async def test_body_that_is_not_utf8_is_refused_as_not_json():
    refused = await rejection(b'{"eventType": "table.recordInsert\xc3\x28"}')

    assert (refused.status, refused.reason) == (400, "body is not JSON")


# --- text no store can hold ---------------------------------------------------


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (
            {"Title": "Crash\u0000"},
            "record 123, field 'Title': holds a NUL character (\\u0000)",
        ),
        (
            {"Title": "Crash \ud83d"},
            "record 123, field 'Title': holds an unpaired surrogate (\\ud83d)",
        ),
        (
            {"Tags": {"1": "Hard\u0000ware"}},
            "record 123, field 'Tags': holds a NUL character",
        ),
        (
            {"Tags": {"1\udfff": "Hardware"}},
            "record 123, field 'Tags': a key holds an unpaired surrogate",
        ),
        (
            {"Title\u0000": "Crash"},
            "record 123: field name 'Title\\x00' holds a NUL character",
        ),
        (
            {"Ti\udc00tle": "Crash"},
            "record 123: field name 'Ti\\udc00tle' holds an unpaired surrogate",
        ),
    ],
    ids=[
        "NUL in a value",
        "surrogate in a value",
        "NUL in a list field",
        "surrogate in a list field key",
        "NUL in a field name",
        "surrogate in a field name",
    ],
)
async def test_text_no_store_can_hold_is_refused_naming_record_and_field(
    values, reason
):
    refused = await rejection(with_record(**values))

    assert refused.status == 400
    assert refused.reason.startswith(reason)


async def test_surrogate_sent_as_raw_bytes_is_refused_naming_the_field():
    body = json.dumps(with_record(Title="Crash")).replace("Crash", "Cr\\u00e4sh")
    raw = body.encode().replace(b"\\u00e4", b"\xed\xa0\x80")

    refused = await rejection(raw)

    assert refused.status == 400
    assert refused.reason.startswith("record 123, field 'Title': holds an unpaired")


@pytest.mark.parametrize("message_id", ["3f1c\u0000", "3f1c\udbff"])
async def test_message_id_no_store_can_hold_is_refused(message_id):
    refused = await rejection({**case("insert"), "messageId": message_id})

    assert refused.status == 400
    assert refused.reason.startswith("messageId holds")


async def test_value_nested_deeper_than_any_caspio_field_is_refused():
    nested: Any = "deep"
    for _ in range(40):
        nested = [nested]

    refused = await rejection(with_record(Notes=nested))

    assert refused.status == 400
    assert refused.reason.startswith(
        "record 123, field 'Notes': nests more than 16 levels deep"
    )


async def test_text_beyond_ascii_is_accepted_as_sent():
    title = "Zoë 🐞 \u2028 next line, and \\u0000 written out"

    [event] = await deliver(with_record(Title=title))

    assert event.payload["values"]["Title"] == title


async def test_refusal_shows_a_long_value_shortened():
    refused = await rejection({**case("insert"), "eventType": "x" * 100_000})

    assert refused.reason.startswith("eventType 'xxxx")
    assert len(refused.reason) < 200


async def test_event_date_the_engine_cannot_put_in_utc_is_refused():
    delivery = {**case("insert"), "eventDate": "0001-01-01T00:30:00"}

    refused = await rejection(delivery, plugin=plugin_for(BUGS, settings=BERLIN))

    assert refused.status == 400
    assert "eventDate '0001-01-01T00:30:00'" in refused.reason


async def test_comment_row_text_no_store_can_hold_is_refused():
    refused = await comment_rejection(comment_delivery(Body="Still\u0000 crashes."))

    assert refused.status == 400
    assert refused.reason.startswith("comment row 7, field 'Body': holds a NUL")


# --- record ids ---------------------------------------------------------------


@pytest.mark.parametrize(
    "pk_id",
    [
        "abc",
        " ",
        "",
        "12a",
        "1e3",
        "²",
        "\uff11\uff12\uff13",  # fullwidth digits
        10**100,
        2**63,
        1.5,
        0,
        -3,
        True,
        None,
    ],
)
async def test_pk_id_that_is_not_a_record_number_is_refused(pk_id):
    refused = await rejection(with_record(PK_ID=pk_id))

    assert refused.status == 400
    assert refused.reason.startswith("data[0] has PK_ID ")
    assert "a whole number from 1 to 9223372036854775807" in refused.reason


async def test_refusal_of_a_pk_id_names_the_row_it_is_in():
    delivery = case("insert-batch")
    delivery["data"][2]["PK_ID"] = "abc"

    refused = await rejection(delivery)

    assert refused.reason.startswith("data[2] has PK_ID 'abc';")


@pytest.mark.parametrize("pk_id", [123, "123", "0123", " 123 ", 123.0])
async def test_pk_id_that_is_a_number_becomes_one_record_id(pk_id):
    [event] = await deliver(with_record(PK_ID=pk_id))

    assert (event.key, event.delivery_id.rsplit(":", 1)[1]) == ("bugs:123", "123")
    assert event.payload["record_id"] == "123"


async def test_largest_record_number_is_accepted():
    [event] = await deliver(with_record(PK_ID=str(2**63 - 1)))

    assert event.key == "bugs:9223372036854775807"


async def test_comment_row_parent_id_that_is_not_a_number_is_refused():
    refused = await comment_rejection(comment_delivery(RecordID="12a"))

    assert refused.status == 400
    assert "'RecordID' (found '12a')" in refused.reason


async def test_comment_row_parent_id_with_leading_zeros_names_the_record():
    [event] = await deliver_comment(comment_delivery(RecordID="00123"))

    assert (event.key, event.payload["record_id"]) == ("bugs:123", "123")


# --- two rows of one record in one delivery -----------------------------------


def batch_of(*rows: dict[str, Any]) -> dict[str, Any]:
    base = case("update")["data"][0]
    return {**case("update"), "data": [{**base, **row} for row in rows]}


async def test_two_rows_of_one_record_become_two_events_in_their_order():
    delivery = batch_of({"Severity": "High"}, {"Severity": "Critical"})
    message = delivery["messageId"]

    events = await deliver(delivery)

    assert [(e.key, e.delivery_id) for e in events] == [
        ("bugs:123", f"caspio:{message}:123"),
        ("bugs:123", f"caspio:{message}:123:1"),
    ]
    assert [e.payload["values"]["Severity"] for e in events] == ["High", "Critical"]


async def test_each_repeat_of_a_record_gets_the_next_suffix():
    delivery = batch_of({"PK_ID": 123}, {"PK_ID": 124}, {"PK_ID": 123}, {"PK_ID": 123})

    events = await deliver(delivery)

    assert [e.delivery_id.split(":", 2)[2] for e in events] == [
        "123",
        "124",
        "123:1",
        "123:2",
    ]


async def test_pk_ids_written_differently_are_repeats_of_one_record():
    events = await deliver(batch_of({"PK_ID": 123}, {"PK_ID": "0123"}))

    assert [e.delivery_id.split(":", 2)[2] for e in events] == ["123", "123:1"]


async def test_a_repeated_delivery_gives_the_same_delivery_ids():
    delivery = batch_of({"Severity": "High"}, {"Severity": "Critical"})

    first = await deliver(delivery)
    again = await deliver(delivery)

    assert [e.delivery_id for e in again] == [e.delivery_id for e in first]


async def test_a_comment_row_repeated_in_one_delivery_gives_one_event():
    delivery = comment_delivery()
    delivery["data"] = [delivery["data"][0], {**delivery["data"][0], "PK_ID": "07"}]

    events = await deliver_comment(delivery)

    assert [event.delivery_id for event in events] == [
        f"caspio:{delivery['messageId']}:7"
    ]
