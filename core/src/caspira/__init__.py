"""caspira: the engine."""
