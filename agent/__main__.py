"""`python -m agent` is the `agent` command."""

from agent.cli.entry import main

main()
