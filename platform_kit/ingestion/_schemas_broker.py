"""Broker-side validation: a private tansu broker started with ``--schema-registry file://./schemas``.

tansu looks for ``<topic>.json`` (JSON Schema), ``<topic>.avsc`` (Avro) or ``<topic>.proto`` in
that folder, lazily, and rejects a produce batch holding any record that does not validate with
``INVALID_RECORD`` (error 87). Measured on tansu 0.6.0:

* the URL must be relative (``file://./schemas``), so the broker runs with its data folder as
  working directory: :func:`platform_kit._process.spawn` can set ``cwd``, but
  :class:`~platform_kit.services.ProcessService` does not pass one, so the command line changes
  directory itself before ``exec``-ing tansu (the pid stays tansu's);
* a JSON Schema with a ``key`` property validates keys too: keys must then be JSON text;
* an ``.avsc`` is a record with ``key``/``value`` fields, and each record's value must be a whole
  Avro *container file* (header with the full schema, then the datum): the Confluent wire format
  (magic byte + schema id + body) is rejected, so client-side and broker-side Avro do not mix;
* an ``.avsc`` that does not parse disables validation for the topic silently (every record is
  accepted), so :meth:`ValidatingTansuBroker.add_avro_schema` parses it before writing it.

The broker stores topics in memory (``memory://``): it is a demonstration instance, private to
the lab, not the platform's broker.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from platform_kit.errors import InputError
from platform_kit.ingestion._schemas_delivery import Outgoing, ProduceReport, deliver
from platform_kit.ingestion.dlq import DeadLetterQueue
from platform_kit.services._schema_registry_compat import InvalidSchemaError, parse_avro
from platform_kit.services.broker import TansuBroker, TansuConfig, find_tansu_binary

__all__ = ["ValidatingTansuBroker", "avro_container_bytes", "json_items"]

#: changes directory, then becomes the program (same pid, so stopping it stops tansu)
_CHDIR_EXEC = "import os, sys; os.chdir(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])"


class ValidatingTansuBroker(TansuBroker):
    """A second, private tansu broker validating records against the schemas in :attr:`schemas_dir`.

    Args:
        workbench: The owning workbench (only for the state dir and the tansu binary setting).
        name: Record, log and data-folder name (several can run side by side).
    """

    def __init__(self, workbench: Any, *, name: str = "validating_broker") -> None:
        binary = getattr(workbench.configs.get("broker"), "binary", None)
        super().__init__(TansuConfig(port=0, cluster_id=name, binary=binary), workbench, name=name)

    @property
    def schemas_dir(self) -> Path:
        """The folder tansu reads schemas from (``file://./schemas`` relative to :attr:`data_dir`)."""
        return self.data_dir / "schemas"

    def before_start(self, owned: bool) -> None:
        self.schemas_dir.mkdir(parents=True, exist_ok=True)

    def command(self, port: int) -> list[str]:
        url = f"tcp://{self.host}:{port}"
        tansu = [
            str(find_tansu_binary(self.config.binary)), "broker", "--cluster-id", self.config.cluster_id,
            "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
            "--schema-registry", "file://./schemas",
        ]
        return [sys.executable, "-c", _CHDIR_EXEC, str(self.data_dir), *tansu]

    def environment(self) -> dict[str, str]:
        return {"RUST_LOG": "warn"}

    def reset(self) -> None:
        """Wipe the schemas folder (topics live in memory)."""
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)

    def add_json_schema(self, topic: str, schema: dict[str, Any]) -> Path:
        """Write ``<topic>.json``: a JSON Schema object whose ``properties`` may hold ``key`` and ``value``.

        Raises:
            InputError: The schema has neither a ``key`` nor a ``value`` property (tansu would
                validate nothing).
        """
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict) or not ({"key", "value"} & set(props)):
            raise InputError("a tansu JSON schema needs `properties.key` and/or `properties.value`",
                             fix="wrap the record's schema as {'type': 'object', 'properties': {'value': ...}}")
        return self._write(f"{topic}.json", json.dumps(schema, indent=1))

    def add_avro_schema(self, topic: str, value: dict[str, Any], key: dict[str, Any] | str | None = None) -> Path:
        """Write ``<topic>.avsc``: a record with a ``value`` (and optionally ``key``) field.

        Raises:
            InputError: The wrapped schema does not parse (tansu would silently accept everything).
        """
        fields = ([{"name": "key", "type": key}] if key is not None else []) + [{"name": "value", "type": value}]
        wrapped = {"type": "record", "name": "TopicSchema", "fields": fields}
        try:
            parse_avro(wrapped)
        except InvalidSchemaError as exc:
            raise InputError(f"the Avro schema for {topic!r} is invalid: {exc}",
                             fix="fix it: tansu would skip validation for this topic without saying so") from None
        return self._write(f"{topic}.avsc", json.dumps(wrapped, indent=1))

    def _write(self, filename: str, text: str) -> Path:
        self.schemas_dir.mkdir(parents=True, exist_ok=True)
        path = self.schemas_dir / filename
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text)
        partial.replace(path)
        return path


def avro_container_bytes(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """One record as a whole Avro container file (what tansu's Avro validation expects)."""
    import fastavro

    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), [record])
    return buffer.getvalue()


def json_items(records: Iterable[dict[str, Any]], *, key_field: str | None = "order_id") -> list[Outgoing]:
    """Records as JSON values with JSON-text keys (``"42"``, quotes included: tansu validates keys as JSON)."""
    items = []
    for record in records:
        key = json.dumps(str(record[key_field])).encode() if key_field and record.get(key_field) is not None else None
        items.append(Outgoing(key, json.dumps(record, default=str).encode()))
    return items


def produce_json(producer: Any, topic: str, records: Iterable[dict[str, Any]], dlq: DeadLetterQueue, *,
                 key_field: str | None = "order_id") -> ProduceReport:
    """Produce records as JSON with no client-side check: the broker's validation decides."""
    return deliver(producer, topic, json_items(records, key_field=key_field), dlq)
