"""The emulator's records endpoints: selection, filters, order, pages, writes.

Every exchange is checked against Caspio's OpenAPI description by the ``api`` fixture.
"""

from __future__ import annotations

import pytest

from caspira_caspio.emulator import MAX_REQUEST_URI

pytestmark = pytest.mark.anyio

TASKS = [
    {"Name": "Order laptops", "Done": True, "Due": "2026-03-01T09:00:00",
     "Points": 3, "Tags": ["Hardware"]},
    {"Name": "Grant VPN to O'Brien", "Done": False, "Due": "2026-02-01T17:30:00",
     "Points": 1, "Tags": ["Access", "Software"]},
    {"Name": "Renew licences", "Done": False, "Due": None,
     "Points": 5, "Tags": None},
    {"Name": "order cables", "Done": True, "Due": "2026-01-15T08:00:00",
     "Points": 2.5, "Tags": ["Hardware"]},
]  # fmt: skip


@pytest.fixture
async def tasks(api):
    fields = [
        {"Name": "Name", "Type": "STRING"},
        {"Name": "Done", "Type": "YES/NO"},
        {"Name": "Due", "Type": "DATE/TIME"},
        {"Name": "Points", "Type": "NUMBER"},
        {
            "Name": "Tags",
            "Type": "LIST-STRING",
            "ListField": ["Hardware", "Software", "Access"],
        },
    ]
    created = await api.post("/tables", json={"Name": "Tasks", "Fields": fields})
    assert created.status_code == 201
    for task in TASKS:
        inserted = await api.post("/tables/Tasks/records", json=task)
        assert inserted.status_code == 201
    return "/tables/Tasks/records"


async def names(api, path: str, **params: str) -> list[str]:
    answer = await api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return [record["Name"] for record in answer.json()["Result"]]


def error_of(answer) -> tuple[int, str]:
    return answer.status_code, answer.json()["Code"]


async def test_records_come_back_with_every_field(api, tasks):
    answer = await api.get(tasks, params={"q.where": "PK_ID=2"})

    assert answer.json() == {
        "Result": [
            {
                "PK_ID": 2,
                "Name": "Grant VPN to O'Brien",
                "Done": False,
                "Due": "2026-02-01T17:30:00",
                "Points": 1,
                "Tags": {"2": "Software", "3": "Access"},
            }
        ]
    }


async def test_select_answers_only_the_named_fields(api, tasks):
    answer = await api.get(tasks, params={"q.select": "PK_ID, Name", "q.limit": "1"})

    assert answer.json()["Result"] == [{"PK_ID": 1, "Name": "Order laptops"}]


async def test_where_reads_doubled_quotes_inside_strings(api, tasks):
    found = await names(api, tasks, **{"q.where": "Name='Grant VPN to O''Brien'"})

    assert found == ["Grant VPN to O'Brien"]


async def test_where_compares_strings_without_regard_to_case(api, tasks):
    found = await names(api, tasks, **{"q.where": "Name='ORDER CABLES'"})

    assert found == ["order cables"]


async def test_where_combines_conditions_with_and(api, tasks):
    found = await names(api, tasks, **{"q.where": "Done=1 AND Points>2.5"})

    assert found == ["Order laptops"]


async def test_where_combines_conditions_with_or_and_not(api, tasks):
    found = await names(
        api, tasks, **{"q.where": "NOT (Done=1) OR (Points >= 2.5 AND Done=1)"}
    )

    assert found == [
        "Order laptops",
        "Grant VPN to O'Brien",
        "Renew licences",
        "order cables",
    ]


async def test_where_finds_values_in_a_list(api, tasks):
    found = await names(api, tasks, **{"q.where": "PK_ID IN (1, 3, 99)"})

    assert found == ["Order laptops", "Renew licences"]


async def test_where_matches_like_patterns(api, tasks):
    found = await names(api, tasks, **{"q.where": "Name LIKE 'order%'"})

    assert found == ["Order laptops", "order cables"]


async def test_where_matches_one_character_with_underscore(api, tasks):
    found = await names(api, tasks, **{"q.where": "Name NOT LIKE '_rder%'"})

    assert found == ["Grant VPN to O'Brien", "Renew licences"]


async def test_where_compares_yes_no_as_zero(api, tasks):
    found = await names(api, tasks, **{"q.where": "Done=0"})

    assert found == ["Grant VPN to O'Brien", "Renew licences"]


async def test_where_compares_dates_written_without_zone(api, tasks):
    found = await names(api, tasks, **{"q.where": "Due < '2026-02-15T00:00:00'"})

    assert found == ["Grant VPN to O'Brien", "order cables"]


async def test_where_finds_missing_values_with_is_null(api, tasks):
    found = await names(api, tasks, **{"q.where": "Due IS NULL"})

    assert found == ["Renew licences"]


async def test_where_never_matches_null_by_comparison(api, tasks):
    found = await names(api, tasks, **{"q.where": "Due <> '2026-03-01T09:00:00'"})

    assert found == ["Grant VPN to O'Brien", "order cables"]


async def test_where_matches_a_list_field_by_any_chosen_text(api, tasks):
    found = await names(api, tasks, **{"q.where": "Tags='Access'"})

    assert found == ["Grant VPN to O'Brien"]


async def test_where_with_an_unknown_field_is_a_sql_error(api, tasks):
    answer = await api.get(tasks, params={"q.where": "Owner='me'"})

    assert error_of(answer) == (400, "SqlServerError")
    assert "Owner" in answer.json()["Message"]


async def test_where_with_broken_syntax_is_a_sql_error(api, tasks):
    answer = await api.get(tasks, params={"q.where": "Name='unterminated"})

    assert error_of(answer) == (400, "SqlServerError")


async def test_order_by_sorts_descending_with_null_last(api, tasks):
    found = await names(api, tasks, **{"q.orderBy": "Due DESC"})

    assert found == [
        "Order laptops",
        "Grant VPN to O'Brien",
        "order cables",
        "Renew licences",
    ]


async def test_order_by_uses_later_fields_to_break_ties(api, tasks):
    found = await names(api, tasks, **{"q.orderBy": "Done, Points DESC"})

    assert found == [
        "Renew licences",
        "Grant VPN to O'Brien",
        "Order laptops",
        "order cables",
    ]


async def test_page_number_and_size_choose_a_page(api, tasks):
    for number in range(8):
        await api.post(tasks, json={"Name": f"Extra {number}"})

    found = await names(api, tasks, **{"q.pageSize": "5", "q.pageNumber": "2"})

    assert found == [f"Extra {number}" for number in range(1, 6)]


@pytest.mark.parametrize("size", ["4", "1001"])
async def test_page_size_outside_5_to_1000_is_refused(api, tasks, size):
    answer = await api.get(tasks, params={"q.pageSize": size})

    assert error_of(answer) == (400, "IncorrectQueryParameter")


async def test_limit_caps_the_answer(api, tasks):
    found = await names(api, tasks, **{"q.limit": "2"})

    assert found == ["Order laptops", "Grant VPN to O'Brien"]


async def test_pagination_info_counts_every_match(api, tasks):
    answer = await api.get(
        tasks,
        params={
            "q.where": "Done=0",
            "q.pageSize": "5",
            "q.getPaginationInfo": "true",
        },
    )

    assert answer.json()["Pagination"] == {
        "TotalCount": 2,
        "PageNumber": 1,
        "PageSize": 5,
    }


async def test_insert_with_response_rows_answers_the_record(api, tasks):
    answer = await api.post(
        tasks, params={"response": "rows"}, json={"Name": "New", "Done": 1}
    )

    assert answer.status_code == 201
    assert answer.json()["Result"] == [
        {"PK_ID": 5, "Name": "New", "Done": True, "Due": None, "Points": None,
         "Tags": None}
    ]  # fmt: skip


async def test_insert_without_response_rows_answers_201_without_body(api, tasks):
    answer = await api.post(tasks, json={"Name": "New"})

    assert (answer.status_code, answer.content) == (201, b"")


async def test_insert_stores_a_zoned_date_in_utc_without_zone(api, tasks):
    answer = await api.post(
        tasks,
        params={"response": "rows"},
        json={"Name": "Zoned", "Due": "2026-01-16T21:52:55+02:00"},
    )

    assert answer.json()["Result"][0]["Due"] == "2026-01-16T19:52:55"


@pytest.mark.parametrize("emulator_options", [{"timezone": "Europe/Berlin"}])
async def test_insert_stores_a_zoned_date_in_the_account_timezone(api, tasks):
    answer = await api.post(
        tasks,
        params={"response": "rows"},
        json={"Name": "Zoned", "Due": "2026-01-16T18:52:55Z"},
    )

    assert answer.json()["Result"][0]["Due"] == "2026-01-16T19:52:55"


async def test_text_field_holds_64000_characters_and_no_more(api):
    fields = [{"Name": "Notes", "Type": "TEXT"}]
    await api.post("/tables", json={"Name": "Journal", "Fields": fields})

    full = await api.post("/tables/Journal/records", json={"Notes": "x" * 64000})
    over = await api.post("/tables/Journal/records", json={"Notes": "x" * 64001})

    assert full.status_code == 201
    assert error_of(over) == (400, "IncorrectBodyParameter")
    assert "64,000" in over.json()["Message"]
    assert len(over.json()["Message"]) < 200


async def test_insert_of_a_text_not_in_the_list_is_refused(api, tasks):
    answer = await api.post(tasks, json={"Name": "New", "Tags": ["Furniture"]})

    assert error_of(answer) == (400, "IncorrectBodyParameter")
    assert "Hardware, Software, Access" in answer.json()["Message"]


async def test_insert_into_pk_id_is_refused(api, tasks):
    answer = await api.post(tasks, json={"PK_ID": 77, "Name": "New"})

    assert error_of(answer) == (400, "IncorrectBodyParameter")


async def test_insert_of_an_unknown_field_is_refused(api, tasks):
    answer = await api.post(tasks, json={"Owner": "me"})

    assert error_of(answer) == (400, "IncorrectBodyParameter")


async def test_update_answers_count_and_rows(api, tasks):
    answer = await api.put(
        tasks,
        params={"q.where": "Done=0", "response": "rows"},
        json={"Points": 8},
    )

    body = answer.json()
    assert body["RecordsAffected"] == 2
    assert [row["Points"] for row in body["Result"]] == [8, 8]


async def test_update_without_response_rows_answers_only_the_count(api, tasks):
    answer = await api.put(tasks, params={"q.where": "PK_ID=1"}, json={"Points": 8})

    assert answer.json() == {"RecordsAffected": 1}


async def test_update_without_where_is_refused(unchecked_api, tasks):
    answer = await unchecked_api.put(tasks, json={"Points": 8})

    assert error_of(answer) == (400, "IncorrectQueryParameter")


async def test_delete_removes_matching_records(api, tasks):
    answer = await api.delete(tasks, params={"q.where": "Done=1"})

    assert answer.json() == {"RecordsAffected": 2}
    assert await names(api, tasks) == ["Grant VPN to O'Brien", "Renew licences"]


async def test_unknown_table_is_not_found(api):
    answer = await api.get("/tables/Nope/records")

    assert error_of(answer) == (404, "ObjectNotFound")


async def test_request_uri_over_2047_characters_is_refused(api, emulator, tasks):
    where = "Name IN (" + ",".join(f"'{n:04}'" for n in range(400)) + ")"

    answer = await api.get(tasks, params={"q.where": where})

    assert len(emulator.calls[-1][1]) > MAX_REQUEST_URI
    assert answer.status_code == 414
    assert answer.json()["Code"] == "RequestUriTooLong"
