"""The rules engine: jurisdiction packs as data, evaluated at an instant (private)."""
