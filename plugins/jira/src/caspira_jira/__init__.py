"""caspira connector for Jira: ``JiraPlugin`` (the hooks that make issues), its REST
client, and an emulator (``caspira_jira.emulator.create_app``) for tests and demos.
"""

from __future__ import annotations

from caspira_jira._adf import text_to_adf
from caspira_jira._client import JiraClient
from caspira_jira._dialect import CLOUD, Dialect
from caspira_jira._fields import (
    FieldSpec,
    clean_label,
    clean_labels,
    field_kind,
    fit_summary,
    shape_value,
)
from caspira_jira._plugin import JiraPlugin
from caspira_jira._screens import CreateScreen, ScreenCatalogue
from caspira_jira._settings import JiraSettings

__all__ = [
    "CLOUD",
    "CreateScreen",
    "Dialect",
    "FieldSpec",
    "JiraClient",
    "JiraPlugin",
    "JiraSettings",
    "ScreenCatalogue",
    "clean_label",
    "clean_labels",
    "field_kind",
    "fit_summary",
    "shape_value",
    "text_to_adf",
]
