"""caspira connector for Slack."""
