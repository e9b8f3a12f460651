"""Run one command as a child process; measure its wall time and its own peak RSS."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float  # user + system time of the child: robust when other work shares the CPU
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    cmd: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None
) -> Measured:
    """Run ``cmd`` to completion; ``peak_rss_mib`` is the child's ru_maxrss.

    ``os.wait4`` reports the rusage of exactly this child (not of earlier ones, which
    RUSAGE_CHILDREN would mix in as a running maximum). Output goes to temp files rather than
    pipes so a chatty child never blocks and we never hold its output in our own memory twice.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=dict(env or os.environ), cwd=cwd)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not reap it again
        return Measured(
            seconds=seconds,
            peak_rss_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            returncode=proc.returncode,
            stdout=_read(out),
            stderr=_read(err),
        )


def _read(fh: object) -> str:
    fh.seek(0)  # type: ignore[attr-defined]
    return fh.read().decode("utf-8", "replace")  # type: ignore[attr-defined]
