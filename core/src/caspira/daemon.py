"""The webhook receiver: an ASGI app assembled from the routes plugins contribute.

A delivery is parsed by its plugin's handler, stored in one transaction, and only
then answered; no remote call happens on this path.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from caspira.engine import Engine
from caspira.worker import Worker
from caspira_hookspecs import (
    InboundEvent,
    WebhookRejected,
    WebhookRequest,
    WebhookRoute,
)

__all__ = ["AppServer", "build_app", "free_port", "serve"]

log = logging.getLogger(__name__)


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _BodyTooLarge
    return bytes(body)


def _endpoint(engine: Engine, route: WebhookRoute) -> Any:
    limit = engine.config.daemon.max_body_bytes

    async def receive(request: Request) -> JSONResponse:
        try:
            body = await _read_body(request, limit)
        except _BodyTooLarge:
            return JSONResponse(
                {"error": f"body larger than {limit} bytes (daemon.max_body_bytes)"},
                status_code=413,
            )
        delivery = WebhookRequest(
            path_params={k: str(v) for k, v in request.path_params.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        try:
            events = await route.handler(delivery)
            problem = unstorable(events)
            if problem:
                raise WebhookRejected(400, problem)
        except WebhookRejected as exc:
            log.info(
                "webhook.rejected",
                extra={"route": route.name, "status": exc.status, "reason": exc.reason},
            )
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        except Exception:
            # A handler that cannot read a delivery must not make the sender retry
            # it forever, which a 5xx would.
            log.exception("webhook.unreadable", extra={"route": route.name})
            return JSONResponse(
                {"error": "the delivery could not be read"}, status_code=400
            )

        try:
            stored = await engine.intake(events)
        except Exception:
            log.exception("webhook.store_failed", extra={"route": route.name})
            return JSONResponse(
                {"error": "the delivery could not be stored; send it again"},
                status_code=503,
            )
        log.info(
            "webhook.stored",
            extra={"route": route.name, "events": len(events), "new": len(stored)},
        )
        return JSONResponse(
            {"received": len(events), "stored": len(stored)}, status_code=200
        )

    return receive


def unstorable(events: list[InboundEvent]) -> str | None:
    """Why these events cannot be stored as they are (NUL characters, which
    PostgreSQL refuses, or unpaired surrogates, which UTF-8 cannot hold), or None."""
    for event in events:
        fields = {"delivery_id": event.delivery_id, **event.payload}
        for where, text in _texts(fields, f"event {event.key}"):
            if "\x00" in text:
                return f"{where} holds a NUL character, which cannot be stored"
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return f"{where} holds an unpaired surrogate, which is not valid text"
    return None


def _texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _texts(key, f"{where} field name")
            yield from _texts(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _texts(inner, f"{where}[{index}]")


def build_app(engine: Engine, routes: list[WebhookRoute]) -> Starlette:
    """The daemon's ASGI app: every plugin route, plus ``/healthz``."""

    async def health(_request: Request) -> JSONResponse:
        counts = await anyio.to_thread.run_sync(engine.store.counts)
        return JSONResponse(
            {"status": "ok", "tenant": engine.config.tenant, "events": counts}
        )

    app_routes = [Route("/healthz", health, methods=["GET"])]
    for route in routes:
        app_routes.append(
            Route(
                route.path, _endpoint(engine, route), methods=["POST"], name=route.name
            )
        )
    return Starlette(routes=app_routes)


class _Server(uvicorn.Server):
    # Signals are handled by ``serve`` for the whole process, not by each server.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AppServer:
    """An ASGI app served by uvicorn on a loopback port, inside the running loop."""

    def __init__(self, app: Any, host: str, port: int):
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, lifespan="off", access_log=False
        )
        self._server = _Server(config)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until ``stop``; reports ready through ``task_status`` once bound."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._serve)
            while not self._server.started:
                if self._server.should_exit:
                    raise self._unbound()
                await anyio.sleep(0.01)
            task_status.started(self)

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn exits the process when it cannot bind; a caller may recover.
            raise self._unbound() from None

    def _unbound(self) -> OSError:
        return OSError(
            f"nothing listens on {self.host}:{self.port}: the port is taken or the "
            "address is not this machine's; choose another with --port / daemon.port"
        )

    def stop(self) -> None:
        self._server.should_exit = True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


async def serve(
    engine: Engine,
    *,
    host: str | None = None,
    port: int | None = None,
    with_worker: bool = True,
    stop: anyio.Event | None = None,
    task_status: Any = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run the receiver (and a worker) until SIGTERM, SIGINT or ``stop``."""
    stop = stop or anyio.Event()
    routes = await engine.webhook_routes()
    server = AppServer(
        build_app(engine, routes),
        host or engine.config.daemon.host,
        engine.config.daemon.port if port is None else port,
    )
    worker = Worker(engine)

    async with anyio.create_task_group() as watcher:
        watcher.start_soon(_stop_on_signal, stop)
        async with anyio.create_task_group() as group:
            await group.start(server.run)
            log.info(
                "daemon.listening",
                extra={"url": server.url, "routes": ",".join(r.path for r in routes)},
            )
            if with_worker:
                group.start_soon(worker.run, stop)
            task_status.started(server)
            await stop.wait()
            # Stop accepting first; the worker finishes the events in hand and exits.
            server.stop()
            group.cancel_scope.deadline = anyio.current_time() + 30
        watcher.cancel_scope.cancel()
    log.info("daemon.stopped")


async def _stop_on_signal(stop: anyio.Event) -> None:
    with (
        contextlib.suppress(NotImplementedError, ValueError),
        anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals,
    ):
        async for signum in signals:
            log.info("daemon.signal", extra={"signal": signal.Signals(signum).name})
            stop.set()
            return
