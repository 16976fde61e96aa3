"""caspira installed as an operator runs it: the Caspio and Jira emulators, the
webhook receiver and any number of workers as separate, killable processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
import httpx

from caspira.config import CaspiraConfig, load_config
from caspira.daemon import free_port
from caspira.demo import (
    CLIENT_ID,
    CLIENT_SECRET,
    FLOW,
    JIRA_EMAIL,
    JIRA_TOKEN,
    JIRA_WEBHOOK_SECRET,
    TABLE,
    Endpoints,
    _caspio_admin,
    _caspio_records,
    _jira_issues,
    demo_config_text,
)
from caspira.pipeline import idempotency_key
from caspira.store import EventRow, Store

CASPIRA = Path(sys.executable).parent / "caspira"
RECORDS = f"/integrations/rest/v3/tables/{TABLE}/records"
WEBHOOK_SECRET = "whsec-crash-0001"
TENANT = "demo"

_WORKER_NAME = re.compile(r"worker\.started worker=(\S+)")


class Process:
    """One ``caspira`` command in a process group of its own, output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.args = args
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.popen = subprocess.Popen(
            [str(CASPIRA), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def signal(self, signum: int) -> None:
        # poll() first: once reaped, the process group id may belong to another.
        if self.running:
            os.killpg(self.popen.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole group and reap it."""
        self.signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    async def wait(self, timeout: float) -> int | None:
        """The exit code, or None when it is still running after ``timeout``."""
        with anyio.move_on_after(timeout):
            while self.running:
                await anyio.sleep(0.05)
        return self.popen.poll()

    async def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match:
        """The first match of ``pattern`` in the output, waiting for it to appear."""
        with anyio.move_on_after(timeout):
            while True:
                found = pattern.search(self.output())
                if found:
                    return found
                if not self.running:
                    break
                await anyio.sleep(0.05)
        raise AssertionError(
            f"caspira {' '.join(self.args)} never printed {pattern.pattern!r} "
            f"(exit code {self.popen.poll()}); its output ends:\n{self.tail()}"
        )

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()
        self._log.close()


class Worker(Process):
    """A ``caspira worker`` process; ``name`` is what it writes on its claims."""

    name: str = ""

    async def started(self, timeout: float = 60.0) -> str:
        self.name = (await self.wait_for(_WORKER_NAME, timeout)).group(1)
        return self.name


class Installation:
    """Emulators, receiver and workers on loopback, sharing one store.

    ``worker`` gives the ``[worker]`` settings written to ``caspira.toml``. Use
    ``async with Installation(...) as site``; every process is killed on exit.
    """

    def __init__(self, workdir: Path, database_url: str, *, worker: dict[str, Any]):
        self.workdir = workdir
        self.database_url = database_url
        self.worker_settings = worker
        caspio, jira, receiver = (free_port() for _ in range(3))
        self.endpoints = Endpoints(
            caspio=f"http://127.0.0.1:{caspio}",
            jira=f"http://127.0.0.1:{jira}",
            slack="http://127.0.0.1:9",
            daemon=f"http://127.0.0.1:{receiver}",
        )
        self.config_path = workdir / "caspira.toml"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "CASPIO_CLIENT_ID": CLIENT_ID,
            "CASPIO_CLIENT_SECRET": CLIENT_SECRET,
            "JIRA_API_TOKEN": JIRA_TOKEN,
            "CASPIO_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "JIRA_WEBHOOK_SECRET": JIRA_WEBHOOK_SECRET,
        }
        self.processes: list[Process] = []
        self._exit = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Installation:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for process in self.processes:
            process.close()
        await self._exit.aclose()

    async def _start(self) -> None:
        caspio = self.start(
            "caspio-emulator",
            *("emulate", "caspio", "--port", _port(self.endpoints.caspio)),
            *_sets(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                webhook_secret=WEBHOOK_SECRET,
            ),
        )
        jira = self.start(
            "jira-emulator",
            *("emulate", "jira", "--port", _port(self.endpoints.jira)),
            *_sets(
                email=JIRA_EMAIL, api_token=JIRA_TOKEN, base_url=self.endpoints.jira
            ),
        )
        self.caspio = await self._exit.enter_async_context(
            httpx.AsyncClient(base_url=self.endpoints.caspio, timeout=30)
        )
        self.jira = await self._exit.enter_async_context(
            httpx.AsyncClient(
                base_url=self.endpoints.jira,
                timeout=30,
                auth=(JIRA_EMAIL, JIRA_TOKEN),
            )
        )
        await _answering(self.caspio, "/oauth/token", caspio)
        await _answering(self.jira, "/rest/api/3/myself", jira)

        secret = await _caspio_admin(self.caspio, self.endpoints.daemon)
        assert secret == WEBHOOK_SECRET
        hooks = await self.caspio.get("/integrations/rest/v3/outgoingWebhooks")
        (self.webhook_id,) = [hook["Id"] for hook in hooks.json()]

        self.config_path.write_text(self._config_text(), encoding="utf-8")
        self.config: CaspiraConfig = load_config(self.config_path)
        written = {
            key: getattr(self.config.worker, key) for key in self.worker_settings
        }
        assert written == self.worker_settings, written
        self.store = Store(self.database_url, tenant=TENANT)
        self._exit.callback(self.store.close)

        self.receiver = self.start(
            "receiver",
            *("serve", "-c", str(self.config_path), "--no-worker"),
            *("--port", _port(self.endpoints.daemon)),
        )
        receiver = await self._exit.enter_async_context(
            httpx.AsyncClient(base_url=self.endpoints.daemon, timeout=30)
        )
        await _answering(receiver, "/healthz", self.receiver)

    def _config_text(self) -> str:
        text = demo_config_text(self.endpoints, self.database_url)
        worker = "".join(f"{k} = {v!r}\n" for k, v in self.worker_settings.items())
        text = _replace_section(text, "worker", worker)
        # No Slack in these runs: announcements are not what they check.
        return _replace_section(text, "slack", None)

    def start(self, label: str, *args: str, kind: type[Process] = Process) -> Any:
        """Run ``caspira *args``; its output goes to ``<label>-<n>.log``."""
        number = sum(1 for p in self.processes if p.log_path.stem.startswith(label))
        process = kind(list(args), self.env, self.workdir / f"{label}-{number}.log")
        self.processes.append(process)
        return process

    def start_worker(self) -> Worker:
        config = str(self.config_path)
        return self.start("worker", "worker", "-c", config, kind=Worker)

    def start_server(self) -> Worker:
        """A ``caspira serve`` with its own worker, on a port of its own."""
        config, port = str(self.config_path), str(free_port())
        return self.start("server", "serve", "-c", config, "--port", port, kind=Worker)

    # --- the users' side: Caspio's and Jira's APIs --------------------------------

    async def insert(
        self, records: list[dict[str, Any]], *, parallel: int = 4
    ) -> list[str]:
        """Insert records through the Caspio API, ``parallel`` at a time; answer
        their PK_IDs in the order given."""
        ids: list[str] = [""] * len(records)
        limiter = anyio.CapacityLimiter(parallel)

        async def one(index: int) -> None:
            async with limiter:
                answer = await self.caspio.post(
                    RECORDS, params={"response": "rows"}, json=records[index]
                )
            assert answer.status_code == 201, answer.text
            ids[index] = str(answer.json()["Result"][0]["PK_ID"])

        async with anyio.create_task_group() as group:
            for index in range(len(records)):
                group.start_soon(one, index)
        return ids

    async def update(self, record_id: str, values: dict[str, Any]) -> None:
        answer = await self.caspio.put(
            RECORDS, params={"q.where": f"PK_ID={record_id}"}, json=values
        )
        assert answer.status_code == 200, answer.text

    async def records(self) -> dict[str, dict[str, Any]]:
        return await _caspio_records(self.caspio)

    async def issues(self) -> list[dict[str, Any]]:
        return await _jira_issues(self.jira)

    async def undelivered(self) -> tuple[int, int]:
        """(messages Caspio announced, of which not yet delivered or given up)."""
        answer = await self.caspio.get(
            f"/integrations/rest/v3/outgoingWebhooks/{self.webhook_id}"
        )
        stats = answer.json()
        delivered = stats["Calls"] - stats["Errors"]
        return stats["Messages"], stats["Messages"] - delivered

    # --- the store ----------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        return await anyio.to_thread.run_sync(self.store.counts)

    async def events(self) -> list[EventRow]:
        """Every event, oldest first, with its attempts."""

        def read() -> list[EventRow]:
            rows = self.store.events(limit=1_000_000)
            return [self.store.event(row.id) for row in reversed(rows)]

        return await anyio.to_thread.run_sync(read)

    async def held_by(self, worker: str) -> dict[int, datetime]:
        """The events ``worker`` holds right now, with the end of each lease."""
        rows = await anyio.to_thread.run_sync(
            lambda: self.store.events(state="in_progress", limit=1_000_000)
        )
        return {
            row.id: row.lease_expires_at
            for row in rows
            if row.lease_owner == worker and row.lease_expires_at is not None
        }

    async def settle(self, *working: Process, timeout: float) -> None:
        """Wait until every Caspio delivery arrived and no event is open, while the
        ``working`` processes run; none of them may end meanwhile.

        A worker's write-back makes a new delivery, so the announced count is read
        again afterwards: idle means nothing new was announced meanwhile.
        """
        with anyio.fail_after(timeout):
            while True:
                for process in working:
                    assert process.running, (
                        f"caspira {' '.join(process.args)} ended by itself (exit "
                        f"code {process.popen.poll()}); its output ends:\n"
                        f"{process.tail()}"
                    )
                announced, undelivered = await self.undelivered()
                counts = await self.counts()
                busy = counts["pending"] + counts["in_progress"]
                again, _ = await self.undelivered()
                if undelivered == 0 and busy == 0 and again == announced:
                    return
                await anyio.sleep(0.25)


def label_of(record_id: str) -> str:
    return f"caspira-{idempotency_key(TENANT, FLOW, record_id)}"


def issues_by_record(
    issues: list[dict[str, Any]], record_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each record's issues, found by the idempotency label the issue carries."""
    wanted = {label_of(record_id): record_id for record_id in record_ids}
    found: dict[str, list[dict[str, Any]]] = {r: [] for r in record_ids}
    for issue in issues:
        for label in issue["fields"].get("labels", []):
            if label in wanted:
                found[wanted[label]].append(issue)
    return found


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def _sets(**options: str) -> list[str]:
    return [arg for k, v in options.items() for arg in ("--set", f"{k}={v}")]


def _replace_section(text: str, name: str, body: str | None) -> str:
    """``text`` with the TOML table ``[name]`` replaced by ``body`` (or dropped)."""
    lines: list[str] = []
    skipping = False
    found = False
    for line in text.splitlines(keepends=True):
        header = line.strip()
        if header.startswith("["):
            skipping = header == f"[{name}]"
            if skipping:
                found = True
                if body is not None:
                    lines.append(f"[{name}]\n{body}\n")
                continue
        if not skipping:
            lines.append(line)
    assert found, f"the demo configuration has no [{name}] table any more"
    return "".join(lines)


async def _answering(http: httpx.AsyncClient, path: str, process: Process) -> None:
    """Wait until ``process`` answers HTTP at all (any status will do)."""
    with anyio.move_on_after(60):
        while process.running:
            with contextlib.suppress(httpx.TransportError):
                await http.get(path)
                return
            await anyio.sleep(0.05)
    raise AssertionError(
        f"caspira {' '.join(process.args)} never answered {path}; its output "
        f"ends:\n{process.tail()}"
    )
