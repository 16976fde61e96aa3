"""Plugin discovery and loading: entry points, broken plugins, settings and sections."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from caspira.config import parse_config
from caspira.plugins import discover, load_plugins
from caspira_hookspecs import ConfigError, PluginContext, hookimpl


def install_fake_distribution(site: Path, name: str, module_source: str) -> None:
    """Lay out a module and a dist-info that importlib.metadata finds."""
    (site / f"{name}.py").write_text(module_source)
    dist = site / f"{name}-0.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[caspira.plugins]\n{name} = {name}:Plugin\n"
    )


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(
    tmp_path, monkeypatch
):
    install_fake_distribution(
        tmp_path, "caspira_broken", "raise ImportError('no lib')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    found, failures = discover()

    assert [f.name for f in failures] == ["caspira_broken"]
    assert "ImportError: no lib" in failures[0].error
    names = {plugin.name for plugin in found}
    assert {"caspio", "jira", "slack"} <= names
    jira = next(p for p in found if p.name == "jira")
    assert (jira.distribution, jira.version) == ("caspira-jira", "0.1.0")


class RouterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: str
    token_env: str


class Router:
    name = "router"
    settings_model = RouterSettings

    def __init__(self, context: PluginContext):
        self.context = context

    @hookimpl
    def route_record(self, change, flow):
        return None


FLOWLESS = {"router": {"project": "OPS", "token_env": "ROUTER_TOKEN"}}


def test_a_plugin_gets_its_validated_section_and_secrets():
    config = parse_config(FLOWLESS)
    plugins = load_plugins(
        config,
        secrets={"ROUTER_TOKEN": "s3cr3t"},
        extra=[Router],
        use_entry_points=False,
    )

    router = next(p for p in plugins.loaded if p.name == "router")
    assert router.hooks == ["route_record"]
    assert router.instance.context.settings == RouterSettings(
        project="OPS", token_env="ROUTER_TOKEN"
    )
    assert router.instance.context.secret("ROUTER_TOKEN") == "s3cr3t"
    assert router.secret_names() == ["ROUTER_TOKEN"]


def test_a_wrong_plugin_section_names_the_key():
    config = parse_config({"router": {"project": "OPS", "token_env": "T", "colour": 1}})
    with pytest.raises(ConfigError) as caught:
        load_plugins(config, secrets={"T": "x"}, extra=[Router], use_entry_points=False)
    assert dict(caught.value.problems)["router.colour"].startswith("unknown key")


def test_a_section_no_plugin_claims_is_an_error():
    config = parse_config({"jria": {"site": "x"}})
    with pytest.raises(ConfigError) as caught:
        load_plugins(config, secrets={}, use_entry_points=False)
    assert "no loaded plugin is named 'jria'" in dict(caught.value.problems)["[jria]"]


def test_a_plugin_without_its_required_section_stays_inactive():
    plugins = load_plugins(
        parse_config({}), secrets={}, extra=[Router], use_entry_points=False
    )
    assert plugins.inactive == {"router": "no [router] section in <memory>"}
    assert [p.name for p in plugins.loaded] == ["caspira.mapping"]


def test_flows_without_an_issue_creating_plugin_are_refused():
    config = parse_config(
        {
            "flows": {
                "bugs": {
                    "table": "T",
                    "project": "P",
                    "fields": {"summary": {"from": "A"}},
                }
            }
        }
    )
    with pytest.raises(ConfigError, match=r"add the \[jira\] section"):
        load_plugins(config, secrets={}, use_entry_points=False)
