"""The emulator as people use it: each seeded person signs in with a token of their
own, moves issues through the workflow, and writes, edits and removes comments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from caspira_jira import text_to_adf
from caspira_jira.emulator import EmulatedJira
from tests.jira.conftest import SITE, SpecCheckingTransport

pytestmark = pytest.mark.anyio

PRIYA = "712020:5b0c8d2e-aaaa-4bbb-8ccc-0d1e2f3a4b5c"
BOT = "712020:c0ffee00-0b07-4bbb-8ccc-000000000001"


@pytest.fixture
async def priya(transport: SpecCheckingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{SITE}/rest/api/3",
        auth=("priya.nair@example.com", "priya.nair-token"),
        transport=transport,
    ) as client:
        yield client


@pytest.fixture
async def key(jira: httpx.AsyncClient) -> str:
    body = {
        "fields": {
            "project": {"key": "APP"},
            "issuetype": {"id": "10004"},
            "summary": "Checkout button does nothing",
        }
    }
    return str((await jira.post("/issue", json=body)).json()["key"])


async def move(
    client: httpx.AsyncClient, key: str, transition: str, **fields: Any
) -> httpx.Response:
    body: dict[str, Any] = {"transition": {"id": transition}}
    if fields:
        body["fields"] = fields
    return await client.post(f"/issue/{key}/transitions", json=body)


# --- People ---------------------------------------------------------------------------


async def test_a_person_signs_in_with_the_local_part_of_the_address_and_token(
    priya: httpx.AsyncClient,
) -> None:
    me = (await priya.get("/myself")).json()

    assert (me["accountId"], me["displayName"]) == (PRIYA, "Priya Nair")


async def test_a_person_with_another_persons_token_is_refused(
    transport: SpecCheckingTransport,
) -> None:
    async with httpx.AsyncClient(
        base_url=SITE,
        auth=("priya.nair@example.com", "dana.whitfield-token"),
        transport=transport,
    ) as client:
        answer = await client.get("/rest/api/3/myself")

    assert answer.status_code == 401


async def test_a_deactivated_person_cannot_sign_in(
    transport: SpecCheckingTransport,
) -> None:
    async with httpx.AsyncClient(
        base_url=SITE,
        auth=("sam.patel@example.com", "sam.patel-token"),
        transport=transport,
    ) as client:
        answer = await client.get("/rest/api/3/myself")

    assert answer.status_code == 401


async def test_what_a_person_does_is_recorded_as_theirs(
    priya: httpx.AsyncClient, site: EmulatedJira, key: str
) -> None:
    await priya.post(f"/issue/{key}/comment", json={"body": text_to_adf("Mine.")})

    (comment,) = site.issue(key).comments
    assert comment.author == PRIYA


# --- Workflow -------------------------------------------------------------------------


async def test_transitions_offer_their_screens_fields_when_expanded(
    jira: httpx.AsyncClient, key: str
) -> None:
    await move(jira, key, "21")

    plain = (await jira.get(f"/issue/{key}/transitions")).json()["transitions"]
    expanded = (
        await jira.get(
            f"/issue/{key}/transitions", params={"expand": "transitions.fields"}
        )
    ).json()["transitions"]

    assert [(t["name"], t["to"]["name"]) for t in plain] == [
        ("Stop Progress", "To Do"),
        ("Done", "Done"),
    ]
    assert all("fields" not in t for t in plain)
    resolution = expanded[1]["fields"]["resolution"]
    assert resolution["required"] is True
    assert [v["name"] for v in resolution["allowedValues"]] == [
        "Fixed",
        "Won't Do",
        "Duplicate",
    ]


async def test_done_without_a_resolution_is_refused(
    jira: httpx.AsyncClient, key: str
) -> None:
    await move(jira, key, "21")

    answer = await move(jira, key, "31")

    assert answer.status_code == 400
    assert answer.json()["errors"] == {"resolution": "Resolution is required."}


async def test_done_with_a_resolution_stores_it(
    jira: httpx.AsyncClient, site: EmulatedJira, key: str
) -> None:
    await move(jira, key, "21")

    answer = await move(jira, key, "31", resolution={"name": "Duplicate"})

    assert answer.status_code == 204
    issue = (await jira.get(f"/issue/{key}")).json()["fields"]
    assert issue["status"]["name"] == "Done"
    assert issue["resolution"]["name"] == "Duplicate"


async def test_a_field_off_the_transition_screen_is_refused(
    jira: httpx.AsyncClient, key: str
) -> None:
    answer = await move(jira, key, "21", resolution={"name": "Fixed"})

    assert answer.status_code == 400
    assert "not on the appropriate screen" in answer.json()["errors"]["resolution"]


async def test_reopening_clears_the_resolution(
    jira: httpx.AsyncClient, site: EmulatedJira, key: str
) -> None:
    await move(jira, key, "21")
    await move(jira, key, "31", resolution={"name": "Fixed"})

    await move(jira, key, "41")

    assert site.issue(key).status.name == "In Progress"
    assert "resolution" not in site.issue(key).fields


async def test_a_deleted_issue_is_gone(jira: httpx.AsyncClient, key: str) -> None:
    deleted = await jira.delete(f"/issue/{key}")

    assert deleted.status_code == 204
    assert (await jira.get(f"/issue/{key}")).status_code == 404


# --- Comments -------------------------------------------------------------------------


async def test_a_comment_is_read_by_its_id(jira: httpx.AsyncClient, key: str) -> None:
    added = await jira.post(f"/issue/{key}/comment", json={"body": text_to_adf("A")})

    read = await jira.get(f"/issue/{key}/comment/{added.json()['id']}")

    assert read.json()["body"] == text_to_adf("A")


async def test_an_edited_comment_names_who_edited_it(
    jira: httpx.AsyncClient, priya: httpx.AsyncClient, key: str
) -> None:
    added = await jira.post(f"/issue/{key}/comment", json={"body": text_to_adf("A")})
    path = f"/issue/{key}/comment/{added.json()['id']}"

    edited = await priya.put(path, json={"body": text_to_adf("B")})

    assert edited.status_code == 200
    assert edited.json()["body"] == text_to_adf("B")
    assert edited.json()["author"]["accountId"] == BOT
    assert edited.json()["updateAuthor"]["accountId"] == PRIYA


async def test_a_removed_comment_is_gone(jira: httpx.AsyncClient, key: str) -> None:
    added = await jira.post(f"/issue/{key}/comment", json={"body": text_to_adf("A")})
    path = f"/issue/{key}/comment/{added.json()['id']}"

    removed = await jira.delete(path)

    assert removed.status_code == 204
    assert (await jira.get(path)).status_code == 404


async def test_an_empty_comment_is_refused(jira: httpx.AsyncClient, key: str) -> None:
    empty = {"type": "doc", "version": 1, "content": []}

    answer = await jira.post(f"/issue/{key}/comment", json={"body": empty})

    assert answer.status_code == 400
    assert answer.json()["errors"] == {"comment": "Comment body can not be empty!"}
