"""``caspira demo``: the whole flow on the built-in emulators, checked end to end.

The demo plays an administrator (it creates the Caspio table and the outgoing
webhook through Caspio's API), then a crowd of users submitting bug reports, and
finally an auditor who reads both sides through their public APIs and checks that
every record became exactly one correct issue.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import anyio
import click
import httpx

from caspira.config import parse_config
from caspira.daemon import AppServer, free_port, serve
from caspira.demo._way_back import WayBack
from caspira.engine import Engine
from caspira.pipeline import idempotency_key
from caspira_hookspecs import EMULATOR_ENTRY_POINT_GROUP, CaspiraError

__all__ = ["Stack", "run_demo"]

CLIENT_ID = "caspira-demo"
CLIENT_SECRET = "caspira-demo-secret"
JIRA_EMAIL = "caspira-bot@example.com"
JIRA_TOKEN = "caspira-demo-token"
SLACK_PATH = "/services/T0DEMO/B0DEMO/demo-secret-path"
DEFAULT_ASSIGNEE = "priya.nair@example.com"
TABLE = "BugReports"
FLOW = "bugs"

#: Caspio's field types for the demo table, as in shared/cases.
TABLE_FIELDS = [
    ("ReportID", "PREFIXED AUTONUMBER"),
    # Text (64000) rather than the usual Text (255): portals that take long titles
    # exist, and Jira's 255-character summary limit must be handled for them.
    ("Title", "TEXT"),
    ("Details", "TEXT"),
    ("Severity", "STRING"),
    ("Product", "LIST-STRING"),
    ("Environment", "STRING"),
    ("ReporterName", "STRING"),
    ("ReporterEmail", "STRING"),
    ("Screenshot", "FILE"),
    ("SubmittedAt", "DATE/TIME"),
    ("Status", "STRING"),
    ("AssignedTo", "STRING"),
    ("JiraKey", "STRING"),
]

COMMENTS_TABLE = "BugComments"
COMMENT_FIELDS = [("RecordID", "INTEGER"), ("Body", "TEXT"), ("Author", "STRING")]
JIRA_WEBHOOK_SECRET = "jira-demo-webhook-secret"
#: Jira's events caspira listens to.
JIRA_EVENTS = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
]

#: What Caspio needs to know about the special fields when the table is created.
TABLE_FIELD_OPTIONS: dict[str, dict[str, Any]] = {
    "ReportID": {"Unique": True, "Prefix": "BR-", "Format": "000001"},
    "Product": {"ListField": ["Web Portal", "Mobile App", "API", "Billing"]},
}


@dataclass
class Endpoints:
    caspio: str
    jira: str
    slack: str
    daemon: str


class DemoError(CaspiraError):
    """An emulator refused a step of the demo's own set-up or checks."""


def _ok(response: httpx.Response) -> None:
    if response.is_success:
        return
    raise DemoError(
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}: {response.text[:500]}"
    )


def _emulator(name: str, **options: str) -> Any:
    found = {ep.name: ep for ep in entry_points(group=EMULATOR_ENTRY_POINT_GROUP)}
    return found[name].load()(**options)


def _demo_records(count: int) -> list[dict[str, Any]]:
    text = (
        resources.files("caspira.demo").joinpath("bug_reports.json").read_text("utf-8")
    )
    records = json.loads(text)["records"]
    # More than the built-in set: repeat them with a numbered title.
    return [
        {**records[i % len(records)], "Title": _numbered(records[i % len(records)], i)}
        for i in range(count)
    ]


def _numbered(record: dict[str, Any], index: int) -> str:
    title = record["Title"]
    return title if index < 25 else f"{title} (#{index + 1})"


def demo_config_text(endpoints: Endpoints, database_url: str) -> str:
    """The demo's caspira.toml, with the emulators' addresses filled in."""
    text = (
        resources.files("caspira.demo").joinpath("caspira.demo.toml").read_text("utf-8")
    )
    for key, value in {
        "{database_url}": database_url,
        "{caspio_url}": endpoints.caspio,
        "{jira_url}": endpoints.jira,
    }.items():
        text = text.replace(key, value)
    return text


async def _caspio_admin(http: httpx.AsyncClient, daemon_url: str) -> str:
    """Create the tables and the outgoing webhook; answer the webhook's secret."""
    token = await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    _ok(token)
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    base = "/integrations/rest/v3"

    for table, fields in ((TABLE, TABLE_FIELDS), (COMMENTS_TABLE, COMMENT_FIELDS)):
        created = await http.post(
            f"{base}/tables",
            json={
                "Name": table,
                "Fields": [
                    {"Name": name, "Type": kind, **TABLE_FIELD_OPTIONS.get(name, {})}
                    for name, kind in fields
                ],
            },
        )
        _ok(created)
    hook = await http.post(
        f"{base}/outgoingWebhooks",
        json={
            "Name": "caspira bug reports",
            "OutgoingUrls": [f"{daemon_url}/hooks/caspio/{FLOW}"],
        },
    )
    _ok(hook)
    webhook = hook.json()
    for table, event_type in (
        (TABLE, "table.recordInsert"),
        (TABLE, "table.recordUpdate"),
        (COMMENTS_TABLE, "table.recordInsert"),
    ):
        event = await http.post(
            f"{base}/outgoingWebhooks/{webhook['Id']}/events",
            json={"EventType": event_type, "ObjectName": table},
        )
        _ok(event)
    return webhook["Secret"]


async def _jira_admin(http: httpx.AsyncClient, daemon_url: str) -> None:
    """Register caspira's webhook in Jira, signed with the shared secret."""
    answer = await http.post(
        "/rest/webhooks/1.0/webhook",
        json={
            "name": "caspira",
            "url": f"{daemon_url}/hooks/jira",
            "events": JIRA_EVENTS,
            "secret": JIRA_WEBHOOK_SECRET,
        },
    )
    _ok(answer)


async def _submit(http: httpx.AsyncClient, records: list[dict[str, Any]]) -> list[str]:
    """Insert the records as users would; answer their PK_IDs in order."""
    ids: list[str] = []
    for record in records:
        answer = await http.post(
            f"/integrations/rest/v3/tables/{TABLE}/records",
            params={"response": "rows"},
            json=record,
        )
        _ok(answer)
        ids.append(str(answer.json()["Result"][0]["PK_ID"]))
    return ids


async def _caspio_records(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        answer = await http.get(
            f"/integrations/rest/v3/tables/{TABLE}/records",
            params={"q.pageSize": 1000, "q.pageNumber": page},
        )
        _ok(answer)
        result = answer.json()["Result"]
        rows.update({str(r["PK_ID"]): r for r in result})
        if len(result) < 1000:
            return rows
        page += 1


async def _wait(
    engine: Engine, caspio: httpx.AsyncClient, count: int, timeout: float
) -> dict[str, dict[str, Any]]:
    last = -1
    with anyio.move_on_after(timeout):
        while True:
            rows = await _caspio_records(caspio)
            keyed = sum(1 for r in rows.values() if r.get("JiraKey"))
            counts = await anyio.to_thread.run_sync(engine.store.counts)
            busy = counts.get("pending", 0) + counts.get("in_progress", 0)
            if keyed != last:
                click.echo(f"  ... {keyed}/{count} records have their Jira key")
                last = keyed
            if keyed >= count and busy == 0:
                return rows
            await anyio.sleep(0.25)
    return await _caspio_records(caspio)


async def _jira_issues(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        body: dict[str, Any] = {
            "jql": "project = APP ORDER BY key ASC",
            "fields": ["summary", "priority", "assignee", "labels", "components"],
            "maxResults": 100,
        }
        if token:
            body["nextPageToken"] = token
        answer = await http.post("/rest/api/3/search/jql", json=body)
        _ok(answer)
        page = answer.json()
        issues.extend(page["issues"])
        token = page.get("nextPageToken")
        if page.get("isLast", True) or not token:
            return issues


async def _expected_assignee(
    http: httpx.AsyncClient, email: str, cache: dict[str, str | None]
) -> str | None:
    if email not in cache:
        answer = await http.get("/rest/api/3/user/search", params={"query": email})
        _ok(answer)
        users = answer.json()
        cache[email] = users[0]["displayName"] if users else None
    return cache[email]


def _check(
    submitted: dict[str, dict[str, Any]],
    rows: dict[str, dict[str, Any]],
    issues: list[dict[str, Any]],
    flow_values: dict[str, str],
    assignees: dict[str, str | None],
    tenant: str,
) -> tuple[list[tuple[str, str, str, str, str]], list[str]]:
    by_label: dict[str, list[dict[str, Any]]] = {}
    for issue in issues:
        for label in issue["fields"].get("labels", []):
            by_label.setdefault(label, []).append(issue)

    lines, problems = [], []
    for record_id, sent in submitted.items():
        row = rows.get(record_id, {})
        label = f"caspira-{idempotency_key(tenant, FLOW, record_id)}"
        found = by_label.get(label, [])
        if len(found) != 1:
            problems.append(f"record {record_id}: {len(found)} issues instead of 1")
            lines.append((record_id, "-", "-", "-", "FAIL"))
            continue
        issue = found[0]
        fields = issue["fields"]
        priority = (fields.get("priority") or {}).get("name", "-")
        assignee = (fields.get("assignee") or {}).get("displayName", "unassigned")
        components = sorted(c["name"] for c in fields.get("components", []))
        verdict = "ok"
        if row.get("JiraKey") != issue["key"]:
            problems.append(
                f"record {record_id}: key written back is {row.get('JiraKey')!r}, "
                f"expected {issue['key']}"
            )
            verdict = "FAIL"
        if priority != flow_values[sent["Severity"]]:
            problems.append(f"record {record_id}: priority {priority}")
            verdict = "FAIL"
        if components != sorted(sent["Product"].values()):
            problems.append(f"record {record_id}: components {components}")
            verdict = "FAIL"
        wanted = (
            assignees.get(sent["ReporterEmail"]) or assignees["priya.nair@example.com"]
        )
        if assignee != wanted:
            problems.append(f"record {record_id}: assignee {assignee}, wanted {wanted}")
            verdict = "FAIL"
        if len(fields["summary"]) > 255 or "\n" in fields["summary"]:
            problems.append(f"record {record_id}: summary not cleaned")
            verdict = "FAIL"
        lines.append((record_id, issue["key"], priority, assignee, verdict))
    extra = len(issues) - len(submitted)
    if extra > 0:
        problems.append(f"{extra} issue(s) in Jira that no record accounts for")
    return lines, problems


class Stack:
    """A whole installation on loopback: Caspio, Jira and Slack emulators, an engine
    and its daemon, with the Caspio table and outgoing webhook set up through the API.

    Use ``async with Stack(database_url) as stack``; the test suite uses it too.
    ``flow_settings`` overrides keys of the demo flow (``{"fields": {...}}``, ...);
    ``settings`` overrides keys of other sections (``{"worker": {...}}``).
    """

    def __init__(
        self,
        database_url: str,
        *,
        workdir: Path | None = None,
        flow_settings: dict[str, Any] | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
        plugins: tuple[Any, ...] = (),
        jira_deployment: str = "cloud",
    ):
        self.database_url = database_url
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="caspira-demo-"))
        self.flow_settings = flow_settings or {}
        self.settings = settings or {}
        self.jira_deployment = jira_deployment
        if jira_deployment != "cloud":
            self.settings.setdefault("jira", {})["deployment"] = jira_deployment
        self.extra_plugins = plugins
        self.ports = [free_port() for _ in range(4)]
        self.endpoints = Endpoints(*(f"http://127.0.0.1:{p}" for p in self.ports))
        self._exit = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Stack:
        exit_stack = await self._exit.__aenter__()
        try:
            await self._start(exit_stack)
        except BaseException:
            await self._exit.__aexit__(*sys.exc_info())
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.stop.set()
        for server in self.servers:
            server.stop()
        await self._exit.__aexit__(*exc_info)

    async def _start(self, exit_stack: contextlib.AsyncExitStack) -> None:
        emulators = await exit_stack.enter_async_context(anyio.create_task_group())
        self.caspio_app = _emulator(
            "caspio", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )
        self.jira_app = _emulator(
            "jira",
            email=JIRA_EMAIL,
            api_token=JIRA_TOKEN,
            base_url=self.endpoints.jira,
            deployment=self.jira_deployment,
        )
        self.slack_app = _emulator("slack", webhook_path=SLACK_PATH)
        self.servers = [
            AppServer(app, "127.0.0.1", port)
            for app, port in zip(
                (self.caspio_app, self.jira_app, self.slack_app),
                self.ports,
                strict=False,
            )
        ]
        for server in self.servers:
            await emulators.start(server.run)

        self.caspio = await exit_stack.enter_async_context(
            httpx.AsyncClient(base_url=self.endpoints.caspio, timeout=30)
        )
        self.jira = await exit_stack.enter_async_context(
            httpx.AsyncClient(
                base_url=self.endpoints.jira,
                timeout=30,
                # Cloud signs in with e-mail and API token, Server with a Bearer PAT.
                **(
                    {"auth": (JIRA_EMAIL, JIRA_TOKEN)}
                    if self.jira_deployment == "cloud"
                    else {"headers": {"Authorization": f"Bearer {JIRA_TOKEN}"}}
                ),
            )
        )
        webhook_secret = await _caspio_admin(self.caspio, self.endpoints.daemon)
        await _jira_admin(self.jira, self.endpoints.daemon)
        self.secrets = {
            "CASPIO_CLIENT_ID": CLIENT_ID,
            "CASPIO_CLIENT_SECRET": CLIENT_SECRET,
            "JIRA_API_TOKEN": JIRA_TOKEN,
            "SLACK_WEBHOOK_URL": f"{self.endpoints.slack}{SLACK_PATH}",
            "CASPIO_WEBHOOK_SECRET": webhook_secret,
            "JIRA_WEBHOOK_SECRET": JIRA_WEBHOOK_SECRET,
        }
        config_text = demo_config_text(self.endpoints, self.database_url)
        self.config_path = self.workdir / "caspira.toml"
        self.config_path.write_text(config_text, encoding="utf-8")
        self.raw_config = tomllib.loads(config_text)
        self.raw_config["flows"][FLOW].update(self.flow_settings)
        for section, values in self.settings.items():
            self.raw_config.setdefault(section, {}).update(values)
        config = parse_config(self.raw_config, path=str(self.config_path))

        self.engine = await exit_stack.enter_async_context(
            Engine(config, secrets=self.secrets, plugins=self.extra_plugins)
        )
        # Entered after the engine, so it ends first: the worker stops before the
        # engine closes its plugins' clients.
        daemon = await exit_stack.enter_async_context(anyio.create_task_group())
        self.stop = anyio.Event()
        await daemon.start(
            lambda task_status: serve(
                self.engine, port=self.ports[3], stop=self.stop, task_status=task_status
            )
        )

    async def submit(self, records: list[dict[str, Any]]) -> list[str]:
        """Insert records through the Caspio API; answer their PK_IDs."""
        return await _submit(self.caspio, records)

    async def records(self) -> dict[str, dict[str, Any]]:
        return await _caspio_records(self.caspio)

    async def issues(self) -> list[dict[str, Any]]:
        return await _jira_issues(self.jira)

    async def settle(
        self, *, keyed: int, timeout: float = 60.0
    ) -> dict[str, dict[str, Any]]:
        """Wait until ``keyed`` records carry a Jira key and the inbox is idle."""
        return await _wait(self.engine, self.caspio, keyed, timeout)


async def run_demo(
    count: int = 25, timeout: float = 120.0, database: str | None = None
) -> bool:
    """Run the demo; answer True only when every check passed."""
    workdir = Path(tempfile.mkdtemp(prefix="caspira-demo-"))
    database = database or f"sqlite:///{workdir / 'caspira.db'}"
    records = _demo_records(count)

    click.echo("caspira demo: Caspio bug reports -> Jira issues, on local emulators")
    async with Stack(database, workdir=workdir) as stack:
        endpoints = stack.endpoints
        click.echo(
            f"  Caspio emulator {endpoints.caspio}, Jira emulator {endpoints.jira}, "
            f"Slack emulator {endpoints.slack}"
        )
        click.echo(f"  caspira daemon {endpoints.daemon}, store {database}")
        click.echo(f"  configuration {stack.config_path}")
        click.echo(f"Submitting {count} bug reports through the Caspio API ...")
        ids = await stack.submit(records)
        submitted = dict(zip(ids, records, strict=True))
        rows = await _wait(stack.engine, stack.caspio, count, timeout)
        issues = await stack.issues()
        cache: dict[str, str | None] = {}
        for email in {r["ReporterEmail"] for r in records} | {DEFAULT_ASSIGNEE}:
            await _expected_assignee(stack.jira, email, cache)
        priority_map = stack.raw_config["flows"][FLOW]["fields"]["priority"]["values"]
        lines, problems = _check(
            submitted, rows, issues, priority_map, cache, stack.engine.config.tenant
        )
        way_back = WayBack(
            stack, {r: row["JiraKey"] for r, row in rows.items() if row["JiraKey"]}
        )
        if not problems:
            await way_back.run(timeout)
        counts = await anyio.to_thread.run_sync(stack.engine.store.counts)
        slack_messages = len(stack.slack_app.state.emulator.messages)

    _report(lines, problems, counts, slack_messages, workdir, way_back)
    return not problems and not way_back.problems


def _report(
    lines: list[tuple[str, str, str, str, str]],
    problems: list[str],
    counts: dict[str, int],
    slack_messages: int,
    workdir: Path,
    way_back: WayBack,
) -> None:
    click.echo("")
    click.echo(f"{'record':>6}  {'issue':<8} {'priority':<8} {'assignee':<18} check")
    for record_id, key, priority, assignee, verdict in lines:
        click.echo(f"{record_id:>6}  {key:<8} {priority:<8} {assignee:<18} {verdict}")
    click.echo("")
    ok = sum(1 for line in lines if line[-1] == "ok")
    click.echo(
        f"{ok}/{len(lines)} records became exactly one correct issue with the key "
        "written back"
    )
    way_back.report()
    if way_back.lines:
        fine = sum(1 for line in way_back.lines if line[-1].endswith("ok"))
        click.echo(
            f"{fine}/{len(way_back.lines)} records show what people did in Jira and "
            "Caspio, each change once"
        )
    click.echo(f"events: {counts}; Slack messages: {slack_messages}")
    click.echo(f"work folder: {workdir}")
    everything = [*problems, *way_back.problems]
    if everything:
        click.secho(f"{len(everything)} problem(s):", fg="red")
        for problem in everything:
            click.echo(f"  - {problem}")
    else:
        click.secho("demo passed", fg="green")
