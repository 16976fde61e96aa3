"""What differs between Jira deployments, in one place: Cloud is REST v3, ADF, users by
accountId and Basic email:token; Server/DC (v2, wiki markup, name, Bearer) goes here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import httpx

from caspira_hookspecs import User
from caspira_jira._adf import is_adf_document, text_to_adf

__all__ = ["CLOUD", "Dialect", "dialect_for"]


class Dialect(ABC):
    """The deployment-specific parts of talking to Jira."""

    name: str = ""
    api_root: str = ""

    @abstractmethod
    def rich_text(self, text: str) -> Any:
        """The value a rich-text field takes for plain ``text``."""

    @abstractmethod
    def is_rich_text(self, value: Any) -> bool:
        """Whether ``value`` is already in this deployment's rich-text shape."""

    @abstractmethod
    def user_value(self, user: User) -> dict[str, str] | None:
        """A user field's value for ``user``; ``None`` when the user lacks the id."""

    @abstractmethod
    def user_id(self, account: dict[str, Any]) -> str | None:
        """The identifier of a user as the API answers it."""

    @abstractmethod
    def auth(self, email: str, token: str) -> httpx.Auth:
        """How requests prove who caspira acts as."""


class CloudDialect(Dialect):
    name = "cloud"
    api_root = "/rest/api/3"

    def rich_text(self, text: str) -> Any:
        return text_to_adf(text)

    def is_rich_text(self, value: Any) -> bool:
        return is_adf_document(value)

    def user_value(self, user: User) -> dict[str, str] | None:
        return {"accountId": user.account_id} if user.account_id else None

    def user_id(self, account: dict[str, Any]) -> str | None:
        return account.get("accountId")

    def auth(self, email: str, token: str) -> httpx.Auth:
        return httpx.BasicAuth(email, token)


CLOUD = CloudDialect()

_DIALECTS: dict[str, Dialect] = {CLOUD.name: CLOUD}


def dialect_for(deployment: str) -> Dialect:
    """The dialect for a ``JiraSettings.deployment`` value."""
    return _DIALECTS[deployment]
