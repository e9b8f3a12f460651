"""agent(1): generated from the CLI, complete, and valid roff."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date

import click

from agent.cli.main import main
from agent.cli.manpage import render
from tests.servers.common import unavailable


def test_the_page_names_every_command_and_option() -> None:
    page = render(main, date(2026, 12, 1)).replace("\\-", "-")
    assert page.startswith('.TH AGENT 1 "2026-12-01"')

    def walk(cmd: click.Command, path: str) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}".strip())
        else:
            assert f".SS agent {path}" in page, path
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.opts[-1] in page, (path, param.opts)

    walk(main, "")
    for section in ("EXIT STATUS", "ENVIRONMENT", "FILES"):
        assert f".SH {section}" in page


def test_groff_renders_it_without_a_warning(tmp_path) -> None:
    if shutil.which("groff") is None:
        unavailable("groff is not installed (.ci/system-deps.sh installs groff-base)")
    source = tmp_path / "agent.1"
    source.write_text(render(main))
    done = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(source)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
