"""What the state store raises, all under one class rooted in ``CaspiraError``.

CaspiraError
└── StoreError             the store refused an operation
    ├── LeaseLost          the worker no longer holds the event it reports on
    ├── EventNotFound      no event of this tenant has that id
    ├── EventStateError    the event is in a state the operation does not apply to
    ├── UnstorableValue    a payload or audit detail is not JSON
    ├── StoreUnavailable   the database did not answer: down, unreachable, locked
    └── StoreRefused       the database answered with an error: out of a resource,
                           disk full or read-only, tables missing
"""

from __future__ import annotations

from caspira_hookspecs import CaspiraError

__all__ = [
    "EventNotFound",
    "EventStateError",
    "LeaseLost",
    "StoreError",
    "StoreRefused",
    "StoreUnavailable",
    "UnstorableValue",
]

#: The fix when the database did not answer at all.
REACH_FIX = "check that it is running and reachable from here, then try again"


class StoreError(CaspiraError):
    """The state store refused an operation; the message says why and what to do."""


class LeaseLost(StoreError):
    """A worker reported on an event it no longer holds; nothing it sent was stored."""

    def __init__(
        self, event_id: int, worker: str, state: str | None, holder: str | None
    ):
        self.event_id = event_id
        self.worker = worker
        self.state = state
        self.holder = holder
        if state is None:
            now = "it does not exist"
        elif state == "in_progress":
            now = f"worker {holder!r} holds it now"
        else:
            now = f"it is {state} now"
        super().__init__(
            f"event {event_id}: worker {worker!r} no longer holds its lease ({now}); "
            "the outcome was not recorded. Fix: nothing to repair, the event's current "
            "state stands; extend_lease() during long work keeps the lease"
        )


class EventNotFound(StoreError):
    """No event of the store's tenant has the given id."""

    def __init__(self, event_id: int, tenant: str):
        self.event_id = event_id
        self.tenant = tenant
        super().__init__(
            f"event {event_id} does not exist for tenant {tenant!r}. "
            "Fix: take an id from the events list of the same tenant"
        )


class EventStateError(StoreError):
    """An operator action does not apply to the event's current state."""

    def __init__(self, event_id: int, action: str, state: str, allowed: str):
        self.event_id = event_id
        self.action = action
        self.state = state
        super().__init__(
            f"event {event_id} is {state}; {action} applies only to {allowed} events. "
            "Fix: check the event's state in the events list before acting on it"
        )


class UnstorableValue(StoreError):
    """A value meant for a JSON column cannot be written as JSON."""

    def __init__(self, what: str, reason: str):
        self.what = what
        self.reason = reason
        super().__init__(
            f"{what} cannot be stored as JSON ({reason}); nothing was written. "
            "Fix: pass only strings, numbers, booleans, None, lists and dicts, "
            "with dates as ISO 8601 strings"
        )


class StoreUnavailable(StoreError):
    """The database did not answer: down, unreachable, or locked for too long."""

    def __init__(self, where: str, reason: str, fix: str = REACH_FIX):
        self.where = where
        self.reason = reason
        super().__init__(
            f"the store database {where} did not answer: {reason}. Fix: {fix}"
        )


class StoreRefused(StoreError):
    """The database answered with an error of its own; the message says which."""

    def __init__(self, where: str, reason: str, fix: str):
        self.where = where
        self.reason = reason
        super().__init__(
            f"the store database {where} refused the operation: {reason}. Fix: {fix}"
        )
