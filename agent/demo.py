"""`make demo`: write the bundled sample mailbox, sync it into SQLite, show people and digest.

Offline and reproducible: the sample is generated from a seed and evaluated as of a fixed day.
The data lands in ./demo-data (or $AGENT_DEMO_DIR) so you can keep exploring with the printed
commands afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from agent.sample import AS_OF, write_sample


def run(config: Path, *args: str) -> None:
    command = [sys.executable, "-m", "agent", "--config", str(config), *args]
    print(f"\n$ agent {' '.join(args)}", flush=True)
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def main() -> None:
    root = Path(os.environ.get("AGENT_DEMO_DIR", "demo-data")).resolve()
    if root.exists():
        shutil.rmtree(root)
    config = write_sample(root, language=os.environ.get("AGENT_DEMO_LANGUAGE", "en"))
    print(f"Sample mailbox and config written to {root}")
    day = AS_OF.isoformat()
    run(config, "check", "--offline")
    run(config, "sync")
    run(config, "people", "--as-of", day)
    run(config, "person", "Carla", "--as-of", day)
    run(config, "digest", "--as-of", day, "--format", "text")
    shown = " ".join(agent_command())
    print(f"\nTry more: {shown} --config {config} digest --as-of {day} --format html")


def agent_command() -> list[str]:
    """How to run `agent` from here: by name when it is on PATH, else the script beside this
    interpreter (make demo's venv), else through this interpreter."""
    if shutil.which("agent"):
        return ["agent"]
    beside = Path(sys.executable).with_name("agent")
    if beside.is_file():
        relative = os.path.relpath(beside)  # ".venv/bin/agent" from the project root
        return [str(beside) if relative.startswith("..") else relative]
    return [sys.executable, "-m", "agent"]


if __name__ == "__main__":
    main()
