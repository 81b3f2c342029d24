"""The embedded schema registry: Confluent Schema Registry's REST API subset over the standard library.

Speaks what confluent-kafka's ``SchemaRegistryClient`` (and so ``AvroSerializer`` and
``AvroDeserializer``) send: subjects, versions, schemas by id or guid, lookup, deletes,
global and per-subject compatibility, and compatibility tests with ``verbose``. Errors carry
Confluent's body ``{"error_code": 40401, "message": ...}``; responses are
``application/vnd.schemaregistry.v1+json``. AVRO only (JSON Schema and Protobuf get 42201).
The logic lives in :class:`~platform_kit.services._schema_registry_store.RegistryStore`.

Run as ``python -m platform_kit.services._schema_registry_server --port 18081 --data-dir DIR``;
binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from platform_kit.services._schema_registry_store import RegistryError, RegistryStore

__all__ = ["CONTENT_TYPE", "main", "make_server"]

_log = logging.getLogger("platform_kit.schema_registry")
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_MAX_BODY = 4 * 1024 * 1024


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "false").strip().lower() == "true"


def _schema_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RegistryError(40403, f"Schema {text} not found") from None


Route = Callable[[RegistryStore, list[str], dict[str, str], Any], Any]


def _raw(payload: dict[str, Any]) -> Any:
    return json.loads(payload["schema"])


#: (method, path pattern with {} for one segment, handler(store, segments, query, body))
_ROUTES: list[tuple[str, str, Route]] = [
    ("GET", "", lambda st, a, q, b: {}),
    ("GET", "subjects", lambda st, a, q, b: st.subjects(q.get("subjectPrefix", ""), _flag(q, "deleted"),
                                                         _flag(q, "deleted_only"))),
    ("GET", "subjects/{}/versions", lambda st, a, q, b: st.versions(a[0], _flag(q, "deleted"))),
    ("GET", "subjects/{}/versions/{}", lambda st, a, q, b: st.version(a[0], a[1], _flag(q, "deleted"))),
    ("GET", "subjects/{}/versions/{}/schema", lambda st, a, q, b: _raw(st.version(a[0], a[1]))),
    ("GET", "schemas/types", lambda st, a, q, b: ["AVRO"]),
    ("GET", "schemas/ids/{}", lambda st, a, q, b: st.schema_by_id(_schema_id(a[0]))),
    ("GET", "schemas/ids/{}/schema", lambda st, a, q, b: _raw(st.schema_by_id(_schema_id(a[0])))),
    ("GET", "schemas/ids/{}/versions", lambda st, a, q, b: st.usages(_schema_id(a[0]), _flag(q, "deleted"))),
    ("GET", "schemas/ids/{}/subjects",
     lambda st, a, q, b: sorted({u["subject"] for u in st.usages(_schema_id(a[0]), _flag(q, "deleted"))})),
    ("GET", "schemas/guids/{}", lambda st, a, q, b: st.schema_by_guid(a[0])),
    ("GET", "config", lambda st, a, q, b: st.get_config(None)),
    ("GET", "config/{}", lambda st, a, q, b: st.get_config(a[0], _flag(q, "defaultToGlobal"))),
    ("GET", "mode", lambda st, a, q, b: {"mode": "READWRITE"}),
    ("GET", "mode/{}", lambda st, a, q, b: {"mode": "READWRITE"}),
    ("GET", "contexts", lambda st, a, q, b: ["."]),
    ("POST", "subjects/{}/versions", lambda st, a, q, b: st.register(a[0], b)),
    ("POST", "subjects/{}", lambda st, a, q, b: st.lookup(a[0], b, _flag(q, "deleted"))),
    ("POST", "compatibility/subjects/{}/versions",
     lambda st, a, q, b: st.test_compatibility(a[0], None, b, _flag(q, "verbose"))),
    ("POST", "compatibility/subjects/{}/versions/{}",
     lambda st, a, q, b: st.test_compatibility(a[0], a[1], b, _flag(q, "verbose"))),
    ("PUT", "config", lambda st, a, q, b: st.set_config(None, b)),
    ("PUT", "config/{}", lambda st, a, q, b: st.set_config(a[0], b)),
    ("DELETE", "subjects/{}", lambda st, a, q, b: st.delete_subject(a[0], _flag(q, "permanent"))),
    ("DELETE", "subjects/{}/versions/{}", lambda st, a, q, b: st.delete_version(a[0], a[1], _flag(q, "permanent"))),
    ("DELETE", "config", lambda st, a, q, b: st.delete_config(None)),
    ("DELETE", "config/{}", lambda st, a, q, b: st.delete_config(a[0])),
]


def _match(method: str, segments: list[str]) -> tuple[Route, list[str]] | None:
    for verb, pattern, handler in _ROUTES:
        parts = pattern.split("/") if pattern else []
        if verb != method or len(parts) != len(segments):
            continue
        args = []
        for want, got in zip(parts, segments, strict=True):
            if want == "{}":
                args.append(got)
            elif want != got:
                break
        else:
            return handler, args
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server_version = "workbench-schema-registry/1"
    store: RegistryStore  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        _log.debug("%s " + format, self.address_string(), *args)

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: int, message: str) -> None:
        self._reply(status, {"error_code": code, "message": message})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise RegistryError(42201, f"Invalid schema: the request body exceeds {_MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise _BadRequest(f"the request body is not JSON: {exc}") from None

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        segments = [unquote(p) for p in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            body = self._body() if method in ("POST", "PUT") else None
            found = _match(method, segments)
            if found is None:
                self._error(404, 404, f"HTTP 404 Not Found: {method} {parts.path} is not part of the embedded "
                                      "registry's API")
                return
            handler, args = found
            self._reply(200, handler(self.store, args, query, body))
        except RegistryError as exc:
            self._error(exc.http_status, exc.error_code, exc.message)
        except _BadRequest as exc:
            self._error(400, 400, str(exc))
        except Exception as exc:  # noqa: BLE001 - report as Confluent's 50001, keep serving
            _log.exception("%s %s failed", method, self.path)
            self._error(500, 50001, f"Error in the backend data store: {type(exc).__name__}: {exc}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")


class _BadRequest(Exception):
    """The body is not JSON."""


def make_server(host: str, port: int, store: RegistryStore) -> ThreadingHTTPServer:
    """An HTTP server for ``store`` on ``host:port`` (0 picks a free port); call ``serve_forever()``."""
    handler = type("RegistryHandler", (_Handler,), {"store": store})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT (every change is already on disk)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--compatibility", default="BACKWARD", help="global level until one is set")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = RegistryStore(args.data_dir / "registry.json", default_level=args.compatibility)
    server = make_server(args.host, args.port, store)
    stop = threading.Event()

    def _shutdown(*_: Any) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    _log.info("schema registry on http://%s:%d: %d subject(s) in %s, global compatibility %s",
              args.host, server.server_address[1], len(store.subjects()), store.path, store.level_for(None))
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

