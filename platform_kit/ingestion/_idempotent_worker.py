"""A consumer as its own process, for crash drills: ``python -m platform_kit.ingestion._idempotent_worker``.

Settings that may hold secrets come through the environment, not the command line:
``PK_WORKER_CONSUMER_CONFIG`` (JSON librdkafka settings) and ``PK_WORKER_DSN`` (PostgreSQL URI).
The worker prints ``READY {start offsets}`` once its partitions are assigned and
``DONE {report}`` when it reached ``--end``; a planned crash (``--crash-batch``) SIGKILLs itself.

Introduced in: Lab 2 (ingestion), section 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from platform_kit.ingestion._idempotent_consume import Crash, consume_idempotently, consume_naively
from platform_kit.ingestion._idempotent_sql import SinkTables

CONFIG_ENV = "PK_WORKER_CONSUMER_CONFIG"
DSN_ENV = "PK_WORKER_DSN"


def parse_offsets(text: str) -> dict[int, int]:
    """``"0:120,1:98"`` -> ``{0: 120, 1: 98}``.

    Raises:
        ValueError: Not ``partition:offset`` pairs.
    """
    out = {}
    for part in filter(None, text.split(",")):
        partition, _, offset = part.partition(":")
        out[int(partition)] = int(offset)
    return out


def format_offsets(offsets: dict[int, int]) -> str:
    """Inverse of :func:`parse_offsets`."""
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


def main(argv: list[str] | None = None) -> int:
    """Run one consumer until ``--end`` is reached (or it is killed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--consumer", required=True, help="consumer id (offsets key) or group id (naive modes)")
    parser.add_argument("--table", required=True)
    parser.add_argument("--offsets-table", default="ingest_offsets")
    parser.add_argument("--end", required=True, help="partition:next_offset,... from the producer's delivery reports")
    parser.add_argument("--mode", choices=["idempotent", "commit_first", "write_first"], default="idempotent")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--method", choices=["values", "copy"], default="values")
    parser.add_argument("--crash-batch", type=int, default=0, help="SIGKILL itself during this batch (0: never)")
    parser.add_argument("--crash-point", default="between")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    config = json.loads(os.environ[CONFIG_ENV])
    dsn = os.environ[DSN_ENV]
    end = parse_offsets(args.end)
    crash = Crash(args.crash_batch, args.crash_point) if args.crash_batch else None

    def ready(offsets: dict[int, int]) -> None:
        print("READY " + json.dumps(offsets), flush=True)

    if args.mode == "idempotent":
        from functools import partial

        from platform_kit.ingestion._idempotent_batch import apply_batch

        report = consume_idempotently(
            config, dsn, args.topic, consumer_id=args.consumer,
            tables=SinkTables(args.table, args.offsets_table), end_offsets=end, batch_size=args.batch_size,
            idle_s=None, timeout_s=args.timeout, crash=crash, crash_how="sigkill", on_ready=ready,
            handler=partial(apply_batch, method=args.method))
    else:
        ready({})
        report = consume_naively(
            {**config, "group.id": args.consumer}, dsn, args.topic, tables=SinkTables(args.table, keyed=False),
            mode=args.mode, end_offsets=end, batch_size=args.batch_size, idle_s=None, timeout_s=args.timeout,
            crash=crash, crash_how="sigkill")
    print("DONE " + json.dumps(report.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
