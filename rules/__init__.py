"""The rules engine: YAML rules over per-person metrics produce findings with evidence."""
