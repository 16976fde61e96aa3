"""A compliance plugin: masks e-mail addresses and phone numbers before issues leave.

Package it with an entry point to install it next to the connectors::

    [project.entry-points."caspira.plugins"]
    redact_contacts = "redact_contacts:RedactContacts"

and configure it in caspira.toml::

    [redact_contacts]
    keep_domains = ["example.com"]
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from caspira_hookspecs import IssueDraft, PluginContext, hookimpl

EMAIL = re.compile(r"\b[\w.+-]+@([\w-]+\.)+[\w-]+\b")
PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")


class RedactSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_domains: list[str] = []


class RedactContacts:
    name = "redact_contacts"
    settings_model = RedactSettings

    def __init__(self, context: PluginContext):
        self.keep = tuple(f"@{d}" for d in context.settings.keep_domains)

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            value = EMAIL.sub(
                lambda m: m[0] if m[0].endswith(self.keep) else "[email removed]", value
            )
            return PHONE.sub("[phone removed]", value)
        if isinstance(value, list):
            return [self._mask(item) for item in value]
        return value

    @hookimpl
    def redact_issue(self, draft: IssueDraft) -> IssueDraft:
        return draft.model_copy(
            update={
                "summary": self._mask(draft.summary),
                "description": self._mask(draft.description),
                "fields": {k: self._mask(v) for k, v in draft.fields.items()},
            }
        )
