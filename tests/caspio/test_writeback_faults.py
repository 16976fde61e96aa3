"""Write-backs whose answer was lost: done again, they leave what one write leaves."""

from __future__ import annotations

import pytest

from caspira_caspio import CaspioPlugin
from caspira_hookspecs import (
    IssueRef,
    PluginContext,
    RecordChange,
    RemoteError,
    RetryableError,
)
from tests.caspio.test_comments import BUGS, SECRETS, SETTINGS, TICKETS, jira_comment

pytestmark = pytest.mark.anyio

ISSUE = IssueRef(key="APP-41", id="10041")
KEYED = BUGS.model_copy(update={"key_field": "JiraKey"})


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


async def twice(emulator, write):
    """Run ``write`` with its answer lost, then again with Caspio answering."""
    emulator.set_faults(rate_lost_write=1)
    with pytest.raises(RetryableError):
        await write()
    emulator.set_faults()
    return await write()


def rows(emulator, table: str) -> list[dict]:
    return list(emulator.tables[table].records.values())


async def test_issue_key_written_again_is_the_same_key(plugin, emulator, report):
    change = RecordChange(
        flow="bugs",
        table="BugReports",
        record_id=report,
        operation="insert",
        values={"Title": "Crash", "JiraKey": None},
    )

    await twice(
        emulator,
        lambda: plugin.on_issue_linked(
            change=change, issue=ISSUE, flow=KEYED, created=True
        ),
    )

    [record] = rows(emulator, "BugReports")
    assert record["JiraKey"] == "APP-41"


async def test_record_values_written_again_answer_the_record_as_stored(
    plugin, emulator, report
):
    written = await twice(
        emulator,
        lambda: plugin.write_record(
            flow=BUGS, record_id=report, values={"Status": "Triaged"}
        ),
    )

    assert written["Status"] == "Triaged"
    assert rows(emulator, "BugReports")[0]["Status"] == "Triaged"


async def test_comment_row_written_again_is_the_row_already_there(
    plugin, emulator, report
):
    added = await twice(
        emulator,
        lambda: plugin.add_record_comment(
            comment=jira_comment(), flow=BUGS, record_id=report
        ),
    )

    assert rows(emulator, "BugComments") == [
        {
            "PK_ID": 1,
            "RecordID": int(report),
            "Body": "Reproduced on 4.2.",
            "Author": "Ann Lee",
        }
    ]
    assert added == "1"


async def test_other_comment_on_the_same_record_gets_its_own_row(
    plugin, emulator, report
):
    await plugin.add_record_comment(comment=jira_comment(), flow=BUGS, record_id=report)

    added = await plugin.add_record_comment(
        comment=jira_comment("Fixed in 4.3.", comment_id="10101"),
        flow=BUGS,
        record_id=report,
    )

    assert [row["Body"] for row in rows(emulator, "BugComments")] == [
        "Reproduced on 4.2.",
        "Fixed in 4.3.",
    ]
    assert added == "2"


async def test_same_words_on_another_record_get_their_own_row(
    plugin, client, emulator, report
):
    other = await client.insert_record("BugReports", {"Title": "Freeze"})

    await plugin.add_record_comment(comment=jira_comment(), flow=BUGS, record_id=report)
    await plugin.add_record_comment(
        comment=jira_comment(comment_id="10101"),
        flow=BUGS,
        record_id=str(other["PK_ID"]),
    )

    assert [row["RecordID"] for row in rows(emulator, "BugComments")] == [
        int(report),
        other["PK_ID"],
    ]


async def test_comment_block_written_again_is_in_the_field_once(
    plugin, emulator, ticket
):
    await twice(
        emulator,
        lambda: plugin.add_record_comment(
            comment=jira_comment(), flow=TICKETS, record_id=ticket
        ),
    )

    [record] = rows(emulator, "Tickets")
    assert record["Comments"] == "[Ann Lee, 2026-01-16 18:52 UTC] Reproduced on 4.2."


async def test_fresh_token_refused_during_a_write_back_names_the_settings_variables(
    plugin, emulator, report
):
    await plugin.write_record(flow=BUGS, record_id=report, values={"Status": "New"})
    emulator.fail_next(401, "Unauthorized", "Profile is disabled", times=2)

    with pytest.raises(RemoteError) as raised:
        await plugin.write_record(
            flow=BUGS, record_id=report, values={"Status": "Triaged"}
        )

    assert not isinstance(raised.value, RetryableError)
    assert "CASPIO_CLIENT_ID and CASPIO_CLIENT_SECRET" in raised.value.detail
