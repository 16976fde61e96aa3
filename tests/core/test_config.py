"""Configuration loading: good files load, bad ones name the file, the key, the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from caspira.config import check_secrets, load_config, parse_config
from caspira_hookspecs import ConfigError

GOOD = """
tenant = "acme"
[store]
url = "sqlite:///x.db"
[jira]
site = "https://acme.atlassian.net"
[flows.bugs]
table = "BugReports"
project = "APP"
[flows.bugs.fields]
summary = { from = "Title" }
priority = { from = "Severity", values = { High = "Highest" }, default = "Medium" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "caspira.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.path.endswith("caspira.toml")
    return dict(caught.value.problems)


def test_a_good_file_loads_flows_and_keeps_plugin_sections_raw(tmp_path):
    config = load_config(write(tmp_path, GOOD))

    assert config.tenant == "acme"
    assert config.store.url == "sqlite:///x.db"
    assert config.sections == {"jira": {"site": "https://acme.atlassian.net"}}
    flow = config.flows["bugs"]
    assert flow.name == "bugs"
    assert flow.fields["summary"].source == "Title"
    assert flow.fields["priority"].values == {"High": "Highest"}
    assert flow.fields["priority"].default == "Medium"


def test_a_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert "--config" in str(caught.value)
    assert "nope.toml" in str(caught.value)


def test_bad_toml_names_the_line(tmp_path):
    problems = problems_of(tmp_path, "[store\nurl = 1")
    assert "line 1" in problems["(syntax)"]


def test_every_problem_is_reported_at_once_with_its_key(tmp_path):
    text = GOOD.replace('project = "APP"', 'project = "APP"\nproject_typo = 1')
    text = text.replace("[store]", "[store]\nport = 5")
    text += "\n[worker]\nconcurrency = 0\n"
    problems = problems_of(tmp_path, text)

    assert "unknown key" in problems["flows.bugs.project_typo"]
    assert "unknown key" in problems["store.port"]
    assert "greater than or equal to 1" in problems["worker.concurrency"]


def test_a_flow_without_a_summary_rule_is_refused(tmp_path):
    text = GOOD.replace('summary = { from = "Title" }\n', "")
    problems = problems_of(tmp_path, text)
    assert 'summary = { from = "Title" }' in problems["flows.bugs.fields.summary"]


def test_a_field_rule_needs_exactly_one_origin(tmp_path):
    text = GOOD.replace(
        'summary = { from = "Title" }',
        'summary = { from = "Title", template = "{Title}" }',
    )
    problems = problems_of(tmp_path, text)
    assert "exactly one of 'from'" in problems["flows.bugs.fields.summary"]


def test_a_secret_written_in_the_file_is_refused_without_echoing_it():
    raw = {
        "flows": {
            "bugs": {
                "table": "T",
                "project": "P",
                "fields": {"summary": {"from": "Title"}},
                "webhook_secret": "hunter2-secret",
            }
        }
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, path="caspira.toml")
    message = str(caught.value)
    assert "webhook_secret_env" in message
    assert "hunter2-secret" not in message


class _Settings(BaseModel):
    site: str
    api_token_env: str


def test_an_unset_secret_variable_is_named_with_its_key():
    settings = _Settings(site="x", api_token_env="JIRA_TOKEN_FOR_TEST")
    problems = check_secrets(settings, section="jira", secrets={})
    assert problems == [
        (
            "jira.api_token_env",
            "environment variable JIRA_TOKEN_FOR_TEST is not set; export it with the "
            "secret (secrets are never written in the file)",
        )
    ]
    assert (
        check_secrets(settings, section="jira", secrets={"JIRA_TOKEN_FOR_TEST": "t"})
        == []
    )


def test_a_malformed_template_is_refused_at_load_time(tmp_path):
    text = GOOD.replace(
        'summary = { from = "Title" }', 'summary = { template = "{Title" }'
    )
    problems = problems_of(tmp_path, text)
    assert "the template is malformed" in problems["flows.bugs.fields.summary"]
