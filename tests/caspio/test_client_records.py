"""Reading and writing records through the client, against the emulator."""

from __future__ import annotations

import httpx
import pytest
from openapi_core import OpenAPI

from caspira_caspio import MAX_URI_LENGTH, CaspioClient, where_equals, where_in
from caspira_hookspecs import MappingError, RemoteError
from tests.caspio.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    SpecCheckedTransport,
    bug_report_fields,
    caspio_spec,
    served,
)

pytestmark = pytest.mark.anyio


def _gets(emulator) -> list[str]:
    return [target for method, target in emulator.calls if method == "GET"]


async def test_list_records_reads_every_page(client, emulator, bug_reports):
    for number in range(12):
        await client.insert_record(bug_reports, {"Title": f"Report {number}"})

    records = [r async for r in client.list_records(bug_reports, page_size=5)]

    assert [r["PK_ID"] for r in records] == list(range(1, 13))
    assert [r["Title"] for r in records][-1] == "Report 11"
    assert len(_gets(emulator)) == 3


async def test_list_records_asks_for_pages_in_pk_id_order(
    client, emulator, bug_reports
):
    await client.insert_record(bug_reports, {"Title": "Only"})

    [record async for record in client.list_records(bug_reports, page_size=5)]

    assert "q.orderBy=PK_ID" in _gets(emulator)[0]
    assert "q.pageNumber=1" in _gets(emulator)[0]


async def test_list_records_finds_a_name_with_a_single_quote(client, bug_reports):
    await client.insert_record(bug_reports, {"ReporterName": "Dana O'Brien"})
    await client.insert_record(bug_reports, {"ReporterName": "Dana OBrien"})

    where = where_equals("ReporterName", "Dana O'Brien")
    found = [r async for r in client.list_records(bug_reports, where=where)]

    assert [r["ReporterName"] for r in found] == ["Dana O'Brien"]


async def test_list_records_selects_fields(client, bug_reports):
    await client.insert_record(bug_reports, {"Title": "Crash", "Severity": "High"})

    found = [
        r async for r in client.list_records(bug_reports, select=["PK_ID", "Title"])
    ]

    assert found == [{"PK_ID": 1, "Title": "Crash"}]


async def test_page_size_outside_caspio_range_is_refused(client, bug_reports):
    with pytest.raises(ValueError, match="use 5 to 1000"):
        [r async for r in client.list_records(bug_reports, page_size=4)]


async def test_uri_over_the_limit_is_refused_without_sending(
    client, emulator, bug_reports
):
    where = where_in("PK_ID", range(1, 600))

    with pytest.raises(RemoteError) as raised:
        [r async for r in client.list_records(bug_reports, where=where)]

    assert raised.value.status is None
    assert f"limit of {MAX_URI_LENGTH}" in str(raised.value)
    assert _gets(emulator) == []


async def test_insert_record_answers_the_stored_record(client, bug_reports):
    record = await client.insert_record(
        bug_reports,
        {
            "Title": "Checkout button does nothing",
            "Product": ["Mobile App"],
            "SubmittedAt": "2026-11-30T09:14:03",
        },
    )

    assert record["PK_ID"] == 1
    assert record["ReportID"] == "BR-000001"
    assert record["Product"] == {"2": "Mobile App"}
    assert record["SubmittedAt"] == "2026-11-30T09:14:03"
    assert record["JiraKey"] is None


async def test_update_record_round_trips(client, bug_reports):
    created = await client.insert_record(bug_reports, {"Title": "Crash"})

    updated = await client.update_record(
        bug_reports, created["PK_ID"], {"JiraKey": "APP-41", "Severity": "Critical"}
    )
    stored = await client.get_record(bug_reports, created["PK_ID"])

    assert updated == stored
    assert stored["JiraKey"] == "APP-41"
    assert stored["Severity"] == "Critical"
    assert stored["Title"] == "Crash"


async def test_update_record_accepts_the_id_as_text(client, bug_reports):
    await client.insert_record(bug_reports, {"Title": "Crash"})

    updated = await client.update_record(bug_reports, "1", {"Status": "Triaged"})

    assert updated["Status"] == "Triaged"


async def test_update_of_a_missing_record_raises_remote_error(client, bug_reports):
    with pytest.raises(RemoteError) as raised:
        await client.update_record(bug_reports, 999, {"Status": "Triaged"})

    assert "no record with PK_ID 999" in str(raised.value)


async def test_get_record_answers_none_for_a_missing_record(client, bug_reports):
    assert await client.get_record(bug_reports, 999) is None


async def test_record_id_that_is_not_a_number_is_refused(client, bug_reports):
    with pytest.raises(MappingError) as raised:
        await client.get_record(bug_reports, "1 OR 1=1")

    assert raised.value.field == "PK_ID"


async def test_list_fields_answers_the_table_design(client, bug_reports):
    fields = await client.list_fields(bug_reports)

    assert [f["Name"] for f in fields][:3] == ["PK_ID", "ReportID", "Title"]
    assert fields[5]["ListField"] == {"1": "Web Portal", "2": "Mobile App"}


async def test_client_works_against_the_emulator_on_a_loopback_port(emulator_app):
    async with served(emulator_app) as base_url:
        checked = SpecCheckedTransport(
            httpx.AsyncHTTPTransport(), OpenAPI.from_dict(caspio_spec(base_url))
        )
        async with CaspioClient(
            base_url, CLIENT_ID, CLIENT_SECRET, transport=checked
        ) as client:
            emulator_app.state.emulator.create_table("BugReports", bug_report_fields())
            created = await client.insert_record("BugReports", {"Title": "Crash"})
            found = [r async for r in client.list_records("BugReports")]

    assert found == [created]
    assert checked.checked == 2
