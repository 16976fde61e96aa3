"""The ``caspira`` command: check a configuration, serve webhooks, run workers,
inspect events, list plugins, run the emulators and the demo.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import click
from click.core import ParameterSource

from caspira.config import CaspiraConfig, load_config
from caspira.logs import configure_logging
from caspira_hookspecs import EMULATOR_ENTRY_POINT_GROUP, CaspiraError, ConfigError

__all__ = ["main"]

CONFIG_HELP = (
    "Configuration file (TOML). Default: ./caspira.toml, or $CASPIRA_CONFIG when set."
)


def _config_option(function: Any) -> Any:
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=lambda: os.environ.get("CASPIRA_CONFIG", "caspira.toml"),
        show_default="caspira.toml",
        help=CONFIG_HELP,
    )(function)


def _load(config_path: Path) -> CaspiraConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        _fail_config(exc)
        raise AssertionError("unreachable") from exc


def _fail_config(exc: ConfigError) -> None:
    click.secho(f"{exc.path}: {len(exc.problems)} problem(s)", fg="red", err=True)
    for key, message in exc.problems:
        click.echo(f"  {key}: {message}", err=True)
    sys.exit(2)


def _engine(config: CaspiraConfig, *, receives_webhooks: bool = True) -> Any:
    from caspira.engine import Engine

    try:
        return Engine(config, receives_webhooks=receives_webhooks)
    except ConfigError as exc:
        _fail_config(exc)
    except CaspiraError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 96}
)
@click.option(
    "--log-level",
    default=lambda: os.environ.get("CASPIRA_LOG_LEVEL", "INFO"),
    show_default="INFO",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="How much to log (stderr, key=value lines, secrets scrubbed).",
)
@click.version_option(package_name="caspira")
def main(log_level: str) -> None:
    """caspira turns Caspio records into Jira issues and keeps both sides in step.

    \b
    Start here:
      caspira demo                      watch it work on built-in emulators
      caspira validate -c caspira.toml  check a configuration before you run it
      caspira serve -c caspira.toml     receive webhooks and process them
      caspira plugins                   see which connectors are installed

    Documentation: docs/ in the repository, starting with docs/quickstart.md.
    """
    configure_logging(log_level)


@main.command()
@_config_option
def validate(config_path: Path) -> None:
    """Check a configuration file and report every problem at once.

    Checks the TOML syntax, every key and value, each flow's field rules, each
    plugin's section, and that every environment variable named by a *_env key
    is set. Exits 0 when all is well, 2 otherwise.
    """
    config = _load(config_path)
    engine = _engine(config)
    names = ", ".join(p.name for p in engine.plugins.loaded)
    click.echo(f"{config_path}: OK ({len(config.flows)} flow(s); plugins: {names})")
    for name, reason in engine.plugins.inactive.items():
        click.echo(f"  plugin {name} inactive: {reason}")
    for failure in engine.plugins.failures:
        click.secho(f"  plugin {failure.name} failed: {failure.error}", fg="yellow")


@main.command()
@_config_option
@click.option("--host", help="Address to listen on (default: daemon.host).")
@click.option("--port", type=int, help="Port to listen on (default: daemon.port).")
@click.option(
    "--no-worker", is_flag=True, help="Only receive and store; run workers apart."
)
def serve(
    config_path: Path, host: str | None, port: int | None, no_worker: bool
) -> None:
    """Receive webhooks and process the events they carry.

    Each plugin adds its routes (Caspio: POST /hooks/caspio/{flow}). A delivery is
    stored before it is answered; a worker in the same process applies it. Stops
    cleanly on SIGTERM or Ctrl-C: it stops accepting, finishes what it holds, exits.
    """
    from caspira.daemon import serve as run_daemon

    engine = _engine(_load(config_path))

    async def run() -> None:
        async with engine:
            await run_daemon(engine, host=host, port=port, with_worker=not no_worker)

    _run_server(run)


def _run_server(run: Any) -> None:
    """Run a serving coroutine; a port in use is one line, not a traceback."""
    try:
        anyio.run(run)
    except* OSError as failures:
        for exc in _leaves(failures):
            click.secho(f"could not serve: {exc}", fg="red", err=True)
        sys.exit(1)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    """The exceptions inside nested task-group errors."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


@main.command()
@_config_option
def worker(config_path: Path) -> None:
    """Process stored events without receiving webhooks.

    Run several, on one machine or many, against one PostgreSQL store to share the
    work; each event is claimed by exactly one worker.
    """
    from caspira.daemon import _stop_on_signal
    from caspira.worker import Worker

    engine = _engine(_load(config_path), receives_webhooks=False)

    async def run() -> None:
        stop = anyio.Event()
        async with engine, anyio.create_task_group() as group:
            group.start_soon(_stop_on_signal, stop)
            await Worker(engine).run(stop)
            group.cancel_scope.cancel()

    anyio.run(run)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their versions and the hooks each implements."""
    from caspira.plugins import discover

    found, failures = discover()
    rows = []
    for plugin in found:
        rows.append(
            {
                "name": plugin.name,
                "distribution": plugin.distribution,
                "version": plugin.version,
                "hooks": _hooks_of(plugin.target),
            }
        )
    if as_json:
        click.echo(
            json.dumps(
                {"plugins": rows, "failed": [vars(f) for f in failures]}, indent=2
            )
        )
        return
    for row in rows:
        click.echo(f"{row['name']:<10} {row['distribution']} {row['version']}")
        click.echo(f"{'':<10} hooks: {', '.join(row['hooks']) or '(none)'}")
    for failure in failures:
        click.secho(f"{failure.name:<10} FAILED: {failure.error}", fg="red")


def _hooks_of(target: Any) -> list[str]:
    from caspira_hookspecs import PROJECT_NAME

    marker = f"{PROJECT_NAME}_impl"
    names = []
    for attr in dir(target):
        value = getattr(target, attr, None)
        if callable(value) and hasattr(value, marker):
            names.append(attr)
    return sorted(names)


@main.command()
@click.argument("service")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="Port (default: a free one).")
@click.option(
    "--set",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An emulator option, e.g. --set token_ttl=60. Repeatable.",
)
def emulate(service: str, host: str, port: int, options: tuple[str, ...]) -> None:
    """Serve an emulator of SERVICE (caspio, jira, slack) on loopback.

    Emulators keep their state in memory and answer like the real API, errors
    included, so flows can be built and tested offline. Each connector documents
    its emulator's options in its README.
    """
    from caspira.daemon import AppServer, _stop_on_signal, free_port

    factory = _emulator_factory(service)
    settings = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise click.BadParameter(
                f"expected KEY=VALUE, got {option!r}", param_hint="--set"
            )
        settings[key] = value
    try:
        app = factory(**settings)
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from exc
    server = AppServer(app, host, port or free_port(host))

    async def run() -> None:
        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            await group.start(server.run)
            click.echo(f"{service} emulator listening on {server.url}")
            await _stop_on_signal(stop)
            server.stop()

    _run_server(run)


def _emulator_factory(service: str) -> Any:
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=EMULATOR_ENTRY_POINT_GROUP)}
    if service not in found:
        names = ", ".join(sorted(found)) or "none installed"
        raise click.BadParameter(
            f"no emulator named {service!r} (available: {names})", param_hint="SERVICE"
        )
    return found[service].load()


@main.command()
@click.option("--records", default=25, show_default=True, help="How many bug reports.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait.")
@click.option(
    "--database",
    default=None,
    help="Store URL (default: a SQLite file in a temporary folder).",
)
def demo(records: int, timeout: float, database: str | None) -> None:
    """Run the whole flow offline: Caspio bug reports become Jira issues.

    Starts the Caspio, Jira and Slack emulators and the daemon on free loopback
    ports, inserts bug reports through the Caspio API, lets Caspio's webhooks drive
    the flow, prints one line per record and checks that every record became
    exactly one issue with the right fields and that its key was written back.
    Exits 0 only when every check passes.
    """
    from caspira.demo import run_demo

    # The demo's own report is the output; engine logs only when asked for.
    parent = click.get_current_context().parent
    if parent and parent.get_parameter_source("log_level") is ParameterSource.DEFAULT:
        logging.getLogger().setLevel(logging.WARNING)
    ok = False
    try:
        ok = anyio.run(run_demo, records, timeout, database)
    except* CaspiraError as failures:
        for exc in _leaves(failures):
            click.secho(f"demo failed: {exc}", fg="red", err=True)
    sys.exit(0 if ok else 1)


from caspira.cli_events import events  # noqa: E402

main.add_command(events)
