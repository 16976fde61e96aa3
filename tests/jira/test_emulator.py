"""The Jira emulator refuses what Jira refuses, with Jira's status and error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from caspira_jira import text_to_adf
from caspira_jira.emulator import EmulatedJira, create_app
from tests.jira.conftest import EMAIL, SITE, SpecCheckingTransport

pytestmark = pytest.mark.anyio


def bug(**fields: Any) -> dict[str, Any]:
    return {
        "fields": {
            "project": {"key": "APP"},
            "issuetype": {"id": "10004"},
            "summary": "Checkout button does nothing",
            **fields,
        }
    }


async def create(jira: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await jira.post("/issue", json=bug(**fields))


async def test_request_without_credentials_is_refused_with_401(
    transport: SpecCheckingTransport,
) -> None:
    async with httpx.AsyncClient(base_url=SITE, transport=transport) as anonymous:
        answer = await anonymous.get("/rest/api/3/field")

    assert answer.status_code == 401
    assert answer.json()["errorMessages"] == [
        "Authentication failed: send Basic credentials, e-mail and API token."
    ]


async def test_request_with_a_wrong_token_is_refused_with_401(
    transport: SpecCheckingTransport,
) -> None:
    async with httpx.AsyncClient(
        base_url=SITE, auth=(EMAIL, "guessed"), transport=transport
    ) as client:
        answer = await client.get("/rest/api/3/myself")

    assert answer.status_code == 401


async def test_create_answers_201_with_id_key_and_self(jira: httpx.AsyncClient) -> None:
    answer = await create(jira)

    assert answer.status_code == 201
    assert answer.json() == {
        "id": "10001",
        "key": "APP-1",
        "self": "https://jira.test/rest/api/3/issue/10001",
    }


async def test_description_as_a_plain_string_is_refused_naming_the_field(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, description="plain text")

    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["description"]


async def test_rich_text_custom_field_as_a_plain_string_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, customfield_10040="iPadOS")

    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["customfield_10040"]


async def test_adf_with_an_empty_text_node_is_refused(jira: httpx.AsyncClient) -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
    }

    answer = await create(jira, description=document)

    assert answer.status_code == 400
    assert "non-empty 'text'" in answer.json()["errors"]["description"]


async def test_summary_longer_than_255_characters_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, summary="x" * 256)

    assert answer.status_code == 400
    assert answer.json() == {
        "errorMessages": [],
        "errors": {"summary": "The summary must be shorter than 256 characters."},
    }


async def test_summary_counts_an_emoji_as_two_units_as_jira_does(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, summary="\N{GRINNING FACE}" * 128)

    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["summary"]


async def test_summary_of_255_units_with_emoji_is_taken(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, summary="\N{GRINNING FACE}" * 127 + "x")

    assert answer.status_code == 201


async def test_description_longer_than_jira_holds_is_refused_naming_the_field(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, description=text_to_adf("x" * 32_768))

    assert answer.status_code == 400
    assert answer.json() == {
        "errorMessages": [],
        "errors": {
            "description": "The text is too long: Jira holds at most 32,767 "
            "characters here and this one has 32,768."
        },
    }


async def test_description_of_exactly_the_limit_is_taken(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, description=text_to_adf("x" * 32_767))

    assert answer.status_code == 201


async def test_paragraph_custom_field_longer_than_jira_holds_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(
        jira, customfield_10040=text_to_adf("\N{GRINNING FACE}" * 16_384)
    )

    assert answer.status_code == 400
    assert "32,767" in answer.json()["errors"]["customfield_10040"]


async def test_text_field_counts_an_emoji_as_two_units(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, customfield_10042="\N{GRINNING FACE}" * 128)

    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["customfield_10042"]


async def test_edit_with_null_and_an_empty_list_empties_the_fields(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    await create(
        jira,
        components=[{"name": "API"}],
        customfield_10041={"value": "High"},
        customfield_10042="dana.whitfield@example.com",
    )
    emptied = {"components": [], "customfield_10041": None, "customfield_10042": None}

    answer = await jira.put("/issue/APP-1", json={"fields": emptied})

    assert answer.status_code == 204
    read = await jira.get("/issue/APP-1", params={"fields": "components"})
    assert read.json()["fields"]["components"] == []
    assert not set(emptied) & set(site.issue("APP-1").fields)


async def test_summary_with_a_line_break_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await create(jira, summary="Checkout\nfails")

    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "summary": "The summary cannot contain line breaks."
    }


async def test_unknown_field_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await create(jira, customfield_99999="x")

    assert answer.status_code == 400
    assert "customfield_99999" in answer.json()["errors"]


async def test_field_not_on_the_screen_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await create(jira, customfield_10049=text_to_adf("internal"))

    assert answer.status_code == 400
    assert answer.json()["errors"]["customfield_10049"].endswith(
        "not on the screen of issue type Bug."
    )


async def test_select_value_not_allowed_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await create(jira, customfield_10041={"value": "Severe"})

    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "customfield_10041": "'Severe' is not a valid option of 'Customer Impact'."
    }


async def test_label_with_a_space_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await create(jira, labels=["from caspio"])

    assert answer.status_code == 400
    assert "contains spaces" in answer.json()["errors"]["labels"]


async def test_unknown_priority_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await create(jira, priority={"name": "Urgent"})

    assert answer.status_code == 400
    assert answer.json()["errors"] == {"priority": "'Urgent' is not a valid priority."}


async def test_unknown_component_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await create(jira, components=[{"name": "Desktop"}])

    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "components": "'Desktop' is not a valid component of project APP."
    }


async def test_deactivated_assignee_is_refused(jira: httpx.AsyncClient) -> None:
    sam = "712020:4d5e6f70-5555-4aaa-9bbb-6c7d8e9fa0b1"

    answer = await create(jira, assignee={"accountId": sam})

    assert answer.status_code == 400
    assert "assignee" in answer.json()["errors"]


async def test_every_refused_field_is_named_in_one_answer(
    jira: httpx.AsyncClient,
) -> None:
    answer = await create(jira, description="plain", labels=["a b"], duedate="30/11")

    assert sorted(answer.json()["errors"]) == ["description", "duedate", "labels"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_removed_search_api_answers_410(
    jira: httpx.AsyncClient, method: str
) -> None:
    if method == "GET":
        answer = await jira.get("/search", params={"jql": "project = APP"})
    else:
        answer = await jira.post("/search", json={"jql": "project = APP"})

    assert answer.status_code == 410
    assert "/rest/api/3/search/jql" in answer.json()["errorMessages"][0]


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_unknown_issue_answers_404(jira: httpx.AsyncClient, method: str) -> None:
    body = {"fields": {"summary": "x"}} if method == "PUT" else None

    answer = await jira.request(method, "/issue/APP-404", json=body)

    assert answer.status_code == 404
    assert answer.json() == {
        "errorMessages": ["The issue does not exist or you cannot see it."],
        "errors": {},
    }


async def test_edit_answers_204_and_changes_the_issue(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    await create(jira)

    answer = await jira.put("/issue/APP-1", json={"fields": {"summary": "Renamed"}})

    assert answer.status_code == 204
    assert site.issue("APP-1").fields["summary"] == "Renamed"


async def test_field_in_both_fields_and_update_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira)
    body = {"fields": {"labels": ["a"]}, "update": {"labels": [{"add": "b"}]}}

    answer = await jira.put("/issue/APP-1", json=body)

    assert answer.status_code == 400
    assert "both 'fields' and 'update'" in answer.json()["errors"]["labels"]


async def test_label_operations_add_and_remove_single_labels(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    await create(jira, labels=["one", "two"])
    update = {"labels": [{"add": "three"}, {"remove": "one"}, {"add": "two"}]}

    await jira.put("/issue/APP-1", json={"update": update})

    assert site.issue("APP-1").fields["labels"] == ["two", "three"]


async def test_search_answers_ids_only_unless_fields_are_asked(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira)

    bare = await jira.post("/search/jql", json={"jql": "project = APP"})
    asked = await jira.post(
        "/search/jql", json={"jql": "project = APP", "fields": ["summary"]}
    )

    assert bare.json() == {"issues": [{"id": "10001"}], "isLast": True}
    (issue,) = asked.json()["issues"]
    assert (issue["key"], issue["fields"]) == (
        "APP-1",
        {"summary": "Checkout button does nothing"},
    )


async def test_search_pages_with_next_page_token_until_is_last(
    jira: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await create(jira, labels=["caspira-x"])
    query = {"jql": 'labels = "caspira-x"', "maxResults": 2}

    first = (await jira.post("/search/jql", json=query)).json()
    token = first["nextPageToken"]
    second = await jira.post("/search/jql", json={**query, "nextPageToken": token})

    assert (first["issues"], first["isLast"]) == (
        [{"id": "10001"}, {"id": "10002"}],
        False,
    )
    assert second.json() == {"issues": [{"id": "10003"}], "isLast": True}


async def test_search_by_get_reads_fields_from_the_query_string(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira)

    answer = await jira.get(
        "/search/jql", params={"jql": "key = APP-1", "fields": "summary,status"}
    )

    (issue,) = answer.json()["issues"]
    assert sorted(issue["fields"]) == ["status", "summary"]


async def test_search_with_a_token_of_another_query_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        await create(jira)
    first = await jira.post(
        "/search/jql", json={"jql": "project = APP", "maxResults": 1}
    )
    token = first.json()["nextPageToken"]

    answer = await jira.post(
        "/search/jql", json={"jql": "project = OPS", "nextPageToken": token}
    )

    assert answer.status_code == 400


async def test_search_without_a_restriction_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await jira.post("/search/jql", json={"jql": "ORDER BY created DESC"})

    assert answer.status_code == 400
    assert "Unbounded" in answer.json()["errorMessages"][0]


async def test_search_with_jql_it_cannot_read_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    answer = await jira.post("/search/jql", json={"jql": 'labels = "unclosed'})

    assert answer.status_code == 400
    assert answer.json()["errorMessages"][0].startswith("Error in the JQL query")


async def test_search_on_an_unknown_field_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await jira.post("/search/jql", json={"jql": "flavour = vanilla"})

    assert answer.status_code == 400
    assert "'flavour' does not exist" in answer.json()["errorMessages"][0]


async def test_search_combines_clauses_and_orders_the_issues(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira, priority={"name": "High"}, labels=["web"])
    await create(jira, priority={"name": "Low"}, labels=["web"])
    await create(jira, priority={"name": "High"}, labels=["web"])
    jql = "labels = web AND priority in (High, Highest) ORDER BY key DESC"

    answer = await jira.post("/search/jql", json={"jql": jql})

    assert answer.json()["issues"] == [{"id": "10003"}, {"id": "10001"}]


async def test_search_by_custom_field_name_matches_the_option_value(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira, customfield_10041={"value": "High"})
    await create(jira, customfield_10041={"value": "Low"})

    answer = await jira.post("/search/jql", json={"jql": '"Customer Impact" = High'})

    assert answer.json()["issues"] == [{"id": "10001"}]


async def test_create_screen_answers_in_pages(jira: httpx.AsyncClient) -> None:
    answer = await jira.get(
        "/issue/createmeta/APP/issuetypes/10004",
        params={"startAt": 20, "maxResults": 5},
    )

    page = answer.json()
    assert (page["startAt"], page["maxResults"], page["total"]) == (20, 5, 22)
    assert [f["fieldId"] for f in page["fields"]] == [
        "customfield_10048",
        "customfield_10050",
    ]


async def test_create_screen_of_an_unknown_project_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    answer = await jira.get("/issue/createmeta/OPS/issuetypes")

    assert answer.status_code == 400


async def test_create_screen_lists_a_selects_allowed_values(
    jira: httpx.AsyncClient,
) -> None:
    answer = await jira.get("/issue/createmeta/APP/issuetypes/10004")

    (impact,) = [f for f in answer.json()["fields"] if f["name"] == "Customer Impact"]
    assert [v["value"] for v in impact["allowedValues"]] == ["Low", "Medium", "High"]


async def test_user_search_matches_the_start_of_a_name_or_an_address(
    jira: httpx.AsyncClient,
) -> None:
    by_name = await jira.get("/user/search", params={"query": "whit"})
    by_email = await jira.get("/user/search", params={"query": "dana.w"})

    assert [u["displayName"] for u in by_name.json()] == ["Dana Whitfield"]
    assert [u["emailAddress"] for u in by_email.json()] == [
        "dana.whitfield@example.com"
    ]


async def test_user_search_without_a_query_is_refused(jira: httpx.AsyncClient) -> None:
    answer = await jira.get("/user/search")

    assert answer.status_code == 400


async def test_myself_is_the_bot_account(jira: httpx.AsyncClient) -> None:
    answer = await jira.get("/myself")

    assert (answer.json()["emailAddress"], answer.json()["displayName"]) == (
        EMAIL,
        "Caspira Bot",
    )


async def test_project_lists_its_components_and_issue_types(
    jira: httpx.AsyncClient,
) -> None:
    project = (await jira.get("/project/APP")).json()

    assert [c["name"] for c in project["components"]] == [
        "Web Portal",
        "Mobile App",
        "API",
        "Billing",
    ]
    assert [t["name"] for t in project["issueTypes"]] == ["Bug", "Task", "Story"]
    assert project["lead"]["emailAddress"] == "priya.nair@example.com"


async def test_priorities_run_from_highest_to_lowest(jira: httpx.AsyncClient) -> None:
    answer = await jira.get("/priority")

    assert [p["name"] for p in answer.json()] == [
        "Highest",
        "High",
        "Medium",
        "Low",
        "Lowest",
    ]


async def test_issue_reads_back_with_jiras_field_objects(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira, priority={"name": "High"}, customfield_10041={"value": "Low"})

    fields = (await jira.get("/issue/APP-1")).json()["fields"]

    assert fields["priority"]["id"] == "2"
    assert fields["customfield_10041"] == {
        "self": "https://jira.test/rest/api/3/customFieldOption/10100",
        "value": "Low",
        "id": "10100",
    }
    assert fields["status"]["name"] == "To Do"
    assert fields["reporter"]["emailAddress"] == EMAIL


async def test_transitions_move_an_issue_from_to_do_through_in_progress_to_done(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    await create(jira)
    offered = (await jira.get("/issue/APP-1/transitions")).json()["transitions"]

    await jira.post("/issue/APP-1/transitions", json={"transition": {"id": "21"}})
    await jira.post(
        "/issue/APP-1/transitions",
        json={"transition": {"id": "31"}, "fields": {"resolution": {"name": "Fixed"}}},
    )

    assert [t["to"]["name"] for t in offered] == ["In Progress"]
    assert site.issue("APP-1").status.name == "Done"


async def test_transition_not_open_from_the_status_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira)

    answer = await jira.post(
        "/issue/APP-1/transitions", json={"transition": {"id": "11"}}
    )

    assert answer.status_code == 400


async def test_comment_is_added_and_listed(jira: httpx.AsyncClient) -> None:
    await create(jira)

    added = await jira.post("/issue/APP-1/comment", json={"body": text_to_adf("Seen.")})
    listed = await jira.get("/issue/APP-1/comment")

    assert added.status_code == 201
    assert [c["body"] for c in listed.json()["comments"]] == [text_to_adf("Seen.")]


async def test_comment_longer_than_jira_holds_is_refused(
    jira: httpx.AsyncClient,
) -> None:
    await create(jira)

    answer = await jira.post(
        "/issue/APP-1/comment", json={"body": text_to_adf("x" * 32_768)}
    )

    assert answer.status_code == 400
    assert "32,767" in answer.json()["errors"]["comment"]


async def test_comment_as_a_plain_string_is_refused(jira: httpx.AsyncClient) -> None:
    await create(jira)

    answer = await jira.post("/issue/APP-1/comment", json={"body": "Seen."})

    assert answer.status_code == 400


async def test_injected_fault_answers_its_status_with_retry_after(
    jira: httpx.AsyncClient,
) -> None:
    set_up = await jira.post(
        f"{SITE}/_emulator/faults", json={"status": 429, "retry_after": 3}
    )

    refused = await jira.get("/myself")
    after = await jira.get("/myself")

    assert set_up.status_code == 201
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "3")
    assert refused.headers["RateLimit-Reason"] == "jira-burst-based"
    assert after.status_code == 200


async def test_reset_forgets_the_issues(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    await create(jira)

    await jira.post(f"{SITE}/_emulator/reset")

    assert site.issues == {}


async def test_self_links_use_the_base_url_option(jira_openapi: OpenAPI) -> None:
    app = create_app(base_url="https://demo.example.com/")
    transport = SpecCheckingTransport(httpx.ASGITransport(app=app), jira_openapi)
    async with httpx.AsyncClient(
        base_url=SITE, auth=(EMAIL, "caspira-demo-token"), transport=transport
    ) as client:
        answer = await client.get("/rest/api/3/myself")

    assert answer.json()["self"].startswith("https://demo.example.com/rest/api/3/user")


def test_unknown_option_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'colour'.*known: email, api_token"):
        create_app(colour="blue")


def test_unknown_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown seed 'empty'"):
        create_app(seed="empty")


async def test_checking_transport_fails_an_answer_the_description_forbids(
    jira_openapi: OpenAPI,
) -> None:
    async def wrong_myself(request: Any) -> JSONResponse:
        return JSONResponse({"accountId": "x", "accountType": "robot"})

    app = Starlette(routes=[Route("/rest/api/3/myself", wrong_myself)])
    transport = SpecCheckingTransport(httpx.ASGITransport(app=app), jira_openapi)
    async with httpx.AsyncClient(base_url=SITE, transport=transport) as client:
        with pytest.raises(AssertionError, match="breaks the Jira description"):
            await client.get("/rest/api/3/myself")
