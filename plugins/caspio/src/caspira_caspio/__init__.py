"""caspira's connector for Caspio: a REST v3 client, the plugin, and an emulator.

The emulator lives in :mod:`caspira_caspio.emulator`.
"""

from __future__ import annotations

from caspira_caspio._client import MAX_URI_LENGTH, CaspioClient
from caspira_caspio._comments import comment_block
from caspira_caspio._plugin import CaspioPlugin
from caspira_caspio._retry_after import MAX_RETRY_AFTER, retry_after_seconds
from caspira_caspio._settings import CaspioSettings
from caspira_caspio._values import format_datetime, list_texts, parse_datetime
from caspira_caspio._webhook import EVENT_OPERATIONS, parse_delivery
from caspira_caspio._where import sql_literal, where_equals, where_in

__version__ = "0.1.0"

__all__ = [
    "EVENT_OPERATIONS",
    "MAX_RETRY_AFTER",
    "MAX_URI_LENGTH",
    "CaspioClient",
    "CaspioPlugin",
    "CaspioSettings",
    "comment_block",
    "format_datetime",
    "list_texts",
    "parse_datetime",
    "parse_delivery",
    "retry_after_seconds",
    "sql_literal",
    "where_equals",
    "where_in",
]
