"""An async client for the Jira REST calls caspira makes; one method sends every call
through the rate governor (``_ratelimit``) and maps every failure to caspira's errors,
and Jira's paging styles (offset and token) live here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from caspira_hookspecs import RemoteError, RetryableError
from caspira_jira._dialect import Dialect, dialect_for
from caspira_jira._ratelimit import JiraCall, RateGovernor
from caspira_jira._settings import JiraSettings

__all__ = ["JiraClient"]

log = logging.getLogger(__name__)

_SERVICE = "jira"
_USER_AGENT = "caspira-jira/0.1"
_ISSUE = "/issue/{issueIdOrKey}"
# Methods whose second send does what the first did, so a lost answer may be resent.
_REPEATABLE = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class JiraClient:
    """Calls Jira as the account of the API token (or personal access token) given."""

    def __init__(
        self,
        settings: JiraSettings,
        api_token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        governor: RateGovernor | None = None,
    ) -> None:
        self.settings = settings
        self.dialect: Dialect = dialect_for(settings.deployment)
        self.governor = governor or RateGovernor(settings.max_wait_seconds)
        self._field_names: dict[str, str] = {}
        self._http = httpx.AsyncClient(
            base_url=settings.site + self.dialect.api_root,
            auth=self.dialect.auth(settings.email, api_token),
            headers={"Accept": "application/json", "User-Agent": _USER_AGENT},
            timeout=settings.timeout_seconds,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def browse_url(self, key: str) -> str:
        """Where a person opens the issue ``key`` in a browser."""
        return f"{self.settings.site}/browse/{key}"

    # --- Fields and create metadata -------------------------------------------------

    async def fields(self) -> list[dict[str, Any]]:
        """Every field of the site, system and custom (``GET /field``)."""
        answer = await self._call("list fields", "GET", "/field")
        fields: list[dict[str, Any]] = answer.json()
        self._remember_names(fields, "id")
        return fields

    async def create_issue_types(self, project: str) -> list[dict[str, Any]]:
        """The issue types a project's create screen offers."""
        return await self._offset_pages(
            f"read the issue types of project {project}",
            f"/issue/createmeta/{project}/issuetypes",
            ("issueTypes", "createMetaIssueType", "values"),
            endpoint="/issue/createmeta/{projectIdOrKey}/issuetypes",
        )

    async def create_fields(
        self, project: str, issue_type_id: str
    ) -> list[dict[str, Any]]:
        """The fields on the create screen of one issue type in a project."""
        fields = await self._offset_pages(
            f"read the create screen of project {project}, issue type {issue_type_id}",
            f"/issue/createmeta/{project}/issuetypes/{issue_type_id}",
            ("fields", "results", "values"),
            endpoint="/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        )
        self._remember_names(fields, "fieldId")
        return fields

    # --- Users ----------------------------------------------------------------------

    async def myself(self) -> dict[str, Any]:
        """The account caspira acts as."""
        return (await self._call("read the caspira account", "GET", "/myself")).json()

    async def search_users(
        self, query: str, *, limit: int = 10
    ) -> list[dict[str, Any]]:
        """Accounts whose e-mail address or name starts with ``query``."""
        answer = await self._call(
            "search users",
            "GET",
            "/user/search",
            params={**self.dialect.user_search(query), "maxResults": limit},
        )
        return answer.json()

    # --- Issues ---------------------------------------------------------------------

    async def create_issue(
        self, fields: dict[str, Any], *, update: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Create an issue; answers Jira's ``{"id", "key", "self"}``."""
        body: dict[str, Any] = {"fields": fields}
        if update:
            body["update"] = update
        project = fields.get("project", {}).get("key", "?")
        answer = await self._call(
            f"create an issue in project {project}",
            "POST",
            "/issue",
            json=body,
            expect=(201,),
        )
        return answer.json()

    async def edit_issue(
        self, key: str, fields: dict[str, Any], *, update: dict[str, Any] | None = None
    ) -> None:
        """Change an issue's ``fields`` and apply ``update`` operations to it."""
        body: dict[str, Any] = {"fields": fields}
        if update:
            body["update"] = update
        await self._call(
            f"update issue {key}",
            "PUT",
            f"/issue/{key}",
            json=body,
            expect=(204,),
            endpoint=_ISSUE,
            issue=key,
        )

    async def get_issue(
        self, key: str, fields: Sequence[str] = ("*all",)
    ) -> dict[str, Any]:
        """One issue with the ``fields`` asked for."""
        answer = await self._call(
            f"read issue {key}",
            "GET",
            f"/issue/{key}",
            params={"fields": ",".join(fields)},
            endpoint=_ISSUE,
        )
        return answer.json()

    async def search_issues(
        self, jql: str, *, fields: Sequence[str] = ("id",), page_size: int = 50
    ) -> AsyncIterator[dict[str, Any]]:
        """Every issue ``jql`` matches, page after page.

        Cloud pages ``POST /search/jql`` by ``nextPageToken`` and answers only ids
        unless ``fields`` names more; Server pages ``POST /search`` by ``startAt``
        against ``total``. Either may answer fewer issues per page than asked.
        """
        pages = (
            self._token_search(jql, fields, page_size)
            if self.dialect.search_paging == "token"
            else self._offset_search(jql, fields, page_size)
        )
        async for issue in pages:
            yield issue

    async def _token_search(
        self, jql: str, fields: Sequence[str], page_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        token: str | None = None
        while True:
            body: dict[str, Any] = {
                "jql": jql,
                "fields": list(fields),
                "maxResults": page_size,
            }
            if token:
                body["nextPageToken"] = token
            answer = await self._call(
                "search issues", "POST", "/search/jql", json=body, repeatable=True
            )
            page = answer.json()
            for issue in page.get("issues", []):
                yield issue
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                return

    async def _offset_search(
        self, jql: str, fields: Sequence[str], page_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        seen = 0
        while True:
            body = {
                "jql": jql,
                "fields": list(fields),
                "startAt": seen,
                "maxResults": page_size,
            }
            answer = await self._call(
                "search issues", "POST", "/search", json=body, repeatable=True
            )
            page = answer.json()
            issues = page.get("issues") or []
            for issue in issues:
                yield issue
            seen += len(issues)
            if not issues or seen >= int(page.get("total", seen)):
                return

    # --- Transitions and comments -----------------------------------------------

    async def transitions(self, key: str) -> list[dict[str, Any]]:
        """The transitions open to issue ``key`` now, with their screens' fields."""
        answer = await self._call(
            f"read the transitions of issue {key}",
            "GET",
            f"/issue/{key}/transitions",
            params={"expand": "transitions.fields"},
            endpoint=_ISSUE + "/transitions",
        )
        return list(answer.json().get("transitions") or [])

    async def transition_issue(
        self, key: str, transition_id: str, fields: dict[str, Any]
    ) -> None:
        """Take transition ``transition_id`` on issue ``key``, setting ``fields``."""
        body: dict[str, Any] = {"transition": {"id": transition_id}}
        if fields:
            body["fields"] = fields
        await self._call(
            f"transition issue {key}",
            "POST",
            f"/issue/{key}/transitions",
            json=body,
            expect=(204,),
            endpoint=_ISSUE + "/transitions",
            issue=key,
        )

    async def add_comment(self, key: str, body: Any) -> dict[str, Any]:
        """Add a comment (ADF on Cloud, wiki markup on Server) to issue ``key``."""
        answer = await self._call(
            f"comment on issue {key}",
            "POST",
            f"/issue/{key}/comment",
            json={"body": body},
            expect=(201,),
            endpoint=_ISSUE + "/comment",
            issue=key,
        )
        return answer.json()

    # --- The one way every call is made -------------------------------------------

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        expect: tuple[int, ...] = (200,),
        endpoint: str | None = None,
        issue: str | None = None,
        repeatable: bool | None = None,
    ) -> httpx.Response:
        """Send one call, paced by the governor; ``endpoint`` is ``path``'s template
        and ``issue`` the issue the call writes to."""
        call = JiraCall(
            operation,
            method,
            endpoint or path,
            issue=issue,
            repeatable=method in _REPEATABLE if repeatable is None else repeatable,
        )
        pace = self.governor.pace(call)
        while True:
            await pace.turn()
            response = await self._send(operation, method, path, params, json)
            if not pace.again(response):
                break

        if response.status_code not in expect:
            raise self._error(operation, response, pace.retry_after)
        if response.status_code != 204 and not _is_json(response):
            raise RemoteError(
                _SERVICE,
                operation,
                response.status_code,
                f"{self.settings.site} answered with {_content_type(response)!r}, "
                "not JSON; check that [jira] site is the address of the Jira site "
                "itself, not a login page or a proxy",
            )
        return response

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: Any,
    ) -> httpx.Response:
        started = time.monotonic()
        try:
            response = await self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException:
            raise RetryableError(
                _SERVICE,
                operation,
                None,
                f"{self.settings.site} gave no answer within "
                f"{self.settings.timeout_seconds:g} s; it is retried later, and a "
                "longer [jira] timeout_seconds helps if this keeps happening",
            ) from None
        except httpx.TransportError as exc:
            raise RetryableError(
                _SERVICE,
                operation,
                None,
                f"could not reach {self.settings.site} ({type(exc).__name__}: {exc}); "
                "check [jira] site and the network",
            ) from None
        except httpx.HTTPError as exc:
            raise RemoteError(
                _SERVICE,
                operation,
                None,
                f"the call to {self.settings.site} failed ({type(exc).__name__}: "
                f"{exc}); check [jira] site",
            ) from None

        log.debug(
            "jira.call",
            extra={
                "method": method,
                "path": path,
                "status": response.status_code,
                "elapsed_ms": round((time.monotonic() - started) * 1000),
            },
        )
        return response

    def _error(
        self, operation: str, response: httpx.Response, retry_after: float | None
    ) -> RemoteError:
        status = response.status_code
        messages, field = self._messages(response)
        if status == 429 or status >= 500:
            return RetryableError(
                _SERVICE,
                operation,
                status,
                messages or f"Jira is unavailable (HTTP {status}); it is retried later",
                retry_after=retry_after,
                field=field,
            )
        if status == 401:
            what = (
                "check [jira] email and the API token"
                if self.settings.deployment == "cloud"
                else "check the personal access token"
            )
            messages = (
                f"Jira refused the credentials of {self.settings.account} "
                f"({messages}). Fix: {what} in the environment variable "
                f"{self.settings.api_token_env}"
            )
        elif status == 403:
            messages = (
                f"{messages}. Fix: give {self.settings.account} the Jira permission "
                "this needs, such as Create Issues, Edit Issues, Transition Issues or "
                "Add Comments in the project"
            )
        return RemoteError(_SERVICE, operation, status, messages, field=field)

    def _messages(self, response: httpx.Response) -> tuple[str, str | None]:
        """Jira's ``errorMessages`` and ``errors`` as one text, and the first field."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = " ".join(response.text.split())[:200]
            return text or response.reason_phrase, None

        parts = [str(message) for message in body.get("errorMessages") or []]
        errors = body.get("errors") or {}
        for field_id, message in errors.items():
            name = self._field_names.get(field_id)
            where = f"{field_id} ({name})" if name and name != field_id else field_id
            parts.append(f"{where}: {message}")
        field = next(iter(errors), None)
        return "; ".join(parts) or response.reason_phrase, field

    def _remember_names(self, fields: list[dict[str, Any]], id_key: str) -> None:
        for field in fields:
            if field.get(id_key) and field.get("name"):
                self._field_names[field[id_key]] = field["name"]

    async def _offset_pages(
        self,
        operation: str,
        path: str,
        keys: tuple[str, ...],
        *,
        endpoint: str,
        page_size: int = 50,
    ) -> list[dict[str, Any]]:
        """All items of a ``startAt``/``maxResults``/``total`` paged list."""
        items: list[dict[str, Any]] = []
        while True:
            answer = await self._call(
                operation,
                "GET",
                path,
                params={"startAt": len(items), "maxResults": page_size},
                endpoint=endpoint,
            )
            body = answer.json()
            page = next((body[key] for key in keys if key in body), [])
            items.extend(page)
            total = body.get("total")
            if not page or (total is not None and len(items) >= total):
                return items
            if total is None and len(page) < page_size:
                return items


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


def _is_json(response: httpx.Response) -> bool:
    kind = _content_type(response)
    if kind != "application/json" and not kind.endswith("+json"):
        return False
    try:
        response.json()
    except ValueError:
        return False
    return True
