"""The Slack connector: posts the engine's notifications to a Slack channel."""

from __future__ import annotations

import logging

import httpx

from caspira_hookspecs import ConfigError, Notification, PluginContext, hookimpl
from caspira_slack._client import ChannelDestination, WebhookDestination
from caspira_slack._message import render
from caspira_slack._redact import Redactor, protect_logs, release_logs
from caspira_slack._settings import SlackSettings, is_web_url

__all__ = ["SlackPlugin"]

log = logging.getLogger(__name__)


class SlackPlugin:
    """Posts notifications to Slack; does nothing when the config has no ``[slack]``.

    The secret (webhook URL or bot token) is read when the plugin is made, so a
    missing one stops the engine at start-up instead of failing every notification.
    """

    name = "slack"
    settings_model = SlackSettings

    def __init__(self, context: PluginContext) -> None:
        self._context = context
        self._settings: SlackSettings | None = context.settings
        self._destination: WebhookDestination | ChannelDestination | None = None
        self._http: httpx.AsyncClient | None = None
        self._redact = Redactor(())
        settings = self._settings
        if settings is None:
            return

        if settings.webhook_url_env is not None:
            webhook_url = self._read_secret("webhook_url_env", settings.webhook_url_env)
            if not is_web_url(webhook_url):
                raise ConfigError(
                    "[slack]",
                    [
                        (
                            "webhook_url_env",
                            f"the value of {settings.webhook_url_env} is not an "
                            "http(s) URL; put the incoming webhook's URL "
                            "(https://hooks.slack.com/services/...) there",
                        )
                    ],
                )
            secret = webhook_url
        else:
            secret = self._read_secret("bot_token_env", settings.bot_token_env or "")

        self._redact = Redactor([secret])
        protect_logs(self._redact)
        self._http = httpx.AsyncClient(
            transport=context.transports.get("slack"),
            timeout=settings.timeout_seconds,
            # Following a redirect could carry the token or the message elsewhere.
            follow_redirects=False,
        )
        if settings.webhook_url_env is not None:
            self._destination = WebhookDestination(
                self._http,
                secret,
                url_env=settings.webhook_url_env,
                redact=self._redact,
            )
        else:
            self._destination = ChannelDestination(
                self._http,
                settings.api_url,
                secret,
                settings.channel or "",
                token_env=settings.bot_token_env or "",
                redact=self._redact,
            )

    def _read_secret(self, field: str, env_name: str) -> str:
        try:
            secret = self._context.secret(env_name)
        except KeyError:
            secret = ""
        if not secret:
            raise ConfigError(
                "[slack]",
                [
                    (
                        field,
                        f"environment variable {env_name} is not set or empty; set "
                        f"it, or point {field} at the variable that holds the secret",
                    )
                ],
            )
        return secret

    async def aclose(self) -> None:
        """Close the HTTP connections and stop guarding this instance's secret."""
        if self._http is not None:
            self._destination = None
            await self._http.aclose()
            self._http = None
            release_logs(self._redact)

    @hookimpl
    async def notify(self, notification: Notification) -> None:
        """Post ``notification`` to Slack if its kind is in ``[slack] events``."""
        if self._settings is None or self._destination is None:
            return
        if notification.kind not in self._settings.events:
            log.debug(
                "slack.skipped",
                extra={"kind": notification.kind, "reason": "kind not in events"},
            )
            return
        flow = self._context.flows.get(notification.flow)
        if flow is not None and not flow.notify:
            log.debug(
                "slack.skipped",
                extra={"flow": flow.name, "reason": "flow has notify = false"},
            )
            return

        ts = await self._destination.post(render(notification))

        log.info(
            "slack.posted",
            extra={
                "kind": notification.kind,
                "flow": notification.flow,
                "issue": notification.issue.key if notification.issue else None,
                "via": self._destination.operation,
                "ts": ts,
            },
        )
