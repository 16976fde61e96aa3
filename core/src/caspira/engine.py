"""The embeddable engine: one tenant's configuration, plugins, store and pipeline.

A vendor serving several tenants creates one Engine per tenant, each with its own
secrets mapping; nothing here reads global state.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import anyio.to_thread

from caspira.config import CaspiraConfig, check_flow_secrets
from caspira.hookcall import call_each
from caspira.logs import SecretFilter
from caspira.pipeline import Pipeline
from caspira.plugins import PluginSet, load_plugins
from caspira.store import Store
from caspira_hookspecs import ConfigError, InboundEvent, WebhookRoute

__all__ = ["ISSUE_KEY_PREFIX", "Engine"]

#: The key prefix of events about a Jira issue, before they are tied to a record.
ISSUE_KEY_PREFIX = "issue:"


class Engine:
    """Everything one tenant needs; use ``async with Engine(config) as engine``."""

    def __init__(
        self,
        config: CaspiraConfig,
        *,
        secrets: Mapping[str, str] | None = None,
        transports: Mapping[str, Any] | None = None,
        plugins: Iterable[Any] = (),
        use_entry_points: bool = True,
        receives_webhooks: bool = True,
    ):
        self.config = config
        self.secrets: Mapping[str, str] = secrets if secrets is not None else os.environ
        # A process that only works the inbox never checks a webhook's secret.
        problems = (
            check_flow_secrets(config.flows, self.secrets) if receives_webhooks else []
        )
        try:
            self.plugins: PluginSet = load_plugins(
                config,
                secrets=self.secrets,
                transports=transports,
                extra=plugins,
                use_entry_points=use_entry_points,
            )
        except ConfigError as exc:
            raise ConfigError(config.path, [*problems, *exc.problems]) from None
        if problems:
            raise ConfigError(config.path, problems)
        self.secret_filter = SecretFilter(self._secret_values())
        self.store = Store(
            config.store.url,
            tenant=config.tenant,
            max_attempts=config.worker.max_attempts,
        )
        self.pipeline = Pipeline(self)

    def _secret_values(self) -> list[str]:
        names = {n for plugin in self.plugins.loaded for n in plugin.secret_names()}
        names.update(f.webhook_secret_env for f in self.config.flows.values())
        return [self.secrets[n] for n in names if n and self.secrets.get(n)]

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Create the store's tables if needed."""
        await anyio.to_thread.run_sync(self.store.migrate)

    async def aclose(self) -> None:
        await self.plugins.aclose()
        await anyio.to_thread.run_sync(self.store.close)

    async def webhook_routes(self) -> list[WebhookRoute]:
        """Every webhook endpoint the plugins contribute."""
        routes: list[WebhookRoute] = []
        for answer in await call_each(self.plugins.pm.hook.webhook_routes):
            routes.extend(answer)
        return routes

    async def intake(self, events: list[InboundEvent]) -> list[int]:
        """Store events durably; answer the ids of those not stored before.

        An issue's events take the key and flow of the record it is linked to, so
        both sides' changes to one record are applied one at a time, in order.
        """
        return await anyio.to_thread.run_sync(
            lambda: self.store.store_events([self._keyed(e) for e in events])
        )

    def _keyed(self, event: InboundEvent) -> InboundEvent:
        if not event.key.startswith(ISSUE_KEY_PREFIX):
            return event
        link = self.store.link_by_issue(event.key.removeprefix(ISSUE_KEY_PREFIX))
        if link is None or link.flow not in self.config.flows:
            return event
        return event.model_copy(
            update={"key": f"{link.flow}:{link.record_id}", "flow": link.flow}
        )
