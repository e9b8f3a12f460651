"""`python -m agent` is the `agent` command."""

from agent.entry import main

main()
