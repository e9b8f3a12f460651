"""One module per command (or command group); each exports COMMANDS for agent.cli.main."""
