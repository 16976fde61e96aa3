"""The Caspio connector as the engine loads it: webhook intake, record write-back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from typing import Any

from caspira_caspio._client import CaspioClient
from caspira_caspio._comments import comment_block, comment_row, same_comment_row
from caspira_caspio._settings import CaspioSettings
from caspira_caspio._values import format_datetime
from caspira_caspio._webhook import parse_delivery
from caspira_caspio._where import where_equals
from caspira_hookspecs import (
    CommentSync,
    Flow,
    InboundEvent,
    IssueComment,
    IssueRef,
    PluginContext,
    RecordChange,
    RemoteError,
    WebhookRequest,
    WebhookRoute,
    hookimpl,
)

__all__ = ["CaspioPlugin"]

log = logging.getLogger(__name__)


class CaspioPlugin:
    """Receives Caspio's outgoing webhooks; writes issue keys, values and comments back.

    The REST client is made on the first remote call, so a process that only
    receives webhooks never needs the REST profile's credentials. Statuses reach
    records through ``write_record``: the engine maps them and calls it.
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
                credential_env=(settings.client_id_env, settings.client_secret_env),
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
            zone=self._zone(),
        )

    def _zone(self) -> tzinfo:
        settings: CaspioSettings | None = self._context.settings
        return settings.zone if settings is not None else UTC

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
        # Caspio keeps dates without zone, in the account's own time zone.
        zone = self._zone()
        sent = {
            name: format_datetime(value, zone) if isinstance(value, datetime) else value
            for name, value in values.items()
        }
        return await self._caspio().update_record(flow.table, record_id, sent)

    @hookimpl
    async def add_record_comment(
        self, comment: IssueComment, flow: Flow, record_id: str
    ) -> str | None:
        sync = flow.comments
        if sync is None:
            return None
        if sync.table is not None:
            added = await self._add_comment_row(comment, sync, record_id)
        else:
            # CommentSync holds exactly one of table and field.
            assert sync.field is not None
            await self._append_comment(comment, flow.table, sync.field, record_id)
            added = comment.comment_id
        log.info(
            "caspio.comment.added",
            extra={"flow": flow.name, "record": record_id, "comment": added},
        )
        return added

    async def _add_comment_row(
        self, comment: IssueComment, sync: CommentSync, record_id: str
    ) -> str:
        """Insert the comment's row, unless a write whose answer was lost did."""
        assert sync.table is not None
        row = comment_row(comment, sync, record_id)
        where = where_equals(sync.record_field, row[sync.record_field])
        async for existing in self._caspio().list_records(sync.table, where):
            if same_comment_row(existing, row):
                log.info(
                    "caspio.comment.found",
                    extra={"table": sync.table, "row": existing["PK_ID"]},
                )
                return str(existing["PK_ID"])
        inserted = await self._caspio().insert_record(sync.table, row)
        return str(inserted["PK_ID"])

    async def _append_comment(
        self, comment: IssueComment, table: str, field: str, record_id: str
    ) -> None:
        record = await self._caspio().get_record(table, record_id)
        if record is None:
            raise RemoteError(
                "caspio",
                "add_record_comment",
                200,
                f"table {table!r} has no record with PK_ID {record_id} to add the "
                "comment to; it may have been deleted in Caspio, so unlink it or "
                "restore the record",
                field=field,
            )

        text = record.get(field) or ""
        block = comment_block(comment)
        entry = block.lstrip("\n")
        # A retry after a write whose answer was lost must not add the block twice.
        if entry in text:
            return
        appended = text + block if text else entry
        await self._caspio().update_record(table, record_id, {field: appended})
