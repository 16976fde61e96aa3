"""The one error hierarchy every caspira package raises from.

    CaspiraError                 root: catch this to catch everything caspira raises
    ├── ConfigError              the configuration file is wrong (file, key, expected)
    ├── WebhookRejected          a delivery is refused (carries the HTTP status)
    ├── MappingError             a record cannot become an issue (record, field, fix)
    └── RemoteError              a remote service answered with an error
        └── RetryableError       ...one that may succeed later (5xx, 429, network)

The worker retries ``RetryableError`` with backoff and sends every other error to
the dead letters at once, with its message.
"""

from __future__ import annotations

__all__ = [
    "CaspiraError",
    "ConfigError",
    "MappingError",
    "RemoteError",
    "RetryableError",
    "WebhookRejected",
]


class CaspiraError(Exception):
    """Root of every error caspira raises on purpose."""


class ConfigError(CaspiraError):
    """The configuration is wrong. ``problems`` lists each as (key, message)."""

    def __init__(self, path: str, problems: list[tuple[str, str]]):
        self.path = path
        self.problems = problems
        lines = [f"{path}: {key}: {message}" for key, message in problems]
        super().__init__("\n".join(lines))


class WebhookRejected(CaspiraError):
    """A webhook delivery is refused; the daemon answers ``status`` with ``reason``."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")


class MappingError(CaspiraError):
    """A record cannot become an issue: names the record, the field and the fix."""

    def __init__(self, record_id: str, field: str, problem: str, fix: str):
        self.record_id = record_id
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"record {record_id}, field {field!r}: {problem}. Fix: {fix}")


class RemoteError(CaspiraError):
    """A remote service refused a call.

    ``service`` is ``"jira"``, ``"caspio"`` or ``"slack"``; ``status`` the HTTP status
    (``None`` for a network failure); ``detail`` the service's own message.
    """

    def __init__(
        self,
        service: str,
        operation: str,
        status: int | None,
        detail: str,
        *,
        field: str | None = None,
    ):
        self.service = service
        self.operation = operation
        self.status = status
        self.detail = detail
        self.field = field
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{service} {operation} failed ({where}): {detail}")


class RetryableError(RemoteError):
    """A remote failure worth retrying; ``retry_after`` is the least wait in seconds."""

    def __init__(
        self,
        service: str,
        operation: str,
        status: int | None,
        detail: str,
        *,
        retry_after: float | None = None,
        field: str | None = None,
    ):
        super().__init__(service, operation, status, detail, field=field)
        self.retry_after = retry_after
