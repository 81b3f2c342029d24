"""Entry point of the embedded S3 server: moto, with its buckets mirrored to disk.

moto keeps objects in memory only. This wrapper loads ``--data-dir`` (one folder per
bucket, one file per object) into the server at start, and writes the buckets back
on SIGTERM/SIGINT and every ``--snapshot-every`` seconds, so data written through the
S3 API survives ``workbench down`` / ``up`` (a SIGKILL loses at most one interval).

Run as ``python -m platform_kit.services._moto_main --port 19000 --data-dir DIR``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path

_log = logging.getLogger("platform_kit.moto")
_META = ".bucket"  # marker file: a folder is a bucket even when empty


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="workbench", aws_secret_access_key="workbench",
        region_name="us-east-1", config=Config(retries={"max_attempts": 2}),
    )


def load_snapshot(client, data_dir: Path, buckets: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Create ``buckets`` and upload every file under ``data_dir`` to its bucket."""
    count = 0
    names = set(buckets) | {p.name for p in data_dir.iterdir() if p.is_dir()} if data_dir.exists() else set(buckets)
    for bucket in sorted(names):
        client.create_bucket(Bucket=bucket)
        root = data_dir / bucket
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.is_file() and path.name != _META and not path.name.endswith(".partial"):
                client.upload_file(str(path), bucket, path.relative_to(root).as_posix())
                count += 1
    return count


def save_snapshot(client, data_dir: Path, seen: dict[tuple[str, str], str]) -> int:  # type: ignore[no-untyped-def]
    """Mirror every bucket into ``data_dir`` incrementally.

    Only objects whose ETag changed since the last snapshot (``seen``, updated in
    place) are downloaded; files whose object was deleted are removed. Each file is
    written to a temporary name and renamed, so a crash never leaves half a file.

    Returns:
        The number of objects written or removed.
    """
    changes = 0
    current: dict[tuple[str, str], str] = {}
    for bucket in client.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        root = data_dir / name
        root.mkdir(parents=True, exist_ok=True)
        (root / _META).touch()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                key = (name, obj["Key"])
                current[key] = obj["ETag"]
                if seen.get(key) == obj["ETag"]:
                    continue
                target = root / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".partial")
                client.download_file(name, obj["Key"], str(partial))
                partial.replace(target)
                changes += 1
    for bucket, key in set(seen) - set(current):
        (data_dir / bucket / key).unlink(missing_ok=True)
        changes += 1
    seen.clear()
    seen.update(current)
    return changes


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGTERM, then save the snapshot."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--buckets", default="")
    parser.add_argument("--snapshot-every", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    endpoint = f"http://{args.host}:{args.port}"
    client = _client(endpoint)
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    loaded = load_snapshot(client, data_dir, [b for b in args.buckets.split(",") if b])
    seen: dict[tuple[str, str], str] = {}
    save_snapshot(client, data_dir, seen)  # baseline: nothing changed yet
    _log.info("moto S3 on %s: restored %d objects from %s", endpoint, loaded, data_dir)

    stop = threading.Event()
    lock = threading.Lock()

    def _snapshot(reason: str) -> None:
        with lock:
            try:
                saved = save_snapshot(client, data_dir, seen)
                _log.info("snapshot (%s): %d objects changed in %s", reason, saved, data_dir)
            except Exception:  # keep serving; the next snapshot retries
                _log.exception("snapshot (%s) failed", reason)

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    last = time.monotonic()
    while not stop.wait(0.5):
        if args.snapshot_every > 0 and time.monotonic() - last >= args.snapshot_every:
            _snapshot("periodic")
            last = time.monotonic()
    _snapshot("shutdown")
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
