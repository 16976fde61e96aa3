"""Call hooks whose implementations may be coroutines, in pluggy's order.

pluggy calls implementations synchronously, so a ``firstresult`` hook would stop at
the first coroutine object. The engine walks the implementations itself instead and
awaits each answer that is awaitable; see the module docstring of
:mod:`caspira_hookspecs.specs` for the three disciplines.
"""

from __future__ import annotations

import inspect
from typing import Any

import pluggy

__all__ = ["call_chain", "call_each", "call_first", "implementers"]


def _ordered(caller: pluggy.HookCaller) -> list[pluggy.HookImpl]:
    # pluggy keeps implementations with the last-called first; it calls them reversed.
    return list(reversed(caller.get_hookimpls()))


async def _invoke(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
    answer = impl.function(**{name: kwargs[name] for name in impl.argnames})
    if inspect.isawaitable(answer):
        answer = await answer
    return answer


async def call_first(caller: pluggy.HookCaller, **kwargs: Any) -> Any:
    """The first answer that is not ``None``, or ``None`` when nobody answers."""
    for impl in _ordered(caller):
        answer = await _invoke(impl, kwargs)
        if answer is not None:
            return answer
    return None


async def call_each(caller: pluggy.HookCaller, **kwargs: Any) -> list[Any]:
    """Every implementation's answer that is not ``None``, in call order."""
    answers = []
    for impl in _ordered(caller):
        answer = await _invoke(impl, kwargs)
        if answer is not None:
            answers.append(answer)
    return answers


async def call_chain(
    caller: pluggy.HookCaller, argument: str, value: Any, **kwargs: Any
) -> Any:
    """Pass ``value`` through each implementation as ``argument``; ``None`` keeps it.

    A chain stops early when an implementation answers with something that is not
    of the value's type (a ``Skip``, for instance), and returns that answer.
    """
    kind = type(value)
    for impl in _ordered(caller):
        answer = await _invoke(impl, {**kwargs, argument: value})
        if answer is None:
            continue
        if not isinstance(answer, kind):
            return answer
        value = answer
    return value


def implementers(pm: pluggy.PluginManager, hook_name: str) -> list[str]:
    """Names of the plugins implementing ``hook_name``, in call order."""
    caller = getattr(pm.hook, hook_name)
    return [impl.plugin_name for impl in _ordered(caller)]
