"""Structured, secret-free logging: ``event key=value ...`` lines on stderr.

Every engine registers the secret values it resolved; the filter replaces any of
them with ``***`` wherever it appears in a record, as a last line of defence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["SecretFilter", "configure_logging", "register_secrets", "scrub"]

_secrets: set[str] = set()

# Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def register_secrets(values: Iterable[str]) -> None:
    """Remember secret values so they never reach a log line."""
    _secrets.update(v for v in values if v and len(v) >= 4)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


class SecretFilter(logging.Filter):
    """Scrubs registered secrets from a record's message, arguments and extras."""

    def __init__(self, values: Iterable[str] = ()):
        super().__init__()
        register_secrets(values)

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        record.msg = scrub(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(
                scrub(a) if isinstance(a, str) else a for a in record.args
            )
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, scrub(value))
        return True


class KeyValueFormatter(logging.Formatter):
    """``2026-12-04T15:00:00 INFO issue.created flow=bugs issue=APP-1``."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            record.levelname,
            record.getMessage(),
        ]
        for key, value in vars(record).items():
            if key not in _STANDARD:
                parts.append(f"{key}={_quote(value)}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return scrub(line)


def _quote(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def configure_logging(level: str = "INFO") -> None:
    """Send caspira's logs to stderr as key=value lines, secrets scrubbed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(SecretFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
