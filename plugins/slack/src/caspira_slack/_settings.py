"""The ``[slack]`` configuration section: where messages go and which ones to send."""

from __future__ import annotations

from typing import get_args

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from caspira_hookspecs import Notification

__all__ = ["NOTIFICATION_KINDS", "SlackSettings", "is_web_url"]

#: Every kind of notification the engine sends, in the order the model declares them.
NOTIFICATION_KINDS: tuple[str, ...] = get_args(
    Notification.model_fields["kind"].annotation
)


def is_web_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


class SlackSettings(BaseModel):
    """How caspira posts to Slack.

    Configure exactly one way: ``webhook_url_env`` (the environment variable holding
    an incoming-webhook URL, whose channel is fixed when the webhook is made) or
    ``bot_token_env`` with ``channel`` (a bot token with the ``chat:write`` scope,
    posting through ``chat.postMessage``). ``events`` lists the notification kinds
    to post.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url_env: str | None = None
    bot_token_env: str | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api"
    events: list[str] = Field(default_factory=lambda: list(NOTIFICATION_KINDS))
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = [kind for kind in events if kind not in NOTIFICATION_KINDS]
        if unknown:
            raise ValueError(
                f"unknown notification kind(s) {unknown}; "
                f"use any of {list(NOTIFICATION_KINDS)}"
            )
        return events

    @field_validator("api_url")
    @classmethod
    def _web_url(cls, api_url: str) -> str:
        if not is_web_url(api_url):
            raise ValueError(
                f"api_url {api_url!r} is not an http(s) URL; "
                "leave it out to use https://slack.com/api"
            )
        return api_url.rstrip("/")

    @model_validator(mode="after")
    def _one_way(self) -> SlackSettings:
        if (self.webhook_url_env is None) == (self.bot_token_env is None):
            raise ValueError(
                "set exactly one of webhook_url_env (an incoming webhook) or "
                "bot_token_env with channel (chat.postMessage)"
            )
        if self.bot_token_env is not None and not self.channel:
            raise ValueError(
                "bot_token_env needs channel: set channel to a channel name such as "
                "'#alerts' or an id such as 'C0123456789'"
            )
        if self.webhook_url_env is not None and self.channel is not None:
            raise ValueError(
                f"channel {self.channel!r} cannot be used with webhook_url_env: an "
                "incoming webhook always posts to the channel it was made for; remove "
                "channel, or use bot_token_env instead"
            )
        return self
