"""Stop a server when the process that owns it dies, however it dies.

A notebook kernel killed by its manager runs no ``atexit`` hooks, ``pg_ctl`` detaches
PostgreSQL from its starter, and ``PR_SET_PDEATHSIG`` is not honoured in every
sandbox. So an owned service gets a guardian: a small process in its own session that
polls the owner's pid and, once the owner is gone, runs the stop command.

Run as ``python -m platform_kit._guardian --owner PID -- <stop command...>``.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import threading
import time

from platform_kit._process import pid_alive


def main(argv: list[str] | None = None) -> int:
    """Poll ``--owner`` until it exits (or SIGTERM arrives), then run the stop command."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--owner", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a stop command is required after --")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while pid_alive(args.owner) and not stop.wait(args.interval):
        pass
    time.sleep(0.2)  # let an owner's own atexit clean-up finish first
    return subprocess.run(command, check=False, timeout=120).returncode


if __name__ == "__main__":
    raise SystemExit(main())
