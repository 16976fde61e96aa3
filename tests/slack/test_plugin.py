"""The plugin as the engine sees it: entry points, hooks, settings, secrets, closing."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import httpx
import pluggy
import pytest

from caspira.config import parse_config
from caspira.hookcall import call_each
from caspira.plugins import load_plugins
from caspira_hookspecs import (
    EMULATOR_ENTRY_POINT_GROUP,
    ENTRY_POINT_GROUP,
    PROJECT_NAME,
    ConfigError,
    specs,
)
from caspira_slack import SlackPlugin, render
from caspira_slack._redact import REDACTED
from caspira_slack.emulator import create_app
from tests.slack.conftest import (
    BOT_SETTINGS,
    ISSUE_CREATED,
    WEBHOOK_SETTINGS,
    WEBHOOK_URL,
)


def test_the_plugin_entry_point_loads_the_plugin_class():
    [entry] = entry_points(group=ENTRY_POINT_GROUP, name="slack")

    assert entry.load() is SlackPlugin


def test_the_emulator_entry_point_loads_create_app():
    [entry] = entry_points(group=EMULATOR_ENTRY_POINT_GROUP, name="slack")

    assert entry.load() is create_app


@pytest.mark.anyio
async def test_the_plugin_implements_exactly_the_notify_hook(make_plugin):
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(specs)

    manager.register(make_plugin(WEBHOOK_SETTINGS), name="slack")

    assert [
        caller.name for caller in manager.get_hookcallers(manager.get_plugin("slack"))
    ] == ["notify"]


@pytest.mark.anyio
async def test_without_a_slack_section_notify_does_nothing(make_plugin, transport):
    plugin = make_plugin(None)

    answer = await plugin.notify(ISSUE_CREATED)

    assert answer is None
    assert transport.exchanges == []


@pytest.mark.anyio
async def test_a_missing_secret_is_a_config_error_naming_the_variable(make_plugin):
    with pytest.raises(ConfigError) as caught:
        make_plugin(BOT_SETTINGS, secrets={})

    assert caught.value.problems == [
        (
            "bot_token_env",
            "environment variable SLACK_BOT_TOKEN is not set or empty; set it, or "
            "point bot_token_env at the variable that holds the secret",
        )
    ]


@pytest.mark.anyio
async def test_a_webhook_secret_that_is_no_url_is_refused_without_showing_it(
    make_plugin,
):
    with pytest.raises(ConfigError) as caught:
        make_plugin(
            WEBHOOK_SETTINGS, secrets={"SLACK_WEBHOOK_URL": "T0DEMO/B0DEMO/typo-secret"}
        )

    assert "the value of SLACK_WEBHOOK_URL is not an http(s) URL" in str(caught.value)
    assert "typo-secret" not in str(caught.value)


@pytest.mark.anyio
async def test_a_secret_stays_out_of_logs_while_any_instance_still_uses_it(
    make_plugin, caplog
):
    first = make_plugin(WEBHOOK_SETTINGS)
    second = make_plugin(WEBHOOK_SETTINGS)
    caplog.set_level(logging.INFO, logger="httpx")

    await first.aclose()
    await second.notify(ISSUE_CREATED)

    [line] = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert REDACTED in line
    assert WEBHOOK_URL not in line


@pytest.mark.anyio
async def test_the_engine_loads_the_plugin_from_a_slack_section_and_it_posts(
    emulator_app,
):
    config = parse_config({"slack": {"webhook_url_env": "SLACK_WEBHOOK_URL"}})
    plugins = load_plugins(
        config,
        secrets={"SLACK_WEBHOOK_URL": WEBHOOK_URL},
        transports={"slack": httpx.ASGITransport(emulator_app)},
        extra=[SlackPlugin],
        use_entry_points=False,
    )
    try:
        await call_each(plugins.pm.hook.notify, notification=ISSUE_CREATED)
    finally:
        await plugins.aclose()

    [slack] = [plugin for plugin in plugins.loaded if plugin.name == "slack"]
    assert slack.secret_names() == ["SLACK_WEBHOOK_URL"]
    assert [m["text"] for m in emulator_app.state.emulator.messages] == [
        render(ISSUE_CREATED)["text"]
    ]
