"""caspira connector for Slack: posts notifications through a webhook or a bot token.

The emulator of Slack's side lives in :mod:`caspira_slack.emulator`.
"""

from __future__ import annotations

from caspira_slack._message import escape, render
from caspira_slack._plugin import SlackPlugin
from caspira_slack._settings import NOTIFICATION_KINDS, SlackSettings

__version__ = "0.1.0"

__all__ = ["NOTIFICATION_KINDS", "SlackPlugin", "SlackSettings", "escape", "render"]
