"""Jira Server / Data Center: the connector speaks REST v2 with a personal access token,
wiki markup and user names, against the emulator in its server mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from caspira_hookspecs import (
    Flow,
    IssueComment,
    IssueDraft,
    IssueRef,
    PluginContext,
    RemoteError,
    User,
    WebhookRequest,
)
from caspira_jira import (
    TEXT_LIMIT,
    JiraPlugin,
    JiraSettings,
    jira_length,
    text_to_wiki,
    wiki_to_text,
)
from caspira_jira.emulator import EmulatedJira, create_app
from tests.jira.conftest import SITE, TOKEN, TOKEN_ENV, Receiver, SpecCheckingTransport

pytestmark = pytest.mark.anyio

API = "/rest/api/2"
SECRET = "server-secret"


@pytest.fixture
def server_app() -> Starlette:
    return create_app(deployment="server")


@pytest.fixture
def server_site(server_app: Starlette) -> EmulatedJira:
    return server_app.state.emulator


@pytest.fixture
def recorder(server_app: Starlette) -> SpecCheckingTransport:
    # Jira Server has no machine-readable description here: record, do not check.
    return SpecCheckingTransport(httpx.ASGITransport(app=server_app), None)


@pytest.fixture
async def server_plugin(
    recorder: SpecCheckingTransport,
) -> AsyncIterator[JiraPlugin]:
    settings = JiraSettings(
        site=SITE,
        api_token_env=TOKEN_ENV,
        deployment="server",
        webhook_secret_env="JIRA_WEBHOOK_SECRET",
    )
    plugin = JiraPlugin(
        PluginContext(
            settings=settings,
            secrets={TOKEN_ENV: TOKEN, "JIRA_WEBHOOK_SECRET": SECRET},
            transports={"jira": recorder},
        )
    )
    yield plugin
    await plugin.aclose()


@pytest.fixture
async def as_priya(recorder: SpecCheckingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{SITE}{API}",
        headers={"Authorization": "Bearer priya.nair-token"},
        transport=recorder,
    ) as client:
        yield client


def draft(**overrides: Any) -> IssueDraft:
    values: dict[str, Any] = {
        "flow": "bugs",
        "record_id": "123",
        "project": "APP",
        "issue_type": "Bug",
        "summary": "Checkout button does nothing",
        "description": "Steps:\n1. Apply *SPRING10*\n\nExpected: [payment] page",
        "fields": {"priority": "High", "QA Contact": "lena.kowalczyk@example.com"},
        "assignee_email": "dana.whitfield@example.com",
        "idempotency_key": "bugs-123",
    }
    values.update(overrides)
    return IssueDraft(**values)


def sent(recorder: SpecCheckingTransport, method: str, path: str) -> list[Any]:
    return [e.body for e in recorder.exchanges if (e.method, e.path) == (method, path)]


# --- The emulator in server mode ------------------------------------------------------


async def test_server_emulator_answers_v2_and_not_v3(
    recorder: SpecCheckingTransport,
) -> None:
    async with httpx.AsyncClient(
        base_url=SITE,
        headers={"Authorization": f"Bearer {TOKEN}"},
        transport=recorder,
    ) as client:
        v2 = await client.get(f"{API}/myself")
        v3 = await client.get("/rest/api/3/myself")

    assert v2.json()["name"] == "caspira-bot"
    assert v3.status_code == 404


async def test_server_emulator_refuses_basic_credentials(
    recorder: SpecCheckingTransport,
) -> None:
    async with httpx.AsyncClient(
        base_url=SITE, auth=("caspira-bot@example.com", TOKEN), transport=recorder
    ) as client:
        answer = await client.get(f"{API}/myself")

    assert answer.status_code == 401
    assert "Bearer" in answer.json()["errorMessages"][0]


async def test_a_persons_personal_access_token_signs_them_in(
    as_priya: httpx.AsyncClient,
) -> None:
    me = (await as_priya.get("/myself")).json()

    assert (me["name"], me["key"], me["displayName"]) == (
        "priya.nair",
        "priya.nair",
        "Priya Nair",
    )
    assert "accountId" not in me


async def test_server_emulator_refuses_adf_in_a_rich_text_field(
    as_priya: httpx.AsyncClient,
) -> None:
    body = {
        "fields": {
            "project": {"key": "APP"},
            "issuetype": {"id": "10004"},
            "summary": "x",
            "description": {"type": "doc", "version": 1, "content": []},
        }
    }

    answer = await as_priya.post("/issue", json=body)

    assert answer.status_code == 400
    assert "wiki markup" in answer.json()["errors"]["description"]


async def test_server_emulator_refuses_wiki_markup_longer_than_jira_holds(
    as_priya: httpx.AsyncClient,
) -> None:
    body = {
        "fields": {
            "project": {"key": "APP"},
            "issuetype": {"id": "10004"},
            "summary": "x",
            "description": "\\*" * 16_384,
        }
    }

    answer = await as_priya.post("/issue", json=body)

    assert answer.status_code == 400
    assert "32,767" in answer.json()["errors"]["description"]


# --- The connector in server mode -----------------------------------------------------


async def test_description_is_cut_so_its_escaped_wiki_markup_fits(
    server_plugin: JiraPlugin, flow: Flow, server_site: EmulatedJira
) -> None:
    details = "Stack: *frame* [0x1f] -> {handler}\n" * 1_200

    await server_plugin.create_issue(draft(description=details), flow)

    stored = server_site.issue("APP-1").fields["description"]
    assert jira_length(stored) <= TEXT_LIMIT
    assert wiki_to_text(stored).endswith("characters more in Caspio record 123]")


async def test_acting_user_is_known_by_name(
    server_plugin: JiraPlugin, flow: Flow
) -> None:
    assert await server_plugin.acting_user(flow) == User(
        name="caspira-bot", email="caspira-bot@example.com", display_name="Caspira Bot"
    )


async def test_user_search_asks_by_username_and_answers_a_named_user(
    server_plugin: JiraPlugin, flow: Flow, recorder: SpecCheckingTransport
) -> None:
    user = await server_plugin.resolve_user("priya.nair@example.com", flow)

    assert user == User(
        name="priya.nair", email="priya.nair@example.com", display_name="Priya Nair"
    )
    (search,) = [e for e in recorder.exchanges if e.path == f"{API}/user/search"]
    assert search.params["username"] == "priya.nair@example.com"


async def test_create_sends_wiki_markup_and_users_by_name(
    server_plugin: JiraPlugin, flow: Flow, recorder: SpecCheckingTransport
) -> None:
    created = await server_plugin.create_issue(draft(), flow)

    assert created.issue == IssueRef(
        key="APP-1", id="10001", url="https://jira.test/browse/APP-1"
    )
    (body,) = sent(recorder, "POST", f"{API}/issue")
    fields = body["fields"]
    assert fields["description"] == (
        "Steps:\n1. Apply \\*SPRING10\\*\n\nExpected: \\[payment\\] page"
    )
    assert fields["assignee"] == {"name": "dana.whitfield"}
    assert fields["customfield_10047"] == {"name": "lena.kowalczyk"}
    assert fields["priority"] == {"name": "High"}


async def test_create_reads_the_create_screen_the_v2_way(
    server_plugin: JiraPlugin, flow: Flow, recorder: SpecCheckingTransport
) -> None:
    await server_plugin.create_issue(draft(), flow)

    meta = [e.path for e in recorder.exchanges if "createmeta" in e.path]
    assert meta == [
        f"{API}/issue/createmeta/APP/issuetypes",
        f"{API}/issue/createmeta/APP/issuetypes/10004",
    ]


async def test_update_sends_the_changed_values(
    server_plugin: JiraPlugin, flow: Flow, server_site: EmulatedJira
) -> None:
    created = await server_plugin.create_issue(draft(), flow)

    await server_plugin.update_issue(
        created.issue, draft(description="Now *worse*."), flow
    )

    assert server_site.issue("APP-1").fields["description"] == "Now \\*worse\\*."


async def test_find_issue_pages_by_start_at_until_the_total(
    server_plugin: JiraPlugin,
    flow: Flow,
    server_site: EmulatedJira,
    recorder: SpecCheckingTransport,
) -> None:
    first = await server_plugin.create_issue(draft(), flow)
    await server_plugin.create_issue(draft(), flow)
    server_site.search_page_size = 1

    found = await server_plugin.find_issue(draft(), flow)

    assert found == first.issue
    pages = sent(recorder, "POST", f"{API}/search")
    assert [page["startAt"] for page in pages] == [0, 1]


async def test_transition_needs_and_takes_the_resolution(
    server_plugin: JiraPlugin, flow: Flow, server_site: EmulatedJira
) -> None:
    created = await server_plugin.create_issue(draft(), flow)

    await server_plugin.transition_issue(created.issue, "In Progress", flow, {})
    reached = await server_plugin.transition_issue(
        created.issue, "Done", flow, {"Resolution": "Fixed"}
    )

    assert reached == "Done"
    assert server_site.issue("APP-1").fields["resolution"]["name"] == "Fixed"


async def test_comment_is_posted_as_wiki_markup(
    server_plugin: JiraPlugin, flow: Flow, server_site: EmulatedJira
) -> None:
    created = await server_plugin.create_issue(draft(), flow)
    comment = IssueComment(
        source="caspio", record_id="123", comment_id="9", body="Seen on *iPad*."
    )

    answer = await server_plugin.add_issue_comment(created.issue, comment, flow)

    (posted,) = server_site.issue("APP-1").comments
    assert answer == posted.id
    assert posted.body == "Seen on \\*iPad\\*."


# --- Webhooks the Server way ----------------------------------------------------------


async def register(client: httpx.AsyncClient, url: str) -> None:
    answer = await client.post(
        f"{SITE}/rest/webhooks/1.0/webhook",
        json={
            "name": "caspira",
            "url": url,
            "events": ["jira:issue_updated", "comment_created"],
            "secret": SECRET,
        },
    )
    assert answer.status_code == 201


async def parsed(plugin: JiraPlugin, receiver: Receiver) -> list[dict[str, Any]]:
    payloads = []
    for delivery in receiver.received:
        request = WebhookRequest(
            path_params={}, headers=delivery.headers, body=delivery.body
        )
        payloads += [event.payload for event in await plugin.receive_webhook(request)]
    return payloads


async def test_server_update_delivery_names_fields_and_users_by_name(
    server_plugin: JiraPlugin,
    flow: Flow,
    server_site: EmulatedJira,
    as_priya: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    await server_plugin.create_issue(draft(fields={"Customer Impact": "Low"}), flow)
    await register(as_priya, receiver.url)

    await as_priya.put(
        "/issue/APP-1", json={"fields": {"customfield_10041": {"value": "High"}}}
    )
    await server_site.drain()

    item = receiver.received[0].json()["changelog"]["items"][0]
    assert "fieldId" not in item
    (payload,) = await parsed(server_plugin, receiver)
    assert payload["actor"] == {
        "account_id": None,
        "name": "priya.nair",
        "email": "priya.nair@example.com",
        "display_name": "Priya Nair",
    }
    assert payload["changes"] == [
        {
            "field_id": "Customer Impact",
            "field": "Customer Impact",
            "from_id": "10100",
            "from_text": "Low",
            "to_id": "10102",
            "to_text": "High",
        }
    ]


async def test_server_comment_delivery_carries_wiki_text_read_back_as_plain(
    server_plugin: JiraPlugin,
    flow: Flow,
    server_site: EmulatedJira,
    as_priya: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    await server_plugin.create_issue(draft(), flow)
    await register(as_priya, receiver.url)

    await as_priya.post(
        "/issue/APP-1/comment", json={"body": text_to_wiki("Fixed in 4.1.1 - [x]")}
    )
    await server_site.drain()

    assert receiver.received[0].json()["comment"]["body"] == (
        "Fixed in 4.1.1 \\- \\[x\\]"
    )
    (payload,) = await parsed(server_plugin, receiver)
    assert payload["body"] == "Fixed in 4.1.1 - [x]"
    assert payload["author"]["name"] == "priya.nair"


# --- Settings -------------------------------------------------------------------------


def test_server_settings_need_no_email() -> None:
    settings = JiraSettings(site=SITE, api_token_env=TOKEN_ENV, deployment="server")

    assert (settings.email, settings.account) == (
        None,
        "the account of the token in JIRA_API_TOKEN",
    )


def test_cloud_settings_without_email_are_refused() -> None:
    with pytest.raises(ValueError, match="email is missing"):
        JiraSettings(site=SITE, api_token_env=TOKEN_ENV)


async def test_a_refused_token_names_its_environment_variable(
    server_plugin: JiraPlugin, flow: Flow, server_site: EmulatedJira
) -> None:
    server_site.bot.token = "rotated"

    with pytest.raises(RemoteError) as caught:
        await server_plugin.acting_user(flow)

    assert caught.value.status == 401
    assert caught.value.detail.startswith(
        "Jira refused the credentials of the account of the token in JIRA_API_TOKEN"
    )
    assert caught.value.detail.endswith(
        "Fix: check the personal access token in the environment variable "
        "JIRA_API_TOKEN"
    )
