"""Awaiting hook implementations in pluggy's order, with the three disciplines."""

from __future__ import annotations

import pytest

from caspira.hookcall import call_chain, call_each, call_first, implementers
from caspira.plugins import new_plugin_manager
from caspira_hookspecs import Flow, RecordChange, Skip, User, hookimpl

pytestmark = pytest.mark.anyio

FLOW = Flow(name="bugs", table="BugReports", project="APP")
CHANGE = RecordChange(
    flow="bugs", table="BugReports", record_id="1", operation="insert", values={"a": 1}
)


class SyncDirectory:
    @hookimpl
    def resolve_user(self, email):
        return User(email=email, display_name="sync") if email.startswith("s") else None


class AsyncDirectory:
    @hookimpl
    async def resolve_user(self, email, flow):
        return User(email=email, display_name=f"async for {flow.name}")


class LastResort:
    @hookimpl(trylast=True)
    async def resolve_user(self, email):
        return User(email=email, display_name="last")


async def test_first_answer_awaits_coroutines_and_stops_at_the_first_answer():
    pm = new_plugin_manager()
    pm.register(LastResort(), name="last")
    pm.register(AsyncDirectory(), name="async")
    pm.register(SyncDirectory(), name="sync")

    user = await call_first(pm.hook.resolve_user, email="sam@example.com", flow=FLOW)
    assert user.display_name == "sync"
    user = await call_first(pm.hook.resolve_user, email="dana@example.com", flow=FLOW)
    assert user.display_name == "async for bugs"
    assert implementers(pm, "resolve_user") == ["sync", "async", "last"]


async def test_first_answer_is_none_when_nobody_answers():
    pm = new_plugin_manager()
    assert (
        await call_first(pm.hook.resolve_user, email="x@example.com", flow=FLOW) is None
    )


class Enrich:
    @hookimpl
    async def on_record_changed(self, change):
        return change.model_copy(update={"values": {**change.values, "b": 2}})


class Filter:
    @hookimpl(trylast=True)
    def on_record_changed(self, change):
        if change.values.get("b") == 2:
            return Skip(reason="b is 2")
        return None


class Untouched:
    @hookimpl(tryfirst=True)
    def on_record_changed(self):
        return None


async def test_a_chain_passes_each_answer_on_and_stops_at_a_skip():
    pm = new_plugin_manager()
    pm.register(Filter(), name="filter")
    pm.register(Enrich(), name="enrich")
    pm.register(Untouched(), name="untouched")

    result = await call_chain(pm.hook.on_record_changed, "change", CHANGE, flow=FLOW)
    assert result == Skip(reason="b is 2")


async def test_a_chain_with_no_opinions_returns_the_value_unchanged():
    pm = new_plugin_manager()
    pm.register(Untouched(), name="untouched")
    result = await call_chain(pm.hook.on_record_changed, "change", CHANGE, flow=FLOW)
    assert result is CHANGE


class Recorder:
    def __init__(self, name, seen):
        self.name, self.seen = name, seen

    @hookimpl
    async def notify(self, notification):
        self.seen.append((self.name, notification.title))


async def test_each_calls_every_implementation():
    from caspira_hookspecs import Notification

    seen: list = []
    pm = new_plugin_manager()
    pm.register(Recorder("a", seen), name="a")
    pm.register(Recorder("b", seen), name="b")
    note = Notification(flow="bugs", kind="issue_created", title="APP-1 created")

    assert await call_each(pm.hook.notify, notification=note) == []
    assert seen == [("b", "APP-1 created"), ("a", "APP-1 created")]
