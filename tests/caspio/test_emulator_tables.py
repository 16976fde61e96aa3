"""The emulator's table endpoints, and the spec check every exchange goes through."""

from __future__ import annotations

import json

import httpx
import pytest
from openapi_core.validation.response.exceptions import InvalidData

from tests.caspio.conftest import (
    ACCOUNT_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    bug_report_fields,
    check_exchange,
)
from tests.conftest import CASES

pytestmark = pytest.mark.anyio


async def test_tables_lists_created_tables(api, bug_reports):
    answer = await api.get("/tables")

    assert answer.json() == {"Result": ["BugReports"]}


async def test_fields_describe_the_table_like_the_case_file(api, bug_reports):
    described = json.loads((CASES / "caspio-fields-bugreports.json").read_text())

    answer = await api.get("/tables/BugReports/fields")

    keys = ("Name", "Type", "Unique", "Editable")
    assert [{k: f[k] for k in keys} for f in answer.json()["Result"]] == described[
        "Result"
    ]


async def test_list_field_answers_its_choices_by_id(api, bug_reports):
    answer = await api.get("/tables/BugReports/fields")

    [product] = [f for f in answer.json()["Result"] if f["Name"] == "Product"]
    assert product["ListField"] == {"1": "Web Portal", "2": "Mobile App"}


async def test_creating_a_table_twice_is_refused(api, bug_reports):
    answer = await api.post(
        "/tables", json={"Name": "BugReports", "Fields": bug_report_fields()}
    )

    assert (answer.status_code, answer.json()["Code"]) == (
        400,
        "IncorrectBodyParameter",
    )


async def test_generated_field_must_be_unique(api):
    answer = await api.post(
        "/tables",
        json={"Name": "Tickets", "Fields": [{"Name": "Ref", "Type": "GUID"}]},
    )

    assert answer.status_code == 400
    assert "Unique = true" in answer.json()["Message"]


async def test_unsupported_field_type_is_refused(api):
    answer = await api.post(
        "/tables",
        json={"Name": "Tickets", "Fields": [{"Name": "Photo", "Type": "IMAGE"}]},
    )

    assert answer.status_code == 400
    assert "IMAGE" in answer.json()["Message"]


async def test_fields_of_an_unknown_table_are_not_found(api):
    answer = await api.get("/tables/Nope/fields")

    assert (answer.status_code, answer.json()["Code"]) == (404, "ObjectNotFound")


async def test_unknown_resource_is_not_found_in_caspio_shape(emulator_app, emulator):
    # Not in Caspio's description at all, so this one exchange goes unchecked.
    token = emulator.grant(CLIENT_ID, CLIENT_SECRET)["access_token"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(emulator_app), base_url=ACCOUNT_URL
    ) as http:
        answer = await http.get(
            "/integrations/rest/v3/reports",
            headers={"Authorization": f"Bearer {token}"},
        )

    assert (answer.status_code, answer.json()["Code"]) == (404, "ObjectNotFound")


async def test_state_dump_shows_records_for_tests_and_demos(
    emulator_app, client, bug_reports
):
    await client.insert_record(bug_reports, {"Title": "Crash"})

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(emulator_app), base_url=ACCOUNT_URL
    ) as http:
        dump = (await http.get("/_emulator/state")).json()

    assert dump["tables"]["BugReports"]["records"][0]["Title"] == "Crash"


def test_spec_check_refuses_an_answer_the_description_forbids(caspio_openapi):
    request = httpx.Request(
        "GET",
        f"{ACCOUNT_URL}/integrations/rest/v3/tables",
        headers={"Authorization": "Bearer token"},
    )
    response = httpx.Response(200, json={"Result": [1, 2]}, request=request)

    with pytest.raises(InvalidData):
        check_exchange(caspio_openapi, request, response)


async def test_spec_check_saw_every_api_exchange(api, caspio_transport, bug_reports):
    await api.get("/tables")
    await api.get("/tables/BugReports/fields")

    assert caspio_transport.checked == 3
