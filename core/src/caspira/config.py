"""Load and check ``caspira.toml``: every problem is reported with the file, the key
and what was expected, before anything starts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caspira_hookspecs import ConfigError, Flow

__all__ = [
    "CaspiraConfig",
    "DaemonSettings",
    "PluginSelection",
    "StoreSettings",
    "WorkerSettings",
    "load_config",
    "parse_config",
]

#: Top-level sections the engine owns; every other section belongs to a plugin.
CORE_SECTIONS = ("store", "daemon", "worker", "flows", "plugins", "tenant")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    """``[store]``: where events, links and the audit trail live."""

    url: str = "sqlite:///caspira.db"


class DaemonSettings(_Section):
    """``[daemon]``: the webhook receiver."""

    host: str = "127.0.0.1"
    port: int = Field(default=8780, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_048_576, gt=0)


class WorkerSettings(_Section):
    """``[worker]``: how events are claimed and retried."""

    concurrency: int = Field(default=4, ge=1, le=256)
    batch_size: int = Field(default=16, ge=1, le=1000)
    lease_seconds: float = Field(default=120.0, gt=0)
    poll_interval: float = Field(default=0.5, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=900.0, gt=0)


class PluginSelection(_Section):
    """``[plugins]``: which installed plugins to load (all of them by default)."""

    enabled: tuple[str, ...] | None = None
    disabled: tuple[str, ...] = ()


class CaspiraConfig(_Section):
    """The whole configuration; plugin sections stay raw until plugins check them."""

    path: str = "<memory>"
    tenant: str = "default"
    store: StoreSettings = StoreSettings()
    daemon: DaemonSettings = DaemonSettings()
    worker: WorkerSettings = WorkerSettings()
    plugins: PluginSelection = PluginSelection()
    flows: dict[str, Flow] = Field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = Field(default_factory=dict)


def load_config(path: str | Path) -> CaspiraConfig:
    """Read a TOML file into a :class:`CaspiraConfig`; ConfigError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path),
            [
                (
                    "(file)",
                    "no such file; create it (see docs/configuration.md) or pass "
                    "--config with the right path",
                )
            ],
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [("(syntax)", f"not valid TOML: {exc}")]) from None
    return parse_config(raw, path=str(path))


def parse_config(raw: Mapping[str, Any], *, path: str = "<memory>") -> CaspiraConfig:
    """Check a parsed TOML document; collect every problem before raising."""
    problems: list[tuple[str, str]] = []
    core: dict[str, Any] = {"path": path}
    sections: dict[str, dict[str, Any]] = {}

    for name, value in raw.items():
        if name in CORE_SECTIONS:
            core[name] = value
        elif isinstance(value, dict):
            sections[name] = value
        else:
            problems.append((name, "expected a table like [" + name + "], got a value"))

    flows_raw = core.pop("flows", {})
    flows: dict[str, Flow] = {}
    if not isinstance(flows_raw, dict):
        problems.append(("flows", "expected tables like [flows.bugs]"))
        flows_raw = {}
    for flow_name, flow_raw in flows_raw.items():
        if not isinstance(flow_raw, dict):
            problems.append((f"flows.{flow_name}", "expected a table"))
            continue
        try:
            flows[flow_name] = Flow.model_validate({"name": flow_name, **flow_raw})
        except ValidationError as exc:
            problems.extend(_describe(exc, prefix=f"flows.{flow_name}"))
            continue
        if "summary" not in flows[flow_name].fields:
            problems.append(
                (
                    f"flows.{flow_name}.fields.summary",
                    "required: say which record field becomes the issue summary, "
                    'e.g. summary = { from = "Title" }',
                )
            )

    try:
        config = CaspiraConfig.model_validate({**core, "sections": sections})
    except ValidationError as exc:
        problems.extend(_describe(exc, prefix=""))
        config = None

    if problems:
        raise ConfigError(path, problems)
    assert config is not None
    return config.model_copy(update={"flows": flows})


def check_secrets(
    settings: BaseModel, *, section: str, secrets: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Problems for every ``*_env`` field whose environment variable is not set."""
    problems = []
    for field_name in type(settings).model_fields:
        if not field_name.endswith("_env"):
            continue
        env_name = getattr(settings, field_name)
        if env_name and not secrets.get(env_name):
            problems.append(
                (
                    f"{section}.{field_name}",
                    f"environment variable {env_name} is not set; export it with "
                    "the secret (secrets are never written in the file)",
                )
            )
    return problems


def check_flow_secrets(
    flows: Mapping[str, Flow], secrets: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Problems for flows whose webhook secret variable is not set."""
    problems = []
    for flow in flows.values():
        if flow.webhook_secret_env and not secrets.get(flow.webhook_secret_env):
            problems.append(
                (
                    f"flows.{flow.name}.webhook_secret_env",
                    f"environment variable {flow.webhook_secret_env} is not set; "
                    "export it with the secret Caspio sends in its deliveries",
                )
            )
    return problems


def describe_validation(exc: ValidationError, *, prefix: str) -> list[tuple[str, str]]:
    """Turn pydantic's errors into (dotted key, what was expected) pairs."""
    return _describe(exc, prefix=prefix)


def _describe(exc: ValidationError, *, prefix: str) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join([prefix, *loc] if prefix else loc) or prefix or "(top)"
        kind = error["type"]
        if kind == "extra_forbidden":
            last = loc[-1] if loc else ""
            if _looks_like_secret(last):
                message = (
                    f"secrets are not written in the file; set {last}_env to the name "
                    "of an environment variable that holds it"
                )
            else:
                message = "unknown key; check the spelling (see docs/configuration.md)"
        elif kind == "missing":
            message = "required key is missing"
        elif any(_looks_like_secret(part) for part in loc):
            message = error["msg"]
        else:
            message = f"{error['msg']} (got {error.get('input')!r})"
        problems.append((key, message))
    return problems


def _looks_like_secret(key: str) -> bool:
    return any(word in key for word in ("token", "secret", "password", "api_key"))
