"""Jira comments written to Caspio: a row in a comments table, or a block in a field."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from caspira_caspio import CaspioPlugin, CaspioSettings, comment_block
from caspira_hookspecs import (
    CommentSync,
    Flow,
    IssueComment,
    IssueRef,
    MappingError,
    PluginContext,
    RemoteError,
    User,
)
from tests.caspio.conftest import ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.anyio

SETTINGS = CaspioSettings(
    account_url=ACCOUNT_URL,
    client_id_env="CASPIO_CLIENT_ID",
    client_secret_env="CASPIO_CLIENT_SECRET",
)
SECRETS = {"CASPIO_CLIENT_ID": CLIENT_ID, "CASPIO_CLIENT_SECRET": CLIENT_SECRET}
BUGS = Flow(
    name="bugs",
    table="BugReports",
    project="APP",
    comments=CommentSync(table="BugComments"),
)
TICKETS = Flow(
    name="tickets",
    table="Tickets",
    project="OPS",
    comments=CommentSync(field="Comments"),
)
ANN = User(account_id="5b10a2844c20165700ede21g", display_name="Ann Lee")
SEEN_AT = datetime(2026, 1, 16, 19, 52, 55, tzinfo=ZoneInfo("Europe/Berlin"))


def jira_comment(
    body: str = "Reproduced on 4.2.", comment_id: str = "10100", author=ANN
) -> IssueComment:
    return IssueComment(
        issue=IssueRef(key="APP-41", id="10041"),
        comment_id=comment_id,
        body=body,
        author=author,
        occurred_at=SEEN_AT,
    )


@pytest.fixture
async def plugin(caspio_transport):
    connector = CaspioPlugin(
        PluginContext(
            settings=SETTINGS,
            flows={"bugs": BUGS, "tickets": TICKETS},
            secrets=SECRETS,
            transports={"caspio": caspio_transport},
        )
    )
    yield connector
    await connector.aclose()


@pytest.fixture
async def report(client, bug_reports, bug_comments) -> str:
    record = await client.insert_record(bug_reports, {"Title": "Crash"})
    return str(record["PK_ID"])


@pytest.fixture
async def ticket(api, client) -> str:
    answer = await api.post(
        "/tables",
        json={
            "Name": "Tickets",
            "Fields": [
                {"Name": "Title", "Type": "STRING"},
                {"Name": "Comments", "Type": "TEXT"},
            ],
        },
    )
    assert answer.status_code == 201
    record = await client.insert_record("Tickets", {"Title": "Printer jam"})
    return str(record["PK_ID"])


async def rows_of(client, table: str) -> list[dict]:
    return [row async for row in client.list_records(table)]


def test_comment_block_shows_author_and_utc_minute_before_the_body():
    assert comment_block(jira_comment()) == (
        "\n\n[Ann Lee, 2026-01-16 18:52 UTC] Reproduced on 4.2."
    )


def test_comment_block_without_a_time_shows_only_the_author():
    undated = jira_comment().model_copy(update={"occurred_at": None})

    assert comment_block(undated) == "\n\n[Ann Lee] Reproduced on 4.2."


async def test_comment_becomes_a_row_of_the_comments_table(plugin, client, report):
    added = await plugin.add_record_comment(
        comment=jira_comment(), flow=BUGS, record_id=report
    )

    [row] = await rows_of(client, "BugComments")
    assert row == {
        "PK_ID": 1,
        "RecordID": int(report),
        "Body": "Reproduced on 4.2.",
        "Author": "Ann Lee",
    }
    assert added == "1"


async def test_author_without_display_name_is_written_by_email(plugin, client, report):
    by_email = User(account_id="5b10a2844c20165700ede21g", email="ann@example.org")

    await plugin.add_record_comment(
        comment=jira_comment(author=by_email), flow=BUGS, record_id=report
    )

    [row] = await rows_of(client, "BugComments")
    assert row["Author"] == "ann@example.org"


async def test_comments_table_without_author_field_gets_no_author(
    plugin, api, client, bug_reports
):
    await api.post(
        "/tables",
        json={
            "Name": "Notes",
            "Fields": [
                {"Name": "RecordID", "Type": "INTEGER"},
                {"Name": "Body", "Type": "TEXT"},
            ],
        },
    )
    flow = BUGS.model_copy(
        update={"comments": CommentSync(table="Notes", author_field=None)}
    )

    await plugin.add_record_comment(comment=jira_comment(), flow=flow, record_id="7")

    assert await rows_of(client, "Notes") == [
        {"PK_ID": 1, "RecordID": 7, "Body": "Reproduced on 4.2."}
    ]


async def test_record_id_that_is_not_a_pk_id_is_a_mapping_error(plugin, report):
    with pytest.raises(MappingError, match="RecordID"):
        await plugin.add_record_comment(
            comment=jira_comment(), flow=BUGS, record_id="BR-000001"
        )


async def test_first_comment_fills_the_empty_comments_field(plugin, client, ticket):
    added = await plugin.add_record_comment(
        comment=jira_comment(), flow=TICKETS, record_id=ticket
    )

    stored = await client.get_record("Tickets", ticket)
    assert stored["Comments"] == "[Ann Lee, 2026-01-16 18:52 UTC] Reproduced on 4.2."
    assert added == "10100"


async def test_next_comment_is_appended_after_a_blank_line(plugin, client, ticket):
    await plugin.add_record_comment(
        comment=jira_comment(), flow=TICKETS, record_id=ticket
    )

    await plugin.add_record_comment(
        comment=jira_comment("Fixed in 4.3.", comment_id="10101"),
        flow=TICKETS,
        record_id=ticket,
    )

    stored = await client.get_record("Tickets", ticket)
    assert stored["Comments"] == (
        "[Ann Lee, 2026-01-16 18:52 UTC] Reproduced on 4.2.\n\n"
        "[Ann Lee, 2026-01-16 18:52 UTC] Fixed in 4.3."
    )


async def test_repeated_comment_is_not_appended_twice(plugin, client, emulator, ticket):
    await plugin.add_record_comment(
        comment=jira_comment(), flow=TICKETS, record_id=ticket
    )

    again = await plugin.add_record_comment(
        comment=jira_comment(), flow=TICKETS, record_id=ticket
    )

    stored = await client.get_record("Tickets", ticket)
    assert stored["Comments"] == "[Ann Lee, 2026-01-16 18:52 UTC] Reproduced on 4.2."
    assert [method for method, _ in emulator.calls].count("PUT") == 1
    assert again == "10100"


async def test_comment_for_a_deleted_record_names_table_and_record(plugin, ticket):
    with pytest.raises(RemoteError, match=r"'Tickets' has no record with PK_ID 99"):
        await plugin.add_record_comment(
            comment=jira_comment(), flow=TICKETS, record_id="99"
        )


async def test_flow_without_comments_answers_none_and_calls_nobody(plugin, emulator):
    plain = BUGS.model_copy(update={"comments": None})

    added = await plugin.add_record_comment(
        comment=jira_comment(), flow=plain, record_id="1"
    )

    assert added is None
    assert emulator.calls == []
