"""An in-memory Slack for tests and demos: incoming webhooks and ``chat.postMessage``.

Its options are :func:`create_app`'s keyword arguments. Routes under ``/_emulator/``
belong to this emulator (messages received, queued failures), not to Slack's API.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["SlackEmulator", "create_app"]

log = logging.getLogger(__name__)

TEAM_ID = "T0CASPIRA0"
BOT_ID = "B0CASPIRA0"
BOT_USER_ID = "U0CASPIRA0"

#: Slack cuts or refuses message text longer than this.
TEXT_LIMIT = 40_000

_MESSAGE_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


@dataclass(frozen=True)
class QueuedFailure:
    """An answer the emulator gives instead of handling the next request."""

    status: int
    error: str
    retry_after: int | None = None


def channel_id(name: str) -> str:
    """The stable, Slack-shaped id the emulator gives the channel ``name``."""
    return "C" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


def _text_object_problem(text: Any, where: str, limit: int) -> str | None:
    if not isinstance(text, dict) or text.get("type") not in _TEXT_TYPES:
        return f"{where} must be a plain_text or mrkdwn text object"
    value = text.get("text")
    if not isinstance(value, str) or not value:
        return f"{where}.text must be a non-empty string"
    if len(value) > limit:
        return f"{where}.text must be at most {limit} characters"
    return None


def block_problem(blocks: Any) -> str | None:
    """Why Slack would refuse ``blocks`` (``invalid_blocks``), or None if it takes them.

    Checks the blocks a notification uses (header, section, context, divider) in
    depth and the other message block types by name only.
    """
    if not isinstance(blocks, list):
        return "blocks must be an array"
    if len(blocks) > 50:
        return "a message has at most 50 blocks"
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"{where} must be an object with a type"
        kind = block["type"]
        if kind not in _MESSAGE_BLOCK_TYPES:
            return f"{where}: unknown block type {kind!r}"
        block_id = block.get("block_id")
        if block_id is not None and (
            not isinstance(block_id, str) or len(block_id) > 255
        ):
            return f"{where}.block_id must be a string of at most 255 characters"
        problem = None
        if kind == "header":
            text = block.get("text")
            problem = _text_object_problem(text, f"{where}.text", 150)
            if problem is None and text["type"] != "plain_text":
                problem = f"{where}.text must be plain_text"
        elif kind == "section":
            problem = _section_problem(block, where)
        elif kind == "context":
            problem = _context_problem(block, where)
        if problem:
            return problem
    return None


def _section_problem(block: dict[str, Any], where: str) -> str | None:
    if "text" not in block and "fields" not in block:
        return f"{where} needs text or fields"
    if "text" in block:
        problem = _text_object_problem(block["text"], f"{where}.text", 3000)
        if problem:
            return problem
    if "fields" in block:
        fields = block["fields"]
        if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
            return f"{where}.fields must hold 1 to 10 text objects"
        for number, field in enumerate(fields):
            problem = _text_object_problem(field, f"{where}.fields[{number}]", 2000)
            if problem:
                return problem
    return None


def _context_problem(block: dict[str, Any], where: str) -> str | None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
        return f"{where}.elements must hold 1 to 10 elements"
    for number, element in enumerate(elements):
        if isinstance(element, dict) and element.get("type") == "image":
            continue
        problem = _text_object_problem(element, f"{where}.elements[{number}]", 3000)
        if problem:
            return problem
    return None


def message_problem(payload: dict[str, Any]) -> str | None:
    """The Slack error code a message earns, or None when Slack would post it."""
    text = payload.get("text")
    blocks = payload.get("blocks")
    if text is not None and not isinstance(text, str):
        return "invalid_payload"
    if blocks is not None:
        problem = block_problem(blocks)
        if problem:
            log.debug("slack_emulator.invalid_blocks", extra={"problem": problem})
            return "invalid_blocks"
    if not text and not blocks and not payload.get("attachments"):
        return "no_text"
    if text and len(text) > TEXT_LIMIT:
        return "msg_too_long"
    return None


class SlackEmulator:
    """The emulator's state: channels, messages received, rate limits, failures."""

    def __init__(
        self,
        *,
        webhook_path: str,
        bot_token: str,
        channels: list[str],
        webhook_channel: str,
        messages_per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.webhook_path = webhook_path
        self.bot_token = bot_token
        self.channels = {name: channel_id(name) for name in channels}
        self.channels.setdefault(webhook_channel, channel_id(webhook_channel))
        self.webhook_channel = webhook_channel
        self.messages_per_minute = messages_per_minute
        self.messages: list[dict[str, Any]] = []
        self._clock = clock
        self._last_ts = 0.0
        self._recent: dict[str, deque[float]] = {}
        self._failures: deque[QueuedFailure] = deque()

    def find_channel(self, reference: str) -> tuple[str, str] | None:
        """The (name, id) of a channel given as ``#name``, ``name`` or id."""
        name = reference.removeprefix("#")
        if name in self.channels:
            return name, self.channels[name]
        for known, known_id in self.channels.items():
            if reference == known_id:
                return known, known_id
        return None

    def fail_next(
        self, status: int, error: str, *, retry_after: int | None = None, count: int = 1
    ) -> None:
        """Answer the next ``count`` requests with ``status`` and Slack's ``error``."""
        for _ in range(count):
            self._failures.append(QueuedFailure(status, error, retry_after))

    def take_failure(self) -> QueuedFailure | None:
        return self._failures.popleft() if self._failures else None

    def wait_before_posting(self, channel: str) -> int | None:
        """Seconds a post to ``channel`` must wait under the rate limit, else None."""
        if self.messages_per_minute <= 0:
            return None
        now = self._clock()
        recent = self._recent.setdefault(channel, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) < self.messages_per_minute:
            recent.append(now)
            return None
        return max(1, math.ceil(recent[0] + 60 - now))

    def _next_ts(self) -> str:
        # Slack's ts is unique per channel; a strictly rising clock keeps it so.
        now = max(self._clock(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def record(
        self, via: str, channel: tuple[str, str], payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Keep a posted message and answer it as Slack's message object."""
        message: dict[str, Any] = {
            "ts": self._next_ts(),
            "channel": channel[1],
            "channel_name": channel[0],
            "via": via,
            "text": payload.get("text") or "",
            "blocks": payload.get("blocks") or [],
        }
        self.messages.append(message)
        log.debug("slack_emulator.message", extra={"via": via, "channel": channel[0]})
        return message


def _webhook_payload(request: Request, body: bytes) -> dict[str, Any] | None:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8"))
            payload = json.loads(form["payload"][0])
        else:
            payload = json.loads(body)
    except (UnicodeDecodeError, KeyError, IndexError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _rate_limited_text(wait: int) -> Response:
    return PlainTextResponse("rate_limited", 429, headers={"Retry-After": str(wait)})


async def incoming_webhook(request: Request) -> Response:
    """``POST /services/{team}/{bot}/{secret}``: Slack's incoming webhook."""
    emulator: SlackEmulator = request.app.state.emulator
    failure = emulator.take_failure()
    if failure is not None:
        headers: dict[str, str] = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return PlainTextResponse(failure.error, failure.status, headers=headers)
    if request.url.path != emulator.webhook_path:
        return PlainTextResponse("no_service", 404)

    payload = _webhook_payload(request, await request.body())
    if payload is None:
        return PlainTextResponse("invalid_payload", 400)
    problem = message_problem(payload)
    if problem:
        return PlainTextResponse(problem, 400)
    channel = (emulator.webhook_channel, emulator.channels[emulator.webhook_channel])
    wait = emulator.wait_before_posting(channel[1])
    if wait is not None:
        return _rate_limited_text(wait)

    emulator.record("incoming_webhook", channel, payload)
    return PlainTextResponse("ok")


def _api_error(error: str, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status, headers=headers or None)


async def _api_arguments(request: Request) -> tuple[dict[str, Any], str | None]:
    """The method's arguments from a JSON or form body, or the error code to answer.

    Multipart bodies, which Slack also takes, are not emulated: they answer
    ``invalid_post_type``.
    """
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if not content_type:
        return {}, "missing_post_type" if body else None
    if content_type.startswith("application/json"):
        try:
            arguments = json.loads(body)
        except ValueError:
            return {}, "invalid_json"
        if not isinstance(arguments, dict):
            return {}, "invalid_json"
        # Slack takes the token of a JSON call from the Authorization header only.
        arguments.pop("token", None)
        return arguments, None
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            return {}, "invalid_form_data"
        arguments: dict[str, Any] = {key: values[-1] for key, values in form.items()}
        if "blocks" in arguments:
            try:
                arguments["blocks"] = json.loads(arguments["blocks"])
            except ValueError:
                return {}, "invalid_blocks"
        return arguments, None
    return {}, "invalid_post_type"


async def chat_post_message(request: Request) -> Response:
    """``POST /api/chat.postMessage``: the Web API method, answered as Slack does."""
    emulator: SlackEmulator = request.app.state.emulator
    failure = emulator.take_failure()
    if failure is not None:
        headers: dict[str, str] = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return _api_error(failure.error, failure.status, **headers)

    arguments, problem = await _api_arguments(request)
    authorization = request.headers.get("authorization", "")
    token = authorization.removeprefix("Bearer ").strip() or arguments.get("token")
    if not token:
        return _api_error("not_authed")
    if token != emulator.bot_token:
        return _api_error("invalid_auth")
    if problem:
        return _api_error(problem)

    reference = arguments.get("channel")
    channel = emulator.find_channel(reference) if isinstance(reference, str) else None
    if channel is None:
        return _api_error("channel_not_found")
    problem = message_problem(arguments)
    if problem:
        return _api_error(problem)
    wait = emulator.wait_before_posting(channel[1])
    if wait is not None:
        return _api_error("rate_limited", 429, **{"Retry-After": str(wait)})

    stored = emulator.record("chat.postMessage", channel, arguments)
    message: dict[str, Any] = {
        "type": "message",
        "text": stored["text"],
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "team": TEAM_ID,
        "ts": stored["ts"],
    }
    if stored["blocks"]:
        message["blocks"] = stored["blocks"]
    return JSONResponse(
        {"ok": True, "channel": channel[1], "ts": stored["ts"], "message": message}
    )


async def list_messages(request: Request) -> Response:
    """``GET /_emulator/messages``: every message received, oldest first (not Slack)."""
    return JSONResponse({"messages": request.app.state.emulator.messages})


async def clear_messages(request: Request) -> Response:
    """``DELETE /_emulator/messages``: forget the received messages (not Slack)."""
    request.app.state.emulator.messages.clear()
    return Response(status_code=204)


async def queue_failure(request: Request) -> Response:
    """``POST /_emulator/failures``: answer the next requests with an error (not Slack).

    Body: ``{"status": 503, "error": "service_unavailable", "retry_after": 5,
    "count": 1}``; only ``status`` and ``error`` are required.
    """
    try:
        body = json.loads(await request.body())
        status = int(body["status"])
        error = str(body["error"])
        retry_after = body.get("retry_after")
        count = int(body.get("count", 1))
    except (ValueError, KeyError, TypeError):
        return JSONResponse(
            {"error": "send a JSON object with an integer status and an error string"},
            400,
        )
    request.app.state.emulator.fail_next(
        status,
        error,
        retry_after=None if retry_after is None else int(retry_after),
        count=count,
    )
    return Response(status_code=204)


def _webhook_path(value: str) -> str:
    parts = value.split("/")
    if len(parts) != 5 or parts[:2] != ["", "services"] or not all(parts[2:]):
        raise ValueError(
            f"webhook_path {value!r} is not shaped like Slack's; use "
            "/services/<team>/<bot>/<secret>, such as "
            "/services/T0DEMO/B0DEMO/demo-secret-path"
        )
    return value


def _non_negative(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(
            f"{name} {value!r} is not a whole number >= 0; 0 means no limit"
        )
    return number


def create_app(
    *,
    webhook_path: str = "/services/T0DEMO/B0DEMO/demo-secret-path",
    bot_token: str = "xoxb-caspira-demo",
    channels: str = "caspira,general,alerts",
    webhook_channel: str = "caspira",
    messages_per_minute: str = "0",
) -> Starlette:
    """A Starlette app emulating Slack; its state is ``app.state.emulator``.

    ``channels`` is a comma-separated list of channel names the bot can post to;
    ``webhook_channel`` is where the incoming webhook posts; ``messages_per_minute``
    limits posts per channel (``0``, the default, means no limit) and answers 429
    with ``Retry-After`` beyond it, as Slack does.
    """
    emulator = SlackEmulator(
        webhook_path=_webhook_path(webhook_path),
        bot_token=bot_token,
        channels=[
            name.strip().removeprefix("#")
            for name in channels.split(",")
            if name.strip()
        ],
        webhook_channel=webhook_channel.removeprefix("#"),
        messages_per_minute=_non_negative("messages_per_minute", messages_per_minute),
    )
    app = Starlette(
        routes=[
            Route(
                "/services/{team}/{bot}/{secret}", incoming_webhook, methods=["POST"]
            ),
            Route("/api/chat.postMessage", chat_post_message, methods=["POST"]),
            Route("/_emulator/messages", list_messages, methods=["GET"]),
            Route("/_emulator/messages", clear_messages, methods=["DELETE"]),
            Route("/_emulator/failures", queue_failure, methods=["POST"]),
        ]
    )
    app.state.emulator = emulator
    return app
