"""Slack test fixtures: an emulator, plugins wired to it, the Web API spec."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator
from starlette.applications import Starlette

from caspira_hookspecs import Flow, IssueRef, Notification, PluginContext
from caspira_slack import SlackPlugin, SlackSettings
from caspira_slack.emulator import create_app
from tests.conftest import SPECS

WEBHOOK_PATH = "/services/T0DEMO/B0DEMO/demo-secret-path"
# A host no resolver knows: requests only ever reach the emulator's transport.
WEBHOOK_URL = f"https://hooks.slack.test{WEBHOOK_PATH}"
API_URL = "https://slack.test/api"
BOT_TOKEN = "xoxb-caspira-demo"

WEBHOOK_SETTINGS = SlackSettings(webhook_url_env="SLACK_WEBHOOK_URL")
BOT_SETTINGS = SlackSettings(
    bot_token_env="SLACK_BOT_TOKEN", channel="#alerts", api_url=API_URL
)

ISSUE_CREATED = Notification(
    flow="bugs",
    kind="issue_created",
    title="APP-7 created: Checkout button does nothing on iPad after coupon applied",
    text="From record 123 of flow bugs.",
    issue=IssueRef(
        key="APP-7", id="10007", url="https://jira.example.test/browse/APP-7"
    ),
    record_id="123",
)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Hands every request to an emulator and keeps each exchange for inspection."""

    def __init__(self, app: Starlette) -> None:
        self._emulator = httpx.ASGITransport(app)
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._emulator.handle_async_request(request)
        body = await response.aread()
        self.exchanges.append((request, response))
        return httpx.Response(
            response.status_code, headers=response.headers, content=body
        )


@pytest.fixture
def emulator_app() -> Starlette:
    return create_app()


@pytest.fixture
def transport(emulator_app: Starlette) -> RecordingTransport:
    return RecordingTransport(emulator_app)


MakePlugin = Callable[..., SlackPlugin]


@pytest.fixture
async def make_plugin(
    transport: RecordingTransport,
) -> AsyncIterator[MakePlugin]:
    """Builds plugins talking to the emulator (or to ``transport``) and closes them."""
    made: list[SlackPlugin] = []

    def make(
        settings: SlackSettings | None,
        *,
        secrets: dict[str, str] | None = None,
        flows: dict[str, Flow] | None = None,
        transport_override: httpx.AsyncBaseTransport | None = None,
        use_network: bool = False,
    ) -> SlackPlugin:
        transports: dict[str, Any] = {}
        if not use_network:
            transports["slack"] = transport_override or transport
        context = PluginContext(
            settings=settings,
            flows=flows or {},
            secrets=(
                {"SLACK_WEBHOOK_URL": WEBHOOK_URL, "SLACK_BOT_TOKEN": BOT_TOKEN}
                if secrets is None
                else secrets
            ),
            transports=transports,
        )
        plugin = SlackPlugin(context)
        made.append(plugin)
        return plugin

    yield make
    for plugin in made:
        await plugin.aclose()


@pytest.fixture(scope="session")
def slack_spec() -> dict[str, Any]:
    return json.loads((SPECS / "slack-web.openapi.json").read_text())


class ChatPostMessageSchemas:
    """Validators for chat.postMessage built from the spec's own definitions."""

    def __init__(self, spec: dict[str, Any]) -> None:
        operation = spec["paths"]["/chat.postMessage"]["post"]
        definitions = spec["definitions"]

        properties: dict[str, Any] = {}
        required: list[str] = []
        for parameter in operation["parameters"]:
            if parameter["in"] != "formData":
                continue
            properties[parameter["name"]] = {"type": parameter["type"]}
            if parameter.get("required"):
                required.append(parameter["name"])
        # The one allowance: a JSON body carries blocks as an array, where the spec
        # describes the form-encoded string holding that array.
        properties["blocks"] = {"$ref": "#/definitions/blocks"}

        self.request = Draft4Validator(
            {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
                "definitions": definitions,
            }
        )
        responses = operation["responses"]
        self.success = Draft4Validator(
            {**responses["200"]["schema"], "definitions": definitions}
        )
        self.error = Draft4Validator(
            {**responses["default"]["schema"], "definitions": definitions}
        )


@pytest.fixture(scope="session")
def chat_schemas(slack_spec: dict[str, Any]) -> ChatPostMessageSchemas:
    return ChatPostMessageSchemas(slack_spec)
