"""The state store: the event inbox, record-issue links and the audit trail.

Everything public is imported from here: ``from caspira.store import Store``.
"""

from caspira.store._errors import (
    EventNotFound,
    EventStateError,
    LeaseLost,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    UnstorableValue,
)
from caspira.store._models import (
    AttemptOutcome,
    AttemptRow,
    AuditRecord,
    AuditRow,
    AuditTarget,
    ClaimedEvent,
    CommentLink,
    EventRow,
    EventState,
    FieldSync,
    FieldSyncUpdate,
    Link,
    LinkState,
    LinkUpdate,
)
from caspira.store._store import Store

__all__ = [
    "AttemptOutcome",
    "AttemptRow",
    "AuditRecord",
    "AuditRow",
    "AuditTarget",
    "ClaimedEvent",
    "CommentLink",
    "EventNotFound",
    "EventRow",
    "EventState",
    "EventStateError",
    "FieldSync",
    "FieldSyncUpdate",
    "LeaseLost",
    "Link",
    "LinkState",
    "LinkUpdate",
    "Store",
    "StoreError",
    "StoreRefused",
    "StoreUnavailable",
    "UnstorableValue",
]
