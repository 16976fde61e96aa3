"""The ``[jira]`` configuration section: the site, the account, the issue marker, the
webhook secret and how long a call may wait for Jira's rate limits."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["JiraSettings"]


class JiraSettings(BaseModel):
    """How caspira reaches Jira, and how Jira's webhooks prove where they come from.

    ``site`` is the site's base URL (``https://example.atlassian.net``), ``email``
    the account caspira acts as and ``api_token_env`` the environment variable that
    holds that account's API token. With ``deployment = "server"`` (Jira Server or
    Data Center) ``api_token_env`` holds a personal access token, which names the
    account by itself, so ``email`` may be left out. Every issue caspira creates
    carries the label ``idempotency_label_prefix`` + the record's idempotency key,
    so a retried create finds the issue an interrupted attempt made.

    ``webhook_secret_env``, when given, names the environment variable holding the
    secret Jira's webhook was registered with; deliveries whose ``X-Hub-Signature``
    does not match it are refused.

    ``max_wait_seconds`` is the longest a call waits in the client for Jira's rate
    limits (a held endpoint, issue or quota, a Retry-After); a longer wait hands
    the change back to the engine to retry later. ``0`` never waits.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str
    email: str | None = None
    api_token_env: str
    deployment: Literal["cloud", "server"] = "cloud"
    timeout_seconds: float = Field(default=30.0, gt=0)
    idempotency_label_prefix: str = "caspira-"
    webhook_secret_env: str | None = None
    max_wait_seconds: float = Field(default=10.0, ge=0)

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
    def _looks_like_email(cls, email: str | None) -> str | None:
        if email is not None and "@" not in email:
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

    @model_validator(mode="after")
    def _cloud_needs_email(self) -> JiraSettings:
        if self.deployment == "cloud" and self.email is None:
            raise ValueError(
                "email is missing; Jira Cloud signs in with an e-mail address and an "
                "API token, so give the address of the account api_token_env belongs "
                "to (or set deployment = 'server' for Jira Server or Data Center)"
            )
        return self

    @property
    def account(self) -> str:
        """How messages name the account caspira acts as."""
        if self.email:
            return self.email
        return f"the account of the token in {self.api_token_env}"
