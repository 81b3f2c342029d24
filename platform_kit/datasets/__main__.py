"""Command line: write the company to files, or re-record ``checksums.json``.

Examples::

    python -m platform_kit.datasets --out data/northwind --scale small --seed 42
    python -m platform_kit.datasets --out s3://lake/raw/northwind --format parquet
    python -m platform_kit.datasets --record-checksums
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from platform_kit.datasets._checksums import CHECKSUMS_PATH, RECORDED, record_checksums
from platform_kit.datasets._io import FORMATS, write_company
from platform_kit.datasets._scales import SCALES
from platform_kit.datasets._schema import TABLES
from platform_kit.errors import WorkbenchError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m platform_kit.datasets",
        description="Generate the Northwind Outfitters synthetic company.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--out", metavar="DIR", help="folder or URL (s3://...) to write one file per table to"
    )
    action.add_argument(
        "--record-checksums",
        action="store_true",
        help=f"regenerate {', '.join(f'{s}/{d}' for s, d in RECORDED)} (scale/seed), rewrite checksums.json",
    )
    parser.add_argument("--scale", default="tiny", help=f"{' | '.join(SCALES)} or a factor (default: tiny)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument("--format", default="parquet", choices=sorted(FORMATS), help="file format")
    parser.add_argument("--tables", nargs="+", metavar="TABLE", help=f"subset of: {' '.join(TABLES)}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on a workbench error)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    started = time.perf_counter()
    try:
        if args.record_checksums:
            document = record_checksums()
            for scale, seeds in document["records"].items():
                for seed, tables in seeds.items():
                    rows = ", ".join(f"{name}={entry['rows']}" for name, entry in tables.items())
                    print(f"recorded {scale}/seed {seed}: {rows}")
            print(f"wrote {CHECKSUMS_PATH} in {time.perf_counter() - started:.1f} s")
            return 0
        paths = write_company(args.out, args.scale, args.seed, format=args.format, tables=args.tables)
    except WorkbenchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name:<18} {path}")
    print(f"wrote {len(paths)} table(s) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
