"""The plugin's hooks against the emulator: key write-back, record writes, settings."""

from __future__ import annotations

import inspect
from datetime import datetime
from importlib.metadata import entry_points
from zoneinfo import ZoneInfo

import pluggy
import pytest
from pydantic import ValidationError

from caspira_caspio import CaspioPlugin, CaspioSettings
from caspira_caspio.emulator import create_app
from caspira_hookspecs import (
    ENTRY_POINT_GROUP,
    Flow,
    IssueRef,
    IssueTransition,
    PluginContext,
    RecordChange,
    specs,
)
from tests.caspio.conftest import ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.anyio


def settings_with(**options) -> CaspioSettings:
    return CaspioSettings(
        account_url=ACCOUNT_URL,
        client_id_env="CASPIO_CLIENT_ID",
        client_secret_env="CASPIO_CLIENT_SECRET",
        **options,
    )


SETTINGS = settings_with()
SECRETS = {"CASPIO_CLIENT_ID": CLIENT_ID, "CASPIO_CLIENT_SECRET": CLIENT_SECRET}
BUGS = Flow(
    name="bugs",
    table="BugReports",
    project="APP",
    key_field="JiraKey",
    status_field="Status",
    status_map={"In Progress": "Triaged", "Done": "Resolved"},
)
ISSUE = IssueRef(key="APP-41", id="10041")


@pytest.fixture
async def plugin(caspio_transport):
    context = PluginContext(
        settings=SETTINGS,
        flows={"bugs": BUGS},
        secrets=SECRETS,
        transports={"caspio": caspio_transport},
    )
    connector = CaspioPlugin(context)
    yield connector
    await connector.aclose()


@pytest.fixture
async def record(client, bug_reports):
    return await client.insert_record(bug_reports, {"Title": "Crash", "Status": "New"})


def change_of(record, **values) -> RecordChange:
    return RecordChange(
        flow="bugs",
        table="BugReports",
        record_id=str(record["PK_ID"]),
        operation="insert",
        values={**record, **values},
    )


def transition_to(status: str) -> IssueTransition:
    return IssueTransition(issue=ISSUE, from_status="To Do", to_status=status)


def puts(emulator) -> list[str]:
    return [target for method, target in emulator.calls if method == "PUT"]


async def test_linked_issue_key_is_written_to_the_key_field(plugin, client, record):
    await plugin.on_issue_linked(
        change=change_of(record), issue=ISSUE, flow=BUGS, created=True
    )

    stored = await client.get_record("BugReports", record["PK_ID"])
    assert stored["JiraKey"] == "APP-41"


async def test_key_already_in_the_record_is_not_written_again(plugin, emulator, record):
    await plugin.on_issue_linked(
        change=change_of(record, JiraKey="APP-41"),
        issue=ISSUE,
        flow=BUGS,
        created=False,
    )

    assert puts(emulator) == []


async def test_flow_without_key_field_gets_no_write_back(plugin, emulator, record):
    keyless = BUGS.model_copy(update={"key_field": None})

    await plugin.on_issue_linked(
        change=change_of(record), issue=ISSUE, flow=keyless, created=True
    )

    assert puts(emulator) == []


async def test_deleted_record_gets_no_write_back(plugin, emulator, record):
    deleted = change_of(record).model_copy(update={"operation": "delete"})

    await plugin.on_issue_linked(change=deleted, issue=ISSUE, flow=BUGS, created=False)

    assert puts(emulator) == []


async def test_write_record_answers_the_record_as_stored(plugin, record):
    stored = await plugin.write_record(
        flow=BUGS, record_id=str(record["PK_ID"]), values={"Severity": "High"}
    )

    assert stored["Severity"] == "High"
    assert stored["Title"] == "Crash"


async def test_write_record_writes_an_aware_date_in_the_account_zone(
    caspio_transport, client, record
):
    berlin = settings_with(timezone="Europe/Berlin")
    plugin = CaspioPlugin(
        PluginContext(
            settings=berlin, secrets=SECRETS, transports={"caspio": caspio_transport}
        )
    )
    submitted = datetime(2026, 1, 16, 18, 52, 55, tzinfo=ZoneInfo("UTC"))

    stored = await plugin.write_record(
        flow=BUGS, record_id=str(record["PK_ID"]), values={"SubmittedAt": submitted}
    )
    await plugin.aclose()

    assert stored["SubmittedAt"] == "2026-01-16T19:52:55"


async def test_transition_hook_leaves_the_status_write_to_the_engine(
    plugin, emulator, record
):
    manager = pluggy.PluginManager("caspira")
    manager.add_hookspecs(specs)
    manager.register(plugin, name="caspio")
    calls_before = list(emulator.calls)

    answers = manager.hook.on_issue_transitioned(
        transition=transition_to("In Progress"),
        flow=BUGS,
        record_id=str(record["PK_ID"]),
    )
    for answer in answers:
        if inspect.isawaitable(answer):
            await answer

    assert emulator.calls == calls_before


async def test_plugin_registers_against_the_hookspecs():
    manager = pluggy.PluginManager("caspira")
    manager.add_hookspecs(specs)
    plugin = CaspioPlugin(PluginContext(settings=SETTINGS))

    manager.register(plugin, name="caspio")
    manager.check_pending()

    implemented = {caller.name for caller in manager.get_hookcallers(plugin) or []}
    assert implemented == {
        "webhook_routes",
        "on_issue_linked",
        "write_record",
        "add_record_comment",
    }


async def test_registering_the_plugin_reads_no_secret():
    manager = pluggy.PluginManager("caspira")
    manager.add_hookspecs(specs)

    manager.register(CaspioPlugin(PluginContext(settings=SETTINGS, secrets={})))

    assert manager.get_plugins()


async def test_aclose_closes_the_rest_client(plugin, record):
    await plugin.write_record(flow=BUGS, record_id="1", values={"Severity": "Low"})
    client = plugin._caspio()

    await plugin.aclose()

    assert client._http.is_closed


def test_entry_point_loads_the_plugin_class():
    [entry] = entry_points(group=ENTRY_POINT_GROUP, name="caspio")

    assert entry.load() is CaspioPlugin


def test_emulator_entry_point_loads_create_app():
    [entry] = entry_points(group="caspira.emulators", name="caspio")

    assert entry.load() is create_app


def test_settings_refuse_a_secret_written_in_the_file():
    with pytest.raises(ValidationError, match="client_secret"):
        CaspioSettings(
            account_url=ACCOUNT_URL,
            client_id_env="CASPIO_CLIENT_ID",
            client_secret_env="CASPIO_CLIENT_SECRET",
            client_secret="s3cret",
        )


def test_settings_refuse_an_account_url_that_is_not_http():
    with pytest.raises(ValidationError, match=r"c0abc123\.caspio\.com"):
        CaspioSettings(
            account_url="c0abc123.caspio.com",
            client_id_env="CASPIO_CLIENT_ID",
            client_secret_env="CASPIO_CLIENT_SECRET",
        )


def test_settings_drop_a_trailing_slash_and_default_the_timeout():
    settings = CaspioSettings(
        account_url=f"{ACCOUNT_URL}/",
        client_id_env="CASPIO_CLIENT_ID",
        client_secret_env="CASPIO_CLIENT_SECRET",
    )

    assert settings.account_url == ACCOUNT_URL
    assert settings.timeout_seconds == 30


def test_settings_default_the_timezone_to_utc():
    assert SETTINGS.timezone == "UTC"
    assert SETTINGS.zone == ZoneInfo("UTC")


def test_settings_read_an_iana_timezone():
    settings = settings_with(timezone="Europe/Berlin")

    assert settings.zone == ZoneInfo("Europe/Berlin")


def test_settings_refuse_an_unknown_timezone_naming_it_and_the_fix():
    with pytest.raises(ValidationError, match=r"'Mars/Olympus'.*'Europe/Berlin'"):
        settings_with(timezone="Mars/Olympus")
