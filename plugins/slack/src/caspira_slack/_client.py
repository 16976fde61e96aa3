"""Posting a message to Slack through an incoming webhook or ``chat.postMessage``.

Failures become ``RemoteError``, or ``RetryableError`` when a retry may succeed.
"""

from __future__ import annotations

import json
import math
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from caspira_hookspecs import RemoteError, RetryableError
from caspira_slack._redact import Redactor

__all__ = ["ChannelDestination", "WebhookDestination"]

SERVICE = "slack"

#: Web API error codes for a failure that may pass on a later attempt.
_RETRYABLE_CODES = frozenset(
    {
        "rate_limited",
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)

_REFUSED_MESSAGE = (
    "Slack refused the message caspira built; report it with the notification's "
    "title and text"
)

_REFUSED_CODES = frozenset(
    {
        "invalid_payload",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "too_many_attachments",
        "invalid_json",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "invalid_charset",
        "invalid_arg_name",
        "invalid_array_arg",
    }
)

_DETAIL_LIMIT = 200


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header, given as seconds or as a date."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _short(text: str, redact: Redactor) -> str:
    """The first line of a service's answer, cleaned of secrets and kept short."""
    first = redact(text.strip()).splitlines()[0] if text.strip() else ""
    return first[:_DETAIL_LIMIT]


class _Destination:
    """What both ways of posting share: sending, and reading HTTP-level failures."""

    operation = ""

    def __init__(self, http: httpx.AsyncClient, redact: Redactor) -> None:
        self._http = http
        self._redact = redact

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._http.send(request)
        except httpx.TimeoutException:
            raise RetryableError(
                SERVICE,
                self.operation,
                None,
                "Slack did not answer in time; the post will be retried (raise "
                "[slack] timeout_seconds if this keeps happening)",
            ) from None
        except httpx.TransportError as exc:
            # from None: httpx's own exception may carry the request, URL included.
            reason = self._redact(str(exc)) or "no reason given"
            raise RetryableError(
                SERVICE,
                self.operation,
                None,
                f"could not reach Slack ({type(exc).__name__}: {reason}); check the "
                "network or proxy between caspira and Slack",
            ) from None

        if response.status_code == 429:
            wait = _retry_after(response)
            when = "a while" if wait is None else f"{wait:g} seconds"
            raise RetryableError(
                SERVICE,
                self.operation,
                429,
                f"rate limited by Slack; wait {when} before posting again",
                retry_after=wait,
            )
        if response.status_code >= 500 or response.status_code == 408:
            answer = _short(response.text, self._redact) or response.reason_phrase
            raise RetryableError(
                SERVICE,
                self.operation,
                response.status_code,
                f"{answer}; Slack is having trouble, the post will be retried",
                retry_after=_retry_after(response),
            )
        return response


class WebhookDestination(_Destination):
    """An incoming webhook: a secret URL posting to the one channel it was made for."""

    operation = "incoming webhook"

    def __init__(
        self, http: httpx.AsyncClient, url: str, *, url_env: str, redact: Redactor
    ) -> None:
        super().__init__(http, redact)
        self._url = url
        self._url_env = url_env

    def _fix(self, code: str, status: int) -> str:
        if code in _REFUSED_CODES:
            return _REFUSED_MESSAGE
        if code in ("channel_not_found", "channel_is_archived"):
            return (
                "the webhook's channel was deleted or archived; make a webhook for a "
                f"live channel and put its URL in {self._url_env}"
            )
        if code in ("action_prohibited", "posting_to_general_channel_denied"):
            return (
                "a workspace admin restricts posting to the webhook's channel; ask "
                f"them, or put a webhook for another channel in {self._url_env}"
            )
        if status in (401, 403, 404, 410) or code in (
            "no_service",
            "no_service_id",
            "no_team",
            "team_disabled",
            "invalid_token",
        ):
            return (
                f"the incoming webhook in {self._url_env} is disabled, removed or "
                f"mistyped; create one in Slack and put its URL in {self._url_env}"
            )
        return f"check the incoming webhook in {self._url_env}"

    async def post(self, message: dict[str, Any]) -> None:
        """Post ``message`` (``text`` and ``blocks``); raise if Slack refuses it."""
        request = self._http.build_request("POST", self._url, json=message)
        response = await self._send(request)

        if response.status_code == 200:
            return
        code = _short(response.text, self._redact) or response.reason_phrase
        raise RemoteError(
            SERVICE,
            self.operation,
            response.status_code,
            f"{code}; {self._fix(code, response.status_code)}",
        )


class ChannelDestination(_Destination):
    """``chat.postMessage`` with a bot token, to one configured channel."""

    operation = "chat.postMessage"

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        token: str,
        channel: str,
        *,
        token_env: str,
        redact: Redactor,
    ) -> None:
        super().__init__(http, redact)
        self._url = f"{api_url}/chat.postMessage"
        self._token = token
        self._channel = channel
        self._token_env = token_env

    def _fix(self, code: str) -> str:
        if code in _REFUSED_CODES:
            return _REFUSED_MESSAGE
        if code == "channel_not_found":
            return (
                f"no channel {self._channel!r} is visible to the bot; check [slack] "
                "channel, and invite the bot if the channel is private"
            )
        if code == "not_in_channel":
            return f"invite the bot to {self._channel!r} (/invite @your-bot there)"
        if code == "is_archived":
            return (
                f"channel {self._channel!r} is archived; set [slack] channel to a "
                "live one"
            )
        if code in (
            "not_authed",
            "invalid_auth",
            "account_inactive",
            "token_revoked",
            "token_expired",
            "not_allowed_token_type",
        ):
            return f"put a valid bot token (xoxb-...) in {self._token_env}"
        if code == "missing_scope":
            return "give the Slack app the chat:write scope and reinstall it"
        return "see Slack's chat.postMessage documentation for this error"

    async def post(self, message: dict[str, Any]) -> str:
        """Post ``message`` to the channel; answer the new message's ``ts``."""
        body = json.dumps({"channel": self._channel, **message}).encode()
        request = self._http.build_request(
            "POST",
            self._url,
            content=body,
            headers={
                "Authorization": f"Bearer {self._token}",
                # Slack warns about a JSON body whose charset is not stated.
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        response = await self._send(request)

        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "ok" not in answer:
            text = _short(response.text, self._redact) or response.reason_phrase
            raise RemoteError(
                SERVICE,
                self.operation,
                response.status_code,
                f"unexpected answer {text!r}; check that [slack] api_url points at "
                "Slack's Web API (https://slack.com/api)",
            )
        if answer["ok"] is True:
            return str(answer.get("ts", ""))

        code = self._redact(str(answer.get("error", "unknown_error")))[:_DETAIL_LIMIT]
        error_type = RetryableError if code in _RETRYABLE_CODES else RemoteError
        raise error_type(
            SERVICE, self.operation, response.status_code, f"{code}; {self._fix(code)}"
        )
