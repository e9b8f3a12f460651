"""The command line: entry (signals, exit codes), main (the click group), commands (one module
per command), app (config and store opened on demand), views, progress and textwidth
(terminal output)."""
