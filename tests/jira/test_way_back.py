"""The hooks of the way back: who caspira acts as, moving an issue to a status, and
copying a record's comment to its issue."""

from __future__ import annotations

import pytest

from caspira_hookspecs import Flow, IssueComment, IssueRef, MappingError, User
from caspira_jira import JiraPlugin, text_to_adf
from caspira_jira.emulator import EmulatedJira
from tests.jira.conftest import EMAIL, SpecCheckingTransport

pytestmark = pytest.mark.anyio

BOT = "712020:c0ffee00-0b07-4bbb-8ccc-000000000001"
ISSUE = IssueRef(key="APP-1", id="10001", url="https://jira.test/browse/APP-1")
TRANSITIONS = "/rest/api/3/issue/APP-1/transitions"


@pytest.fixture
def issue(site: EmulatedJira) -> IssueRef:
    body = {
        "fields": {
            "project": {"key": "APP"},
            "issuetype": {"id": "10004"},
            "summary": "Checkout button does nothing",
        }
    }
    site.create_issue(body, site.bot)
    return ISSUE


@pytest.fixture
def started(site: EmulatedJira, issue: IssueRef) -> IssueRef:
    site.transition(issue.key, {"transition": {"id": "21"}})
    return issue


def comment(body: str) -> IssueComment:
    return IssueComment(source="caspio", record_id="123", comment_id="7", body=body)


# --- acting_user ----------------------------------------------------------------------


async def test_acting_user_is_the_account_of_the_token(
    plugin: JiraPlugin, flow: Flow
) -> None:
    assert await plugin.acting_user(flow) == User(
        account_id=BOT, email=EMAIL, display_name="Caspira Bot"
    )


async def test_acting_user_asks_jira_once(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    first = await plugin.acting_user(flow)
    second = await plugin.acting_user(flow)

    assert first == second
    assert transport.count("GET", "/rest/api/3/myself") == 1


# --- transition_issue -----------------------------------------------------------------


async def test_transition_reaches_the_status_and_answers_its_name(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira, issue: IssueRef
) -> None:
    reached = await plugin.transition_issue(issue, "In Progress", flow, {})

    assert reached == "In Progress"
    assert site.issue("APP-1").status.name == "In Progress"


async def test_transition_sends_the_id_of_the_transition_leading_there(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport, issue: IssueRef
) -> None:
    await plugin.transition_issue(issue, "In Progress", flow, {})

    (sent,) = [e.body for e in transport.exchanges if e.method == "POST"]
    assert sent == {"transition": {"id": "21"}}


async def test_transition_finds_the_status_whatever_its_case(
    plugin: JiraPlugin, flow: Flow, issue: IssueRef
) -> None:
    assert await plugin.transition_issue(issue, "IN PROGRESS", flow, {}) == (
        "In Progress"
    )


async def test_issue_already_in_the_status_is_left_alone(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport, started: IssueRef
) -> None:
    reached = await plugin.transition_issue(started, "in progress", flow, {})

    assert reached == "In Progress"
    assert transport.count("GET", TRANSITIONS) == 0
    assert transport.count("POST", TRANSITIONS) == 0


async def test_status_no_transition_leads_to_names_current_and_available(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport, issue: IssueRef
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.transition_issue(issue, "Done", flow, {})

    error = caught.value
    assert (error.record_id, error.field) == ("APP-1", "status")
    assert error.problem == (
        "no transition from To Do leads to Done (available: In Progress)"
    )
    assert error.fix.startswith("change flows.bugs.status_map")
    assert transport.count("POST", TRANSITIONS) == 0


async def test_required_transition_field_left_out_names_the_field_and_the_setting(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport, started: IssueRef
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.transition_issue(started, "Done", flow, {})

    assert str(caught.value) == (
        "record APP-1, field 'resolution': the transition 'Done' to Done requires "
        "Resolution (resolution), and no value is given for it. Fix: give it in "
        'flows.bugs.transition_fields."Done", for example resolution = "Fixed"'
    )
    assert transport.count("POST", TRANSITIONS) == 0


async def test_transition_fields_are_shaped_by_the_screens_schema(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport, started: IssueRef
) -> None:
    await plugin.transition_issue(started, "Done", flow, {"Resolution": "won't do"})

    (sent,) = [e.body for e in transport.exchanges if e.method == "POST"]
    assert sent == {
        "transition": {"id": "31"},
        "fields": {"resolution": {"name": "Won't Do"}},
    }


async def test_transition_with_its_required_field_reaches_the_status(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira, started: IssueRef
) -> None:
    reached = await plugin.transition_issue(
        started, "Done", flow, {"resolution": "Fixed"}
    )

    assert reached == "Done"
    assert site.issue("APP-1").fields["resolution"] == {"id": "10000", "name": "Fixed"}


async def test_transition_field_off_the_screen_is_named_with_the_screens_fields(
    plugin: JiraPlugin, flow: Flow, started: IssueRef
) -> None:
    fields = {"resolution": "Fixed", "priority": "High"}

    with pytest.raises(MappingError) as caught:
        await plugin.transition_issue(started, "Done", flow, fields)

    assert caught.value.field == "priority"
    assert caught.value.problem == (
        "the transition 'Done' to Done has no field 'priority' on its screen "
        "(it has: Resolution (resolution))"
    )


async def test_transition_value_not_allowed_lists_the_allowed_ones(
    plugin: JiraPlugin, flow: Flow, started: IssueRef
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.transition_issue(started, "Done", flow, {"resolution": "Later"})

    assert caught.value.problem == (
        "'Later' is not an allowed value of Jira field Resolution (resolution) "
        "(allowed: 'Fixed', \"Won't Do\", 'Duplicate')"
    )


# --- add_issue_comment ----------------------------------------------------------------


async def test_comment_is_posted_as_adf_and_its_id_answered(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira, issue: IssueRef
) -> None:
    answer = await plugin.add_issue_comment(
        issue, comment("Customer confirms.\n\nStill on 4.1."), flow
    )

    (posted,) = site.issue("APP-1").comments
    assert answer == posted.id == "30001"
    assert posted.body == text_to_adf("Customer confirms.\n\nStill on 4.1.")
    assert posted.author == BOT


async def test_comment_text_is_sent_as_given_with_no_prefix(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport, issue: IssueRef
) -> None:
    await plugin.add_issue_comment(issue, comment("Seen on Android too."), flow)

    (sent,) = [e.body for e in transport.exchanges if e.method == "POST"]
    assert sent == {"body": text_to_adf("Seen on Android too.")}


async def test_empty_comment_is_a_mapping_error_before_any_call(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport, issue: IssueRef
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.add_issue_comment(issue, comment(" \n "), flow)

    assert (caught.value.record_id, caught.value.field) == ("APP-1", "comment")
    assert transport.exchanges == []
