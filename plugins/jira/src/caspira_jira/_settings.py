"""The ``[jira]`` configuration section: the site, the account, the issue marker."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["JiraSettings"]


class JiraSettings(BaseModel):
    """How caspira reaches Jira.

    ``site`` is the site's base URL (``https://example.atlassian.net``), ``email``
    the account caspira acts as and ``api_token_env`` the environment variable that
    holds that account's API token. Every issue caspira creates carries the label
    ``idempotency_label_prefix`` + the record's idempotency key, so a retried create
    finds the issue an interrupted attempt made.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str
    email: str
    api_token_env: str
    deployment: Literal["cloud"] = "cloud"
    timeout_seconds: float = Field(default=30.0, gt=0)
    idempotency_label_prefix: str = "caspira-"

    @field_validator("site")
    @classmethod
    def _web_url(cls, site: str) -> str:
        try:
            url = httpx.URL(site)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"site {site!r} is not an http(s) URL; give the site's address, "
                "such as 'https://example.atlassian.net'"
            )
        return site.rstrip("/")

    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, email: str) -> str:
        if "@" not in email:
            raise ValueError(
                f"email {email!r} is not an e-mail address; give the address of the "
                "Jira account whose API token api_token_env holds"
            )
        return email

    @field_validator("idempotency_label_prefix")
    @classmethod
    def _label_safe(cls, prefix: str) -> str:
        if not prefix or any(ch.isspace() for ch in prefix):
            raise ValueError(
                f"idempotency_label_prefix {prefix!r} must be non-empty and without "
                "spaces, because Jira labels cannot hold spaces; for example 'caspira-'"
            )
        return prefix
