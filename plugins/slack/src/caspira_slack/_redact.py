"""Keeping the webhook URL and the bot token out of error messages and logs.

httpx logs every request's full URL at INFO, and an incoming webhook's URL is its
secret, so a filter on the ``httpx`` logger blanks the secrets registered here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

import httpx

__all__ = ["REDACTED", "Redactor", "protect_logs", "release_logs", "secret_forms"]

REDACTED = "[redacted]"


def secret_forms(secret: str) -> set[str]:
    """The spellings under which ``secret`` can show up in text.

    A URL also appears normalised (as httpx prints it) and as its bare path, which
    holds the part that makes an incoming webhook secret.
    """
    forms = {secret}
    try:
        url = httpx.URL(secret)
    except httpx.InvalidURL:
        return forms
    if url.host:
        forms.add(str(url))
        if url.path not in ("", "/"):
            forms.add(url.path)
            forms.add(url.raw_path.decode("ascii"))
    return forms


class Redactor:
    """Replaces every form of the given secrets in a text with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
        # Longest first, so a URL goes as a whole before its path is looked for.
        self._forms = sorted(forms, key=len, reverse=True)

    @property
    def forms(self) -> list[str]:
        return list(self._forms)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text


class _HttpxLogFilter(logging.Filter):
    """Blanks registered secrets in the records httpx logs; keeps every record."""

    def __init__(self) -> None:
        super().__init__()
        self._users: Counter[str] = Counter()
        self._redact = Redactor(())

    def register(self, redactor: Redactor) -> None:
        self._users.update(redactor.forms)
        self._redact = Redactor(self._users)

    def unregister(self, redactor: Redactor) -> None:
        self._users.subtract(redactor.forms)
        self._users = +self._users
        self._redact = Redactor(self._users)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._users:
            message = record.getMessage()
            cleaned = self._redact(message)
            if cleaned != message:
                record.msg = cleaned
                record.args = None
        return True


_HTTPX_FILTER = _HttpxLogFilter()
logging.getLogger("httpx").addFilter(_HTTPX_FILTER)


def protect_logs(redactor: Redactor) -> None:
    """Start blanking ``redactor``'s secrets in httpx's log records."""
    _HTTPX_FILTER.register(redactor)


def release_logs(redactor: Redactor) -> None:
    """Stop blanking them once no plugin instance uses them any more."""
    _HTTPX_FILTER.unregister(redactor)
