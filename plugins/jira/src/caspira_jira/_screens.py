"""Create screens discovered once per (project, issue type), and the resolution of a
flow's field key (an id or a display name) to the field it names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from caspira_hookspecs import MappingError, RemoteError
from caspira_jira._client import JiraClient
from caspira_jira._fields import FieldSpec

__all__ = ["CreateScreen", "ScreenCatalogue"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateScreen:
    """The fields one issue type of one project can be created with."""

    project: str
    issue_type: str
    issue_type_id: str
    fields: dict[str, FieldSpec]

    def by_key(self, key: str) -> FieldSpec | None:
        """The field whose id is ``key``, or whose display name is ``key``.

        An exact name wins over one that differs only in case; a name that several
        fields share is ambiguous and answers ``None`` (``resolve`` says so).
        """
        if key in self.fields:
            return self.fields[key]
        for matches in (
            [spec for spec in self.fields.values() if spec.name == key],
            [s for s in self.fields.values() if s.name.casefold() == key.casefold()],
        ):
            if len(matches) == 1:
                return matches[0]
            if matches:
                return None
        return None

    def names_sharing(self, key: str) -> list[FieldSpec]:
        folded = key.casefold()
        return [spec for spec in self.fields.values() if spec.name.casefold() == folded]


class ScreenCatalogue:
    """Create screens and the site's field list, fetched once per catalogue."""

    def __init__(self, client: JiraClient) -> None:
        self._client = client
        self._screens: dict[tuple[str, str], CreateScreen] = {}
        self._site_fields: list[dict[str, Any]] | None = None

    async def screen(
        self, project: str, issue_type: str, record_id: str
    ) -> CreateScreen:
        """The create screen of ``issue_type`` (a name or an id) in ``project``."""
        cached = self._screens.get((project, issue_type))
        if cached is not None:
            return cached

        try:
            types = await self._client.create_issue_types(project)
        except RemoteError as exc:
            if exc.status in (400, 404):
                raise MappingError(
                    record_id,
                    "project",
                    f"Jira has no project {project!r} that "
                    f"{self._client.settings.account} can create issues in "
                    f"({exc.detail})",
                    "correct the flow's project (or the route) to a project key, "
                    "or give the account the Create Issues permission there",
                ) from exc
            raise
        chosen = _choose_issue_type(types, issue_type)
        if chosen is None:
            names = ", ".join(repr(t.get("name")) for t in types) or "none"
            raise MappingError(
                record_id,
                "issue_type",
                f"project {project} has no issue type {issue_type!r} (it has {names})",
                "correct the flow's issue_type (or the route) to one of those",
            )

        screen = await self._read(project, str(chosen.get("name", issue_type)), chosen)
        self._screens[(project, issue_type)] = screen
        return screen

    async def _read(
        self, project: str, issue_type: str, chosen: dict[str, Any]
    ) -> CreateScreen:
        fields = await self._client.create_fields(project, str(chosen["id"]))
        log.debug(
            "jira.screen_read",
            extra={"project": project, "issue_type": issue_type, "fields": len(fields)},
        )
        return CreateScreen(
            project=project,
            issue_type=issue_type,
            issue_type_id=str(chosen["id"]),
            fields={
                str(item["fieldId"]): _spec(item)
                for item in fields
                if "fieldId" in item
            },
        )

    async def _reread(self, screen: CreateScreen) -> CreateScreen:
        """``screen`` read again from Jira, replacing it in the cache."""
        fresh = await self._read(
            screen.project, screen.issue_type, {"id": screen.issue_type_id}
        )
        for key, cached in list(self._screens.items()):
            if cached is screen:
                self._screens[key] = fresh
        return fresh

    def forget(self, project: str, issue_type: str) -> None:
        """Drop a cached screen and field list, so the next use reads them again."""
        self._screens.pop((project, issue_type), None)
        self._site_fields = None

    async def resolve(
        self, screen: CreateScreen, key: str, record_id: str
    ) -> FieldSpec:
        """The field a flow's ``key`` names on ``screen``, or a MappingError."""
        spec = screen.by_key(key)
        if spec is not None:
            return spec
        # The screen may have changed since it was cached: look once more.
        screen = await self._reread(screen)
        spec = screen.by_key(key)
        if spec is not None:
            return spec

        where = f"the create screen of {screen.project} {screen.issue_type}"
        sharing = screen.names_sharing(key)
        if len(sharing) > 1:
            ids = ", ".join(s.id for s in sharing)
            raise MappingError(
                record_id,
                key,
                f"several fields on {where} are named {key!r} ({ids})",
                "name the field by its id in the flow's fields",
            )

        known = await self._site_field(key)
        if known is not None:
            raise MappingError(
                record_id,
                key,
                f"Jira field {known.get('name')} ({known.get('id')}) is not on {where}",
                f"add it to that screen in Jira, or remove {key!r} from the flow",
            )
        offered = ", ".join(sorted(spec.name for spec in screen.fields.values()))
        raise MappingError(
            record_id,
            key,
            f"Jira has no field with the id or name {key!r}",
            f"use a field of {where}: {offered}",
        )

    async def _site_field(self, key: str) -> dict[str, Any] | None:
        if self._site_fields is None:
            self._site_fields = await self._client.fields()
        folded = key.casefold()
        for field in self._site_fields:
            if (
                field.get("id") == key
                or str(field.get("name", "")).casefold() == folded
            ):
                return field
        return None


def _choose_issue_type(
    types: list[dict[str, Any]], wanted: str
) -> dict[str, Any] | None:
    for issue_type in types:
        if str(issue_type.get("id")) == wanted:
            return issue_type
    folded = wanted.casefold()
    for issue_type in types:
        if str(issue_type.get("name", "")).casefold() == folded:
            return issue_type
    return None


def _spec(item: dict[str, Any]) -> FieldSpec:
    allowed = item.get("allowedValues")
    return FieldSpec(
        id=str(item["fieldId"]),
        name=str(item.get("name", item["fieldId"])),
        schema=dict(item.get("schema") or {}),
        allowed_values=tuple(allowed) if isinstance(allowed, list) else None,
        required=bool(item.get("required", False)),
    )
