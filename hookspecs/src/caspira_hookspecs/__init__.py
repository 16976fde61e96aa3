"""caspira's plugin contract: hookspecs, the models they pass, the ``hookimpl`` marker.

A plugin is a class (or a module) with methods marked ``@hookimpl`` whose names are
hooks in :mod:`caspira_hookspecs.specs`, published in the ``caspira.plugins``
entry-point group. See ``docs/plugins.md`` for a worked example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import pluggy

from caspira_hookspecs import _specs as specs
from caspira_hookspecs._errors import (
    CaspiraError,
    ConfigError,
    MappingError,
    RemoteError,
    RetryableError,
    WebhookRejected,
)
from caspira_hookspecs._models import (
    BackRule,
    CommentSync,
    CreatedIssue,
    FieldChange,
    FieldRule,
    Flow,
    InboundEvent,
    IssueChange,
    IssueComment,
    IssueDraft,
    IssueRef,
    IssueTransition,
    Notification,
    PluginContext,
    RecordChange,
    Route,
    Skip,
    User,
    WebhookRequest,
    WebhookRoute,
)

__version__ = "0.2.0"

#: The hook contract's version. The minor part grows when hooks or optional model
#: fields are added; the major part when anything a plugin relies on changes.
HOOKSPEC_VERSION = "1.1"

#: The entry-point group connectors and other plugins register themselves in.
ENTRY_POINT_GROUP = "caspira.plugins"

#: The entry-point group emulators of remote services register themselves in.
EMULATOR_ENTRY_POINT_GROUP = "caspira.emulators"

PROJECT_NAME = specs.PROJECT_NAME

_F = TypeVar("_F", bound=Callable[..., Any])
_marker = pluggy.HookimplMarker(PROJECT_NAME)


def hookimpl(
    function: _F | None = None,
    *,
    tryfirst: bool = False,
    trylast: bool = False,
    specname: str | None = None,
) -> Any:
    """Mark a function or method as the implementation of the hook of the same name.

    Use it bare (``@hookimpl``) or with options (``@hookimpl(trylast=True)``).
    The wrapped function keeps its signature for type checkers.
    """
    mark = _marker(tryfirst=tryfirst, trylast=trylast, specname=specname)
    if function is None:
        return mark
    return cast(_F, mark(function))


__all__ = [
    "EMULATOR_ENTRY_POINT_GROUP",
    "ENTRY_POINT_GROUP",
    "HOOKSPEC_VERSION",
    "PROJECT_NAME",
    "BackRule",
    "CaspiraError",
    "CommentSync",
    "ConfigError",
    "CreatedIssue",
    "FieldChange",
    "FieldRule",
    "Flow",
    "InboundEvent",
    "IssueChange",
    "IssueComment",
    "IssueDraft",
    "IssueRef",
    "IssueTransition",
    "MappingError",
    "Notification",
    "PluginContext",
    "RecordChange",
    "RemoteError",
    "RetryableError",
    "Route",
    "Skip",
    "User",
    "WebhookRejected",
    "WebhookRequest",
    "WebhookRoute",
    "hookimpl",
    "specs",
]
