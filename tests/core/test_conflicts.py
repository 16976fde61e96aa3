"""Deciding whether a change to a two-way field is applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from caspira.conflicts import as_text, decide
from caspira.store import FieldSync

T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def state(value="High", *, caspio_at=None, jira_at=None) -> FieldSync:
    return FieldSync(
        field="priority",
        value=value,
        caspio_at=caspio_at,
        jira_at=jira_at,
        written_caspio=None,
        written_jira=None,
    )


def test_the_first_change_of_a_field_is_applied():
    decision = decide(side="jira", value="Low", at=T, state=None, policy="latest")
    assert decision.verdict == "apply"


def test_the_value_the_field_already_has_is_unchanged_whatever_its_age():
    decision = decide(
        side="caspio", value="High", at=T - MIN, state=state(jira_at=T), policy="latest"
    )
    assert decision.verdict == "unchanged"


def test_an_older_change_from_the_same_side_is_stale():
    decision = decide(
        side="jira", value="Low", at=T - MIN, state=state(jira_at=T), policy="jira_wins"
    )
    assert decision.verdict == "stale"
    assert not decision.applies


@pytest.mark.parametrize(
    ("policy", "side", "verdict"),
    [
        ("latest", "caspio", "conflict_lost"),
        ("latest", "jira", "conflict_lost"),
        ("caspio_wins", "caspio", "conflict_won"),
        ("caspio_wins", "jira", "conflict_lost"),
        ("jira_wins", "jira", "conflict_won"),
        ("jira_wins", "caspio", "conflict_lost"),
    ],
)
def test_a_change_older_than_the_other_sides_is_settled_by_the_policy(
    policy, side, verdict
):
    other = {"jira_at": T} if side == "caspio" else {"caspio_at": T}
    decision = decide(
        side=side, value="Low", at=T - MIN, state=state(**other), policy=policy
    )
    assert decision.verdict == verdict
    assert decision.is_conflict
    assert f"conflict policy {policy!r}" in decision.reason


def test_a_change_newer_than_both_sides_is_applied():
    decision = decide(
        side="caspio",
        value="Low",
        at=T + MIN,
        state=state(caspio_at=T, jira_at=T),
        policy="jira_wins",
    )
    assert decision.verdict == "apply"


def test_values_compare_as_text_with_list_fields_joined():
    assert as_text({"1": "Web Portal", "3": "API"}) == "Web Portal, API"
    assert as_text("") is None and as_text(None) is None
    assert as_text(3) == "3"
