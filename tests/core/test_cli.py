"""The ``caspira`` command as an operator uses it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from caspira.cli import main
from caspira.daemon import free_port
from tests.conftest import CASES

CASPIRA = Path(sys.executable).parent / "caspira"

ENV = {
    "CASPIO_CLIENT_ID": "id",
    "CASPIO_CLIENT_SECRET": "caspio-secret-value",
    "JIRA_API_TOKEN": "jira-token-value",
    "CASPIO_WEBHOOK_SECRET": "whsec-demo-0001",
}


def config_text(store: str, port: int = 8780) -> str:
    return f"""
[store]
url = "{store}"
[daemon]
port = {port}
[caspio]
account_url = "http://127.0.0.1:9"
client_id_env = "CASPIO_CLIENT_ID"
client_secret_env = "CASPIO_CLIENT_SECRET"
[jira]
site = "http://127.0.0.1:9"
email = "bot@example.com"
api_token_env = "JIRA_API_TOKEN"
[flows.bugs]
table = "BugReports"
project = "APP"
webhook_secret_env = "CASPIO_WEBHOOK_SECRET"
[flows.bugs.fields]
summary = {{ from = "Title" }}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "caspira.toml"
    path.write_text(config_text(f"sqlite:///{tmp_path / 'state.db'}"))
    return path


def test_validate_accepts_a_good_file(config_file):
    result = CliRunner().invoke(main, ["validate", "-c", str(config_file)], env=ENV)
    assert result.exit_code == 0, result.output
    assert f"{config_file}: OK (1 flow(s); plugins: caspira.mapping" in result.output


def test_validate_lists_every_problem_with_its_key(config_file):
    text = config_file.read_text().replace(
        'project = "APP"', 'project = "APP"\nprio = 1'
    )
    config_file.write_text(text)
    result = CliRunner().invoke(main, ["validate", "-c", str(config_file)], env=ENV)
    assert result.exit_code == 2
    assert "flows.bugs.prio: unknown key" in result.output


def test_validate_names_unset_secret_variables(config_file):
    env = {**ENV, "JIRA_API_TOKEN": ""}
    result = CliRunner().invoke(main, ["validate", "-c", str(config_file)], env=env)
    assert result.exit_code == 2
    assert "jira.api_token_env: environment variable JIRA_API_TOKEN is not set" in (
        result.output
    )


def test_plugins_lists_each_connector_with_its_version_and_hooks():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.output)["plugins"]}
    assert plugins["jira"]["distribution"] == "caspira-jira"
    assert plugins["jira"]["version"] == "0.1.0"
    assert {"create_issue", "find_issue", "resolve_user", "update_issue"} <= set(
        plugins["jira"]["hooks"]
    )
    assert "webhook_routes" in plugins["caspio"]["hooks"]
    assert plugins["slack"]["hooks"] == ["notify"]


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CASPIRA), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_up(url: str, process: subprocess.Popen[str], **kwargs) -> httpx.Response:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            return httpx.get(url, timeout=1, **kwargs)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_emulate_serves_an_emulator_until_sigterm():
    port = free_port()
    process = start(["emulate", "jira", "--port", str(port)], {})
    try:
        answer = wait_until_up(
            f"http://127.0.0.1:{port}/rest/api/3/myself",
            process,
            auth=("caspira-bot@example.com", "caspira-demo-token"),
        )
        assert answer.status_code == 200
        assert answer.json()["emailAddress"] == "caspira-bot@example.com"
    finally:
        process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"jira emulator listening on http://127.0.0.1:{port}" in out


def test_serve_stores_a_delivery_before_answering_and_stops_on_sigterm(tmp_path):
    port = free_port()
    config = tmp_path / "caspira.toml"
    config.write_text(config_text(f"sqlite:///{tmp_path / 'state.db'}", port))
    process = start(["serve", "-c", str(config), "--no-worker"], ENV)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        delivery = (CASES / "caspio-webhook-insert.json").read_bytes()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/hooks/caspio/bugs",
            content=delivery,
            headers={"Content-Type": "application/json"},
        )
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
    finally:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)

    assert answer.json() == {"received": 1, "stored": 1}
    assert health["events"]["pending"] == 1
    assert process.returncode == 0
    assert "daemon.stopped" in err
    for secret in ENV.values():
        if len(secret) > 4:
            assert secret not in err

    listed = CliRunner().invoke(main, ["events", "list", "-c", str(config)], env=ENV)
    assert "pending" in listed.output and "bugs:123" in listed.output
    shown = CliRunner().invoke(main, ["events", "show", "1", "-c", str(config)])
    event = json.loads(shown.output)
    assert event["payload"]["record_id"] == "123"
    assert event["payload"]["values"]["ReporterEmail"] == "<redacted: 26 characters>"
    assert "dana" not in shown.output and "Whitfield" not in shown.output


def test_validate_reports_every_unset_secret_at_once(config_file):
    result = CliRunner().invoke(
        main, ["validate", "-c", str(config_file)], env={name: "" for name in ENV}
    )
    assert result.exit_code == 2
    for key in (
        "flows.bugs.webhook_secret_env",
        "caspio.client_id_env",
        "caspio.client_secret_env",
        "jira.api_token_env",
    ):
        assert f"  {key}: environment variable" in result.output
    assert "no plugin can create issues" not in result.output


def test_a_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(CASPIRA), "emulate", "slack", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"could not serve: nothing listens on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
