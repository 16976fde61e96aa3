"""caspira connector for Jira: ``JiraPlugin`` (the hooks that make, move and comment on
issues, and the webhook route changes come back by), its REST client, and an emulator
(``caspira_jira.emulator.create_app``) for tests and demos.
"""

from __future__ import annotations

from caspira_jira._adf import adf_to_text, text_to_adf
from caspira_jira._client import JiraClient
from caspira_jira._dialect import CLOUD, SERVER, Dialect
from caspira_jira._fields import (
    FieldSpec,
    clean_label,
    clean_labels,
    field_kind,
    fit_summary,
    rich_text_length,
    shape_value,
)
from caspira_jira._plugin import WEBHOOK_PATH, JiraPlugin
from caspira_jira._screens import CreateScreen, ScreenCatalogue
from caspira_jira._settings import JiraSettings
from caspira_jira._text import (
    SUMMARY_LIMIT,
    TEXT_LIMIT,
    clean_text,
    cut_text,
    is_blank,
    jira_length,
)
from caspira_jira._webhook import hub_signature, parse_delivery
from caspira_jira._wiki import text_to_wiki, wiki_to_text

__all__ = [
    "CLOUD",
    "SERVER",
    "SUMMARY_LIMIT",
    "TEXT_LIMIT",
    "WEBHOOK_PATH",
    "CreateScreen",
    "Dialect",
    "FieldSpec",
    "JiraClient",
    "JiraPlugin",
    "JiraSettings",
    "ScreenCatalogue",
    "adf_to_text",
    "clean_label",
    "clean_labels",
    "clean_text",
    "cut_text",
    "field_kind",
    "fit_summary",
    "hub_signature",
    "is_blank",
    "jira_length",
    "parse_delivery",
    "rich_text_length",
    "shape_value",
    "text_to_adf",
    "text_to_wiki",
    "wiki_to_text",
]
