"""Configuration: settings (the TOML tables), secrets (passwords from commands, environment,
systemd credentials), paths (XDG defaults), durations and schedule (value syntaxes), files."""
