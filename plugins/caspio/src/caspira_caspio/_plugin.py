"""The Caspio connector as the engine loads it: webhook intake and record write-back."""

from __future__ import annotations

import logging
from typing import Any

from caspira_caspio._client import CaspioClient
from caspira_caspio._settings import CaspioSettings
from caspira_caspio._webhook import parse_delivery
from caspira_hookspecs import (
    Flow,
    InboundEvent,
    IssueRef,
    IssueTransition,
    PluginContext,
    RecordChange,
    WebhookRequest,
    WebhookRoute,
    hookimpl,
)

__all__ = ["CaspioPlugin"]

log = logging.getLogger(__name__)


class CaspioPlugin:
    """Receives Caspio's outgoing webhooks and writes issue keys and statuses back.

    The REST client is made on the first remote call, so a process that only
    receives webhooks never needs the REST profile's credentials.
    """

    name = "caspio"
    settings_model = CaspioSettings

    def __init__(self, context: PluginContext) -> None:
        self._context = context
        self._client: CaspioClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _caspio(self) -> CaspioClient:
        # A method, not a property: pluggy reads every attribute when registering.
        if self._client is None:
            settings: CaspioSettings = self._context.settings
            self._client = CaspioClient(
                settings.account_url,
                self._context.secret(settings.client_id_env),
                self._context.secret(settings.client_secret_env),
                timeout=settings.timeout_seconds,
                transport=self._context.transports.get("caspio"),
            )
        return self._client

    # --- intake ---------------------------------------------------------------

    @hookimpl
    def webhook_routes(self) -> list[WebhookRoute]:
        return [
            WebhookRoute(
                path="/hooks/caspio/{flow}", name="caspio", handler=self.receive
            )
        ]

    async def receive(self, request: WebhookRequest) -> list[InboundEvent]:
        """The handler of ``/hooks/caspio/{flow}``: one event per delivered record."""
        return parse_delivery(
            request.path_params.get("flow", ""),
            request.body,
            self._context.flows,
            self._context.secret,
        )

    # --- write-back -----------------------------------------------------------

    @hookimpl
    async def on_issue_linked(
        self, change: RecordChange, issue: IssueRef, flow: Flow, created: bool
    ) -> None:
        if not flow.key_field or change.operation == "delete":
            return
        if change.values.get(flow.key_field) == issue.key:
            return
        await self._caspio().update_record(
            flow.table, change.record_id, {flow.key_field: issue.key}
        )
        log.info(
            "caspio.key.written",
            extra={"flow": flow.name, "record": change.record_id, "issue": issue.key},
        )

    @hookimpl
    async def write_record(
        self, flow: Flow, record_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._caspio().update_record(flow.table, record_id, values)

    @hookimpl
    async def on_issue_transitioned(
        self, transition: IssueTransition, flow: Flow, record_id: str | None
    ) -> None:
        if record_id is None or not flow.status_field:
            return
        status = flow.status_map.get(transition.to_status)
        if status is None:
            log.info(
                "caspio.status.unmapped",
                extra={
                    "flow": flow.name,
                    "issue": transition.issue.key,
                    "to_status": transition.to_status,
                },
            )
            return
        await self._caspio().update_record(
            flow.table, record_id, {flow.status_field: status}
        )
        log.info(
            "caspio.status.written",
            extra={"flow": flow.name, "record": record_id, "status": status},
        )
