"""caspira connector for Jira."""
