"""caspira connector for Caspio."""
