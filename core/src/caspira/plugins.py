"""Find installed plugins through their entry points and register them with pluggy.

stevedore finds and imports the ``caspira.plugins`` entry points; a plugin that fails
to import is reported by name and the others still load. Each engine (tenant) gets a
plugin manager of its own with its own plugin instances, so one process can serve
several tenants.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError
from stevedore import ExtensionManager

from caspira.config import CaspiraConfig, check_secrets, describe_validation
from caspira_hookspecs import (
    ENTRY_POINT_GROUP,
    PROJECT_NAME,
    ConfigError,
    PluginContext,
    specs,
)

__all__ = [
    "LoadedPlugin",
    "PluginFailure",
    "PluginSet",
    "discover",
    "load_plugins",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discovered:
    """An installed plugin's entry point, imported."""

    name: str
    target: Any
    distribution: str | None
    version: str | None


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported or set up, and why."""

    name: str
    error: str


@dataclass
class LoadedPlugin:
    """A plugin registered with an engine's plugin manager."""

    name: str
    instance: Any
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    settings: BaseModel | None = None

    def secret_names(self) -> list[str]:
        """The environment variables this plugin's settings name for secrets."""
        if self.settings is None:
            return []
        names = [
            getattr(self.settings, name)
            for name in type(self.settings).model_fields
            if name.endswith("_env")
        ]
        return [name for name in names if name]


@dataclass
class PluginSet:
    """An engine's plugin manager with what was loaded, skipped and broken."""

    pm: pluggy.PluginManager
    loaded: list[LoadedPlugin]
    inactive: dict[str, str]
    failures: list[PluginFailure]

    async def aclose(self) -> None:
        for plugin in self.loaded:
            closer = getattr(plugin.instance, "aclose", None)
            if closer is None:
                continue
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("plugin.close_failed", extra={"plugin": plugin.name})


def discover() -> tuple[list[Discovered], list[PluginFailure]]:
    """Import every installed plugin; a broken one becomes a failure, not a crash."""
    failures: list[PluginFailure] = []

    def on_failure(_manager: Any, entry_point: Any, exc: Exception) -> None:
        failures.append(
            PluginFailure(
                entry_point.name,
                f"could not import {entry_point.value}: {type(exc).__name__}: {exc}",
            )
        )

    # stevedore remembers a group's entry points for the life of the process; look
    # again so that plugins installed since (or a changed sys.path) are seen.
    ExtensionManager.ENTRY_POINT_CACHE.pop(ENTRY_POINT_GROUP, None)
    manager = ExtensionManager(
        namespace=ENTRY_POINT_GROUP,
        invoke_on_load=False,
        on_load_failure_callback=on_failure,
    )
    # stevedore caches entry points without their distribution; ask importlib.
    owners = {
        ep.name: ep.dist for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.dist
    }
    found = []
    for extension in manager:
        dist = owners.get(extension.name)
        found.append(
            Discovered(
                name=extension.name,
                target=extension.plugin,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )
        )
    found.sort(key=lambda d: d.name)
    return found, failures


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(specs)
    return pm


def load_plugins(
    config: CaspiraConfig,
    *,
    secrets: Mapping[str, str],
    transports: Mapping[str, Any] | None = None,
    extra: Iterable[Any] = (),
    use_entry_points: bool = True,
) -> PluginSet:
    """Instantiate and register the plugins a configuration asks for.

    ``extra`` holds plugins given in code (classes, instances or modules), as an
    embedder or a test would. Raises ConfigError for plugin sections that are wrong
    or that no plugin claims.
    """
    from caspira import mapping

    discovered, failures = discover() if use_entry_points else ([], [])
    candidates = [d for d in discovered if _selected(config, d.name)]
    candidates += [_describe_extra(target) for target in extra]

    pm = new_plugin_manager()
    pm.register(mapping, name="caspira.mapping")
    loaded = [LoadedPlugin("caspira.mapping", mapping, "caspira", None)]
    inactive: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    claimed = set()

    for candidate in candidates:
        claimed.add(candidate.name)
        try:
            instance, settings, reason = _instantiate(
                candidate, config, secrets, transports or {}, problems
            )
        except Exception as exc:
            failures.append(
                PluginFailure(
                    candidate.name, f"could not start: {type(exc).__name__}: {exc}"
                )
            )
            continue
        if instance is None:
            inactive[candidate.name] = reason
            continue
        try:
            pm.register(instance, name=candidate.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            failures.append(PluginFailure(candidate.name, f"rejected by pluggy: {exc}"))
            continue
        loaded.append(
            LoadedPlugin(
                candidate.name,
                instance,
                candidate.distribution,
                candidate.version,
                sorted(caller.name for caller in pm.get_hookcallers(instance) or []),
                settings,
            )
        )

    broken = {failure.name: failure.error for failure in failures}
    for section in config.sections:
        if section in broken:
            problems.append(
                (
                    f"[{section}]",
                    f"the plugin {section!r} failed to load: {broken[section]}",
                )
            )
        elif section not in claimed:
            installed = ", ".join(sorted(claimed)) or "none"
            problems.append(
                (
                    f"[{section}]",
                    f"no loaded plugin is named {section!r} (loaded: {installed}); "
                    "install the plugin that reads this section or remove it",
                )
            )
    if config.flows and not problems and not pm.hook.create_issue.get_hookimpls():
        problems.append(
            (
                "flows",
                "flows are configured but no plugin can create issues; add the [jira] "
                "section (see docs/configuration.md)",
            )
        )
    if problems:
        raise ConfigError(config.path, problems)

    for failure in failures:
        log.error(
            "plugin.failed", extra={"plugin": failure.name, "error": failure.error}
        )
    return PluginSet(pm, loaded, inactive, failures)


def _selected(config: CaspiraConfig, name: str) -> bool:
    enabled = config.plugins.enabled
    if enabled is not None and name not in enabled:
        return False
    return name not in config.plugins.disabled


def _describe_extra(target: Any) -> Discovered:
    name = getattr(target, "name", None) or getattr(target, "__name__", None)
    if not name:
        name = type(target).__name__
    return Discovered(name=str(name), target=target, distribution=None, version=None)


def _instantiate(
    candidate: Discovered,
    config: CaspiraConfig,
    secrets: Mapping[str, str],
    transports: Mapping[str, Any],
    problems: list[tuple[str, str]],
) -> tuple[Any, BaseModel | None, str]:
    """Build the plugin object and its settings; None and a reason when inactive."""
    target = candidate.target
    if not inspect.isclass(target):
        return target, None, ""

    settings = None
    model: type[BaseModel] | None = getattr(target, "settings_model", None)
    section = config.sections.get(candidate.name)
    if model is not None:
        if section is None:
            try:
                settings = model()
            except ValidationError:
                return None, None, f"no [{candidate.name}] section in {config.path}"
        else:
            try:
                settings = model.model_validate(section)
            except ValidationError as exc:
                problems.extend(describe_validation(exc, prefix=candidate.name))
                return None, None, "its section has errors"
        problems.extend(
            check_secrets(settings, section=candidate.name, secrets=secrets)
        )

    context = PluginContext(
        tenant=config.tenant,
        settings=settings,
        flows=config.flows,
        secrets=secrets,
        transports=dict(transports),
    )
    return target(context), settings, ""
