"""An async client for Caspio's REST API v3: token, records, fields, errors.

Every failure surfaces as :class:`~caspira_hookspecs.RemoteError`, or as
:class:`~caspira_hookspecs.RetryableError` when a later attempt may succeed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from caspira_caspio._retry_after import retry_after_seconds
from caspira_caspio._where import where_equals
from caspira_hookspecs import MappingError, RemoteError, RetryableError

__all__ = ["MAX_URI_LENGTH", "CaspioClient"]

log = logging.getLogger(__name__)

#: Caspio refuses request URIs longer than this many characters.
MAX_URI_LENGTH = 2047

SERVICE = "caspio"

#: Caspio's documented token lifetime, assumed when an answer does not say.
_TOKEN_LIFETIME = 86399.0

_FIXES = {
    400: "check the table's field names and the q.where clause",
    401: "check the REST profile's client id and secret",
    403: "give the REST profile access to this table in Caspio",
    404: "check the table name configured for the flow",
}


class CaspioClient:
    """Calls one Caspio account as one REST profile (OAuth client credentials).

    ``transport`` replaces the network (tests pass an ``httpx.ASGITransport`` of the
    emulator); ``clock`` returns seconds and decides when the token is renewed;
    ``wall_clock`` (seconds since the epoch) reads ``Retry-After`` dates.
    ``credential_env`` names the environment variables the client id and secret
    came from, for errors that tell the operator where to fix them.

    No call is repeated here except once with a renewed token: failures worth
    another try are :class:`~caspira_hookspecs.RetryableError`, and the caller
    retries. A write whose connection was lost may have been done, so only writes
    that are harmless twice should be retried blindly.
    """

    def __init__(
        self,
        account_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        credential_env: tuple[str, str] | None = None,
    ) -> None:
        self.account_url = account_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._wall_clock = wall_clock
        self._timeout = timeout
        if credential_env is None:
            self._credentials = "given to CaspioClient"
        else:
            self._credentials = (
                f"in the environment variables {credential_env[0]} and "
                f"{credential_env[1]}"
            )
        self._http = httpx.AsyncClient(
            base_url=f"{self.account_url}/integrations/rest/v3",
            timeout=timeout,
            transport=transport,
        )
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = anyio.Lock()

    async def __aenter__(self) -> CaspioClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- records --------------------------------------------------------------

    async def list_records(
        self,
        table: str,
        where: str | None = None,
        page_size: int = 1000,
        *,
        select: list[str] | None = None,
        order_by: str | None = "PK_ID",
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record of ``table`` matching ``where``, fetched page by page.

        Pages are ordered by ``order_by`` (``PK_ID`` unless told otherwise) so a
        record inserted while paging cannot shift another out of view.
        """
        if not 5 <= page_size <= 1000:
            raise ValueError(f"page_size {page_size} is out of range; use 5 to 1000")
        params: dict[str, Any] = {"q.pageSize": page_size}
        if where:
            params["q.where"] = where
        if order_by:
            params["q.orderBy"] = order_by
        if select:
            params["q.select"] = ",".join(select)

        page = 1
        while True:
            response = await self._call(
                "list_records",
                table,
                "GET",
                _records_path(table),
                params={**params, "q.pageNumber": page},
            )
            records = _result("list_records", response)
            for record in records:
                yield record
            if len(records) < page_size:
                return
            page += 1

    async def get_record(self, table: str, pk_id: int | str) -> dict[str, Any] | None:
        """The record whose ``PK_ID`` is ``pk_id``, or ``None`` when there is none."""
        response = await self._call(
            "get_record",
            table,
            "GET",
            _records_path(table),
            params={"q.where": _pk_where(table, pk_id)},
        )
        records = _result("get_record", response)
        return records[0] if records else None

    async def insert_record(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a record; answer it as stored, with its new ``PK_ID``.

        Not harmless twice: after a :class:`~caspira_hookspecs.RetryableError`
        without a status the record may exist, so look before inserting again.
        """
        response = await self._call(
            "insert_record",
            table,
            "POST",
            _records_path(table),
            params={"response": "rows"},
            json=values,
        )
        return _result("insert_record", response)[0]

    async def update_record(
        self, table: str, pk_id: int | str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Change ``values`` on one record; answer the record as stored."""
        response = await self._call(
            "update_record",
            table,
            "PUT",
            _records_path(table),
            params={"q.where": _pk_where(table, pk_id), "response": "rows"},
            json=values,
        )
        records = _result("update_record", response)
        if not records:
            raise RemoteError(
                SERVICE,
                "update_record",
                response.status_code,
                f"table {table!r} has no record with PK_ID {pk_id}; it may have been "
                "deleted in Caspio, so unlink it or restore the record",
            )
        return records[0]

    async def list_fields(self, table: str) -> list[dict[str, Any]]:
        """The field definitions of ``table`` (``Name``, ``Type``, ``Editable``...)."""
        path = f"/tables/{quote(table, safe='')}/fields"
        response = await self._call("list_fields", table, "GET", path)
        return _result("list_fields", response)

    # --- one call -------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        table: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        request = self._http.build_request(method, path, params=params, json=json)
        uri_length = len(str(request.url))
        if uri_length > MAX_URI_LENGTH:
            raise RemoteError(
                SERVICE,
                operation,
                None,
                f"table {table!r}: the request URI would be {uri_length} characters, "
                f"over Caspio's limit of {MAX_URI_LENGTH}; not sent. Shorten q.where "
                "(fewer IN values) or split the query",
            )

        token = await self._current_token()
        response = await self._send(operation, request, token)
        if _token_refused(response):
            log.info("caspio.token.refused", extra={"status": response.status_code})
            token = await self._renew_token(refused=token)
            response = await self._send(operation, request, token)
            if _token_refused(response):
                raise self._refused_again(operation, table, response)

        if response.is_success:
            return response
        raise self._error(operation, table, response)

    async def _send(
        self, operation: str, request: httpx.Request, token: str
    ) -> httpx.Response:
        request.headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._no_answer(operation, request, exc) from None
        log.debug(
            "caspio.call",
            extra={"operation": operation, "status": response.status_code},
        )
        return response

    def _no_answer(
        self, operation: str, request: httpx.Request, exc: httpx.HTTPError
    ) -> RetryableError:
        name, host = type(exc).__name__, request.url.host
        retried = "; the call will be retried"
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return RetryableError(
                SERVICE,
                operation,
                None,
                f"{name} calling {host}: Caspio could not be reached{retried}",
            )

        if isinstance(exc, httpx.TimeoutException):
            said = f"{name}: {host} gave no answer within {self._timeout:g} s"
            fix = (
                f"{retried}. If Caspio is often this slow, raise caspio.timeout_seconds"
            )
        else:
            said = (
                f"{name} calling {host}: Caspio closed the connection without an answer"
            )
            fix = retried
        if request.method != "GET" and operation != "token":
            # The request may have reached Caspio; only its answer is known lost.
            said += ", so the write may have been done"
        return RetryableError(SERVICE, operation, None, said + fix)

    def _error(
        self, operation: str, table: str | None, response: httpx.Response
    ) -> RemoteError:
        retry_after = retry_after_seconds(
            response.headers.get("Retry-After"), self._wall_clock()
        )
        fix = None
        if operation == "token":
            fix = f"check the REST profile's client id and secret {self._credentials}"
        return _error(operation, table, response, retry_after=retry_after, fix=fix)

    def _refused_again(
        self, operation: str, table: str, response: httpx.Response
    ) -> RemoteError:
        """Caspio refused the token it had just issued: not worth another try."""
        credentials = f"the client id and secret {self._credentials}"
        if response.status_code == 401:
            fix = (
                "Caspio refused a token it had just issued, so the REST profile's "
                "credentials are wrong or the profile is disabled: check "
                f"{credentials} against the profile in Caspio"
            )
        else:
            fix = (
                "Caspio refused the call again with a new token: a query parameter "
                "is wrong, or the REST profile's credentials are (some accounts "
                f"answer a refused token this way): check the query and {credentials}"
            )
        return _error(operation, table, response, retry_after=None, fix=fix)

    # --- the token ------------------------------------------------------------

    async def _current_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and self._clock() < self._token_expires_at:
                return self._token
            return await self._fetch_token()

    async def _renew_token(self, *, refused: str) -> str:
        async with self._token_lock:
            # Another call may have renewed it while this one waited for the lock.
            if self._token != refused and self._token is not None:
                return self._token
            return await self._fetch_token()

    async def _fetch_token(self) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        request = self._http.build_request(
            "POST", f"{self.account_url}/oauth/token", data=form
        )
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._no_answer("token", request, exc) from None
        if not response.is_success:
            raise self._error("token", None, response)

        try:
            answer = response.json()
        except ValueError:
            answer = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise RemoteError(
                SERVICE,
                "token",
                response.status_code,
                "the answer holds no access_token; check that account_url names the "
                "Caspio account and not a proxy or login page",
            )
        lifetime = _lifetime(answer.get("expires_in"))
        # Renew well before the end, so a call in flight never carries a dying token.
        margin = min(300.0, lifetime / 10)
        self._token = token
        self._token_expires_at = self._clock() + lifetime - margin
        log.info("caspio.token.issued", extra={"expires_in": lifetime})
        return self._token


def _lifetime(expires_in: Any) -> float:
    """The token's lifetime in seconds; Caspio's 24 hours when the answer is odd."""
    if isinstance(expires_in, bool):
        return _TOKEN_LIFETIME
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        return _TOKEN_LIFETIME
    if not math.isfinite(lifetime) or lifetime <= 0:
        return _TOKEN_LIFETIME
    return lifetime


def _records_path(table: str) -> str:
    return f"/tables/{quote(table, safe='')}/records"


def _pk_where(table: str, pk_id: int | str) -> str:
    text = str(pk_id)
    if not text.isdigit():
        raise MappingError(
            text,
            "PK_ID",
            f"is not a Caspio record id of table {table!r}",
            "link records by their numeric PK_ID",
        )
    return where_equals("PK_ID", int(text))


def _result(operation: str, response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise RemoteError(
            SERVICE,
            operation,
            response.status_code,
            "the answer is not Caspio's JSON; check that account_url names the "
            "Caspio account and not a proxy or login page",
        )
    return list(body.get("Result") or [])


def _token_refused(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    # Some accounts answer an expired token with 400 IncorrectQueryParameter.
    return response.status_code == 400 and _caspio_error(response)[0] == (
        "IncorrectQueryParameter"
    )


def _caspio_error(response: httpx.Response) -> tuple[str, str, str]:
    """Caspio's ``Code``, ``Message`` and request id, as far as the answer has them."""
    request_id = response.headers.get("X-Caspio-Request-ID", "")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "", response.reason_phrase or "no error body", request_id
    return (
        str(body.get("Code") or ""),
        str(body.get("Message") or ""),
        request_id or str(body.get("RequestId") or ""),
    )


def _error(
    operation: str,
    table: str | None,
    response: httpx.Response,
    *,
    retry_after: float | None,
    fix: str | None,
) -> RemoteError:
    status = response.status_code
    code, message, request_id = _caspio_error(response)
    about = f"table {table!r}: " if table else ""
    said = f"{code}: {message}" if code else message
    tracked = f" (request id {request_id})" if request_id else ""

    if status == 429 or status >= 500:
        return RetryableError(
            SERVICE,
            operation,
            status,
            f"{about}{said}{tracked}; the call will be retried",
            retry_after=retry_after,
        )
    fix = fix or _FIXES.get(status, "see Caspio's message")
    return RemoteError(SERVICE, operation, status, f"{about}{said}{tracked}; {fix}")
