"""What differs between Jira deployments, in one place: Cloud is REST v3, ADF, users by
accountId and Basic email:token; Server/DC is REST v2, wiki markup, users by name and
Bearer personal access tokens.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator
from typing import Any

import httpx

from caspira_hookspecs import User
from caspira_jira._adf import adf_to_text, is_adf_document, text_to_adf
from caspira_jira._wiki import text_to_wiki, wiki_to_text

__all__ = ["CLOUD", "SERVER", "Dialect", "dialect_for"]


class Dialect(ABC):
    """The deployment-specific parts of talking to Jira."""

    name: str = ""
    api_root: str = ""
    #: ``"token"``: ``POST /search/jql`` with ``nextPageToken``; ``"offset"``:
    #: ``POST /search`` with ``startAt`` and ``total``.
    search_paging: str = ""

    @abstractmethod
    def rich_text(self, text: str) -> Any:
        """The value a rich-text field takes for plain ``text``."""

    @abstractmethod
    def is_rich_text(self, value: Any) -> bool:
        """Whether ``value`` is already in this deployment's rich-text shape."""

    @abstractmethod
    def plain_text(self, value: Any) -> str:
        """The text a person reads in a rich-text value Jira answered."""

    @abstractmethod
    def user_value(self, user: User) -> dict[str, str] | None:
        """A user field's value for ``user``; ``None`` when the user lacks the id."""

    @abstractmethod
    def user_id(self, account: dict[str, Any]) -> str | None:
        """The identifier of a user as the API answers it."""

    @abstractmethod
    def user(self, account: dict[str, Any]) -> User:
        """A user as the API answers it (``myself``, user search, webhooks)."""

    @abstractmethod
    def user_search(self, query: str) -> dict[str, str]:
        """The query parameters of ``GET /user/search`` for an address or a name."""

    @abstractmethod
    def auth(self, email: str | None, token: str) -> httpx.Auth:
        """How requests prove who caspira acts as."""


class CloudDialect(Dialect):
    name = "cloud"
    api_root = "/rest/api/3"
    search_paging = "token"

    def rich_text(self, text: str) -> Any:
        return text_to_adf(text)

    def is_rich_text(self, value: Any) -> bool:
        return is_adf_document(value)

    def plain_text(self, value: Any) -> str:
        return adf_to_text(value)

    def user_value(self, user: User) -> dict[str, str] | None:
        return {"accountId": user.account_id} if user.account_id else None

    def user_id(self, account: dict[str, Any]) -> str | None:
        return account.get("accountId")

    def user(self, account: dict[str, Any]) -> User:
        return User(
            account_id=account.get("accountId"),
            email=account.get("emailAddress") or None,
            display_name=account.get("displayName"),
        )

    def user_search(self, query: str) -> dict[str, str]:
        return {"query": query}

    def auth(self, email: str | None, token: str) -> httpx.Auth:
        return httpx.BasicAuth(email or "", token)


class ServerDialect(Dialect):
    name = "server"
    api_root = "/rest/api/2"
    search_paging = "offset"

    def rich_text(self, text: str) -> Any:
        return text_to_wiki(text)

    def is_rich_text(self, value: Any) -> bool:
        # Any string could be wiki markup or plain text; treat it as text to escape.
        return False

    def plain_text(self, value: Any) -> str:
        return wiki_to_text(value) if isinstance(value, str) else ""

    def user_value(self, user: User) -> dict[str, str] | None:
        return {"name": user.name} if user.name else None

    def user_id(self, account: dict[str, Any]) -> str | None:
        return account.get("name")

    def user(self, account: dict[str, Any]) -> User:
        return User(
            name=account.get("name"),
            email=account.get("emailAddress") or None,
            display_name=account.get("displayName"),
        )

    def user_search(self, query: str) -> dict[str, str]:
        return {"username": query}

    def auth(self, email: str | None, token: str) -> httpx.Auth:
        return _BearerAuth(token)


class _BearerAuth(httpx.Auth):
    """``Authorization: Bearer <personal access token>``."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


CLOUD = CloudDialect()
SERVER = ServerDialect()

_DIALECTS: dict[str, Dialect] = {CLOUD.name: CLOUD, SERVER.name: SERVER}


def dialect_for(deployment: str) -> Dialect:
    """The dialect for a ``JiraSettings.deployment`` value."""
    return _DIALECTS[deployment]
