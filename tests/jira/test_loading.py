"""How the engine finds, configures and starts the Jira connector and its emulator."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points

import anyio
import pluggy
import pytest
import uvicorn
from pydantic import ValidationError

from caspira_hookspecs import (
    EMULATOR_ENTRY_POINT_GROUP,
    ENTRY_POINT_GROUP,
    PROJECT_NAME,
    ConfigError,
    Flow,
    PluginContext,
    specs,
)
from caspira_jira import JiraPlugin, JiraSettings
from caspira_jira.emulator import create_app
from tests.jira.conftest import EMAIL, TOKEN, TOKEN_ENV


def test_plugin_is_published_under_the_name_jira() -> None:
    (found,) = entry_points(group=ENTRY_POINT_GROUP, name="jira")

    assert found.load() is JiraPlugin
    assert JiraPlugin.name == "jira"
    assert JiraPlugin.settings_model is JiraSettings


def test_emulator_is_published_under_the_name_jira() -> None:
    (found,) = entry_points(group=EMULATOR_ENTRY_POINT_GROUP, name="jira")

    assert found.load() is create_app


def test_hook_implementations_match_the_hook_specifications(
    settings: JiraSettings,
) -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(specs)
    plugin = JiraPlugin(PluginContext(settings=settings, secrets={TOKEN_ENV: TOKEN}))

    manager.register(plugin)
    manager.check_pending()

    implemented = sorted(hook.name for hook in manager.get_hookcallers(plugin) or [])
    assert implemented == [
        "acting_user",
        "add_issue_comment",
        "create_issue",
        "find_issue",
        "resolve_user",
        "transition_issue",
        "update_issue",
        "webhook_routes",
    ]


def test_the_secret_settings_are_the_api_token_and_the_webhook_secret() -> None:
    secret_fields = [
        name for name in JiraSettings.model_fields if name.endswith("_env")
    ]

    assert secret_fields == ["api_token_env", "webhook_secret_env"]


def test_settings_take_the_defaults_the_documentation_gives() -> None:
    settings = JiraSettings(
        site="https://example.atlassian.net/", email=EMAIL, api_token_env=TOKEN_ENV
    )

    assert settings.site == "https://example.atlassian.net"
    assert (settings.deployment, settings.timeout_seconds) == ("cloud", 30.0)
    assert settings.idempotency_label_prefix == "caspira-"


def test_settings_refuse_an_unknown_key() -> None:
    with pytest.raises(ValidationError, match="token"):
        JiraSettings(site="https://x.test", email=EMAIL, api_token_env="T", token="t")


def test_settings_refuse_a_site_that_is_not_a_web_address() -> None:
    with pytest.raises(
        ValidationError, match=r"'example\.atlassian\.net' is not an http"
    ):
        JiraSettings(site="example.atlassian.net", email=EMAIL, api_token_env="T")


def test_settings_refuse_a_label_prefix_with_a_space() -> None:
    with pytest.raises(ValidationError, match="without spaces"):
        JiraSettings(
            site="https://x.test",
            email=EMAIL,
            api_token_env="T",
            idempotency_label_prefix="from caspira",
        )


def test_plugin_without_its_token_names_the_environment_variable(
    settings: JiraSettings,
) -> None:
    with pytest.raises(ConfigError) as caught:
        JiraPlugin(PluginContext(settings=settings, secrets={}))

    ((key, message),) = caught.value.problems
    assert key == "api_token_env"
    assert message.startswith("the environment variable JIRA_API_TOKEN is not set")


@pytest.mark.anyio
async def test_plugin_reaches_the_emulator_served_on_a_loopback_port(
    flow: Flow,
) -> None:
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    with anyio.fail_after(5):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    settings = JiraSettings(
        site=f"http://127.0.0.1:{port}", email=EMAIL, api_token_env=TOKEN_ENV
    )
    plugin = JiraPlugin(PluginContext(settings=settings, secrets={TOKEN_ENV: TOKEN}))

    try:
        user = await plugin.resolve_user("dana.whitfield@example.com", flow)
    finally:
        await plugin.aclose()
        server.should_exit = True
        await serving

    assert user is not None and user.display_name == "Dana Whitfield"


def test_plugin_without_its_webhook_secret_names_the_environment_variable(
    settings: JiraSettings,
) -> None:
    with_secret = settings.model_copy(update={"webhook_secret_env": "JIRA_HOOK_SECRET"})

    with pytest.raises(ConfigError) as caught:
        JiraPlugin(PluginContext(settings=with_secret, secrets={TOKEN_ENV: TOKEN}))

    ((key, message),) = caught.value.problems
    assert key == "webhook_secret_env"
    assert message == (
        "the environment variable JIRA_HOOK_SECRET is not set; set it to the secret "
        "the Jira webhook was registered with"
    )


def test_emulator_refuses_an_unknown_deployment() -> None:
    with pytest.raises(ValueError, match="unknown deployment 'onprem'"):
        create_app(deployment="onprem")


def test_emulator_refuses_a_retry_delay_that_is_not_a_number() -> None:
    with pytest.raises(ValueError, match="webhook_retry_delay 'soon' is not a float"):
        create_app(webhook_retry_delay="soon")


def test_emulator_takes_its_webhook_options_as_strings() -> None:
    site = create_app(webhook_retry_delay="0.5", webhook_retries="1").state.emulator

    assert (site.courier.retry_delay, site.courier.retries) == (0.5, 1)
