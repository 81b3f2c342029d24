"""State of the embedded schema registry: subjects, versions, ids, compatibility levels.

Pure logic, no HTTP: every method takes and returns JSON-ready values shaped like Confluent
Schema Registry's REST API, and raises :class:`RegistryError` with Confluent's error codes.
State is one JSON file, rewritten atomically (temporary file, fsync, rename) before a change is
acknowledged, so a registered schema survives a restart or a SIGKILL.

Confluent semantics kept: one id per distinct schema across all subjects (registering the same
schema again returns its id); versions count up per subject; deletes are soft first, then
``permanent=true``; a subject without its own level uses the global one (BACKWARD by default).
AVRO only: JSON Schema and Protobuf are refused with error 42201.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from platform_kit.errors import CorruptStateError
from platform_kit.services._schema_registry_compat import (
    LEVELS,
    InvalidSchemaError,
    canonical_text,
    compatibility_problems,
    normalize_level,
    parse_avro,
)

__all__ = ["RegistryError", "RegistryStore"]

_MAX_VERSION = 2**31 - 1
_LEVEL_TEXT = ", ".join(level.lower() for level in LEVELS)


class RegistryError(Exception):
    """A request the registry refuses; ``error_code`` is Confluent's (40401, 42201, 409...)."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def http_status(self) -> int:
        """40401 -> 404, 42201 -> 422, 409 -> 409."""
        return self.error_code // 100 if self.error_code >= 1000 else self.error_code


def _subject_not_found(subject: str) -> RegistryError:
    return RegistryError(40401, f"Subject '{subject}' not found.")


class RegistryStore:
    """Subjects and schemas kept in ``<data_dir>/registry.json``.

    Args:
        path: The JSON file (created on the first change).
        default_level: Global compatibility level until one is set.
    """

    def __init__(self, path: Path, default_level: str = "BACKWARD") -> None:
        self.path = Path(path)
        self.default_level = normalize_level(default_level)
        self._lock = threading.RLock()
        self._next_id = 1
        self._schemas: dict[int, dict[str, str]] = {}
        self._subjects: dict[str, list[dict[str, Any]]] = {}
        self._global_level: str | None = None
        self._subject_levels: dict[str, str] = {}
        self._parsed: dict[int, Any] = {}
        self._load()
        self._ids = {entry["schema"]: sid for sid, entry in self._schemas.items()}

    # persistence -------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.is_file():
            return
        try:
            data = json.loads(self.path.read_text())
            self._next_id = int(data["next_id"])
            self._schemas = {int(k): dict(v) for k, v in data["schemas"].items()}
            self._subjects = {s: [dict(v) for v in versions] for s, versions in data["subjects"].items()}
            self._global_level = data.get("global_compatibility")
            self._subject_levels = dict(data.get("subject_compatibility", {}))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptStateError(
                f"the schema registry's file {self.path} is unreadable: {exc}",
                fix="restore it from a backup, or `workbench reset schema_registry` to start empty",
            ) from exc

    def _save(self) -> None:
        data = {
            "format": 1, "next_id": self._next_id, "global_compatibility": self._global_level,
            "subject_compatibility": self._subject_levels,
            "schemas": {str(k): v for k, v in self._schemas.items()}, "subjects": self._subjects,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(data, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)

    # helpers -----------------------------------------------------------------------------
    @staticmethod
    def _parse_request(body: Any) -> tuple[Any, str]:
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str) or not body["schema"].strip():
            raise RegistryError(42201, "Invalid schema: the request body needs a non-empty `schema` string")
        kind = str(body.get("schemaType") or "AVRO").upper()
        if kind != "AVRO":
            raise RegistryError(
                42201, f"Invalid schema: schemaType {kind} is not supported by the embedded registry, which stores "
                "AVRO schemas only (the compose profile's Confluent Schema Registry also takes JSON and PROTOBUF)")
        if body.get("references"):
            raise RegistryError(42201, "Invalid schema: schema references are not supported by the embedded registry; "
                                       "inline the referenced types")
        if body.get("metadata") or body.get("ruleSet"):
            raise RegistryError(42201, "Invalid schema: metadata and rule sets (data contracts) are not supported by "
                                       "the embedded registry")
        try:
            parsed = parse_avro(body["schema"])
        except InvalidSchemaError as exc:
            raise RegistryError(42201, f"Invalid schema: {exc}") from None
        return parsed, canonical_text(parsed)

    def _parsed_schema(self, schema_id: int) -> Any:
        if schema_id not in self._parsed:
            self._parsed[schema_id] = parse_avro(self._schemas[schema_id]["schema"])
        return self._parsed[schema_id]

    def _visible(self, subject: str, deleted: bool = False) -> list[dict[str, Any]]:
        return [v for v in self._subjects.get(subject, []) if deleted or not v["deleted"]]

    def _require_subject(self, subject: str, deleted: bool = False) -> list[dict[str, Any]]:
        versions = self._visible(subject, deleted)
        if not versions:
            raise _subject_not_found(subject)
        return versions

    @staticmethod
    def _version_number(version: str | int) -> int | None:
        """None for ``latest``/-1; raises 42202 for anything that is not a version id."""
        text = str(version).strip().lower()
        if text in ("latest", "-1"):
            return None
        try:
            number = int(text)
        except ValueError:
            number = 0
        if not 1 <= number <= _MAX_VERSION:
            raise RegistryError(42202, f"The specified version '{version}' is not a valid version id. Allowed values "
                                       "are between [1, 2^31-1] and the string \"latest\"")
        return number

    def _find_version(self, subject: str, version: str | int, deleted: bool = False) -> dict[str, Any]:
        versions = self._require_subject(subject, deleted)
        number = self._version_number(version)
        if number is None:
            return versions[-1]
        for entry in versions:
            if entry["version"] == number:
                return entry
        raise RegistryError(40402, f"Version {number} not found.")

    def _describe(self, subject: str, entry: dict[str, Any]) -> dict[str, Any]:
        stored = self._schemas[entry["id"]]
        return {"subject": subject, "version": entry["version"], "id": entry["id"], "guid": stored["guid"],
                "schema": stored["schema"]}

    def level_for(self, subject: str | None) -> str:
        """The compatibility level that applies to ``subject`` (its own, else the global one)."""
        with self._lock:
            own = self._subject_levels.get(subject) if subject is not None else None
            return own or self._global_level or self.default_level

    # schemas -----------------------------------------------------------------------------
    def register(self, subject: str, body: Any) -> dict[str, Any]:
        """POST /subjects/{subject}/versions: the schema's id, registering a new version if needed.

        Raises:
            RegistryError: 42201 invalid schema, 409 incompatible with the subject's level.
        """
        parsed, text = self._parse_request(body)
        with self._lock:
            live = self._visible(subject)
            for entry in live:
                if self._schemas[entry["id"]]["schema"] == text:
                    return {"id": entry["id"], "version": entry["version"], "guid": self._schemas[entry["id"]]["guid"],
                            "subject": subject}
            level = self.level_for(subject)
            previous = [(e["version"], self._parsed_schema(e["id"])) for e in live]
            problems = compatibility_problems(parsed, previous, level)
            if problems:
                raise RegistryError(409, "Schema being registered is incompatible with an earlier schema for subject "
                                         f"\"{subject}\", details: [{'; '.join(str(p) for p in problems)}]")
            schema_id = self._ids.get(text)
            if schema_id is None:
                schema_id, self._next_id = self._next_id, self._next_id + 1
                self._schemas[schema_id] = {"schema": text, "guid": str(uuid.uuid4()), "schemaType": "AVRO"}
                self._ids[text] = schema_id
                self._parsed[schema_id] = parsed
            every = self._subjects.setdefault(subject, [])
            version = max((e["version"] for e in every), default=0) + 1
            every.append({"version": version, "id": schema_id, "deleted": False})
            self._save()
            return {"id": schema_id, "version": version, "guid": self._schemas[schema_id]["guid"], "subject": subject}

    def lookup(self, subject: str, body: Any, deleted: bool = False) -> dict[str, Any]:
        """POST /subjects/{subject}: the version of ``subject`` holding this schema (40401, 40403)."""
        _, text = self._parse_request(body)
        with self._lock:
            for entry in reversed(self._require_subject(subject, deleted)):
                if self._schemas[entry["id"]]["schema"] == text:
                    return self._describe(subject, entry)
        raise RegistryError(40403, "Schema not found")

    def schema_by_id(self, schema_id: int) -> dict[str, Any]:
        """GET /schemas/ids/{id} (40403 when unknown)."""
        with self._lock:
            stored = self._schemas.get(schema_id)
        if stored is None:
            raise RegistryError(40403, f"Schema {schema_id} not found")
        return {"schema": stored["schema"], "guid": stored["guid"]}

    def schema_by_guid(self, guid: str) -> dict[str, Any]:
        """GET /schemas/guids/{guid}."""
        with self._lock:
            for schema_id, stored in self._schemas.items():
                if stored["guid"] == guid:
                    return {"schema": stored["schema"], "id": schema_id, "guid": guid}
        raise RegistryError(40403, f"Schema {guid} not found")

    def usages(self, schema_id: int, deleted: bool = False) -> list[dict[str, Any]]:
        """GET /schemas/ids/{id}/versions: the (subject, version) pairs using the id."""
        with self._lock:
            if schema_id not in self._schemas:
                raise RegistryError(40403, f"Schema {schema_id} not found")
            return [{"subject": s, "version": e["version"]} for s in sorted(self._subjects)
                    for e in self._visible(s, deleted) if e["id"] == schema_id]

    # subjects ----------------------------------------------------------------------------
    def subjects(self, prefix: str = "", deleted: bool = False, deleted_only: bool = False) -> list[str]:
        """GET /subjects."""
        with self._lock:
            out = []
            for subject, versions in self._subjects.items():
                live = any(not v["deleted"] for v in versions)
                dead = any(v["deleted"] for v in versions)
                keep = dead if deleted_only else (live or (deleted and dead))
                if keep and subject.startswith(prefix or ""):
                    out.append(subject)
            return sorted(out)

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        """GET /subjects/{subject}/versions (40401)."""
        with self._lock:
            return [v["version"] for v in self._require_subject(subject, deleted)]

    def version(self, subject: str, version: str | int, deleted: bool = False) -> dict[str, Any]:
        """GET /subjects/{subject}/versions/{version} (40401, 40402, 42202)."""
        with self._lock:
            return self._describe(subject, self._find_version(subject, version, deleted))

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """DELETE /subjects/{subject}: soft first, then ``permanent`` (40401, 40404, 40405)."""
        with self._lock:
            every = self._subjects.get(subject, [])
            if not every:
                raise _subject_not_found(subject)
            live = [v for v in every if not v["deleted"]]
            if permanent:
                if live:
                    raise RegistryError(40405, f"Subject '{subject}' was not deleted first before being permanently "
                                               "deleted")
                del self._subjects[subject]
                self._subject_levels.pop(subject, None)
                self._save()
                return [v["version"] for v in every]
            if not live:
                raise RegistryError(40404, f"Subject '{subject}' was soft deleted.Set permanent=true to delete "
                                           "permanently")
            for entry in live:
                entry["deleted"] = True
            self._save()
            return [v["version"] for v in live]

    def delete_version(self, subject: str, version: str | int, permanent: bool = False) -> int:
        """DELETE /subjects/{subject}/versions/{version}: soft first, then ``permanent``."""
        with self._lock:
            entry = self._find_version(subject, version, deleted=permanent)
            if permanent:
                if not entry["deleted"]:
                    raise RegistryError(40407, f"Subject '{subject}' Version {entry['version']} was not deleted "
                                               "first before being permanently deleted")
                self._subjects[subject].remove(entry)
                if not self._subjects[subject]:
                    del self._subjects[subject]
            else:
                entry["deleted"] = True
            self._save()
            return int(entry["version"])

    # compatibility -----------------------------------------------------------------------
    def get_config(self, subject: str | None = None, default_to_global: bool = False) -> dict[str, str]:
        """GET /config and /config/{subject} (40408 when the subject has no level of its own)."""
        with self._lock:
            if subject is None:
                return {"compatibilityLevel": self.level_for(None)}
            if subject in self._subject_levels:
                return {"compatibilityLevel": self._subject_levels[subject]}
            if default_to_global:
                return {"compatibilityLevel": self.level_for(None)}
        raise RegistryError(40408, f"Subject '{subject}' does not have subject-level compatibility configured")

    def set_config(self, subject: str | None, body: Any) -> dict[str, str]:
        """PUT /config and /config/{subject} with ``{"compatibility": LEVEL}`` (42203 when invalid)."""
        if not isinstance(body, dict):
            raise RegistryError(42203, "Invalid compatibility level: the body must be a JSON object")
        unknown = set(body) - {"compatibility", "compatibilityLevel"}
        if unknown:
            raise RegistryError(42203, f"unsupported config key(s) {sorted(unknown)}: the embedded registry keeps "
                                       "only the compatibility level")
        raw = body.get("compatibility") or body.get("compatibilityLevel")
        try:
            level = normalize_level(str(raw))
        except ValueError:
            raise RegistryError(42203, f"Invalid compatibility level {raw!r}. Valid values are {_LEVEL_TEXT}") from None
        with self._lock:
            if subject is None:
                self._global_level = level
            else:
                self._subject_levels[subject] = level
            self._save()
        return {"compatibility": level}

    def delete_config(self, subject: str | None = None) -> dict[str, str]:
        """DELETE /config[/subject]: drop the level (the subject falls back to the global one)."""
        with self._lock:
            if subject is None:
                old, self._global_level = self.level_for(None), None
            else:
                if subject not in self._subject_levels:
                    raise RegistryError(40408, f"Subject '{subject}' does not have subject-level compatibility "
                                               "configured")
                old = self._subject_levels.pop(subject)
            self._save()
        return {"compatibilityLevel": old}

    def test_compatibility(
        self, subject: str, version: str | int | None, body: Any, verbose: bool = False,
    ) -> dict[str, Any]:
        """POST /compatibility/subjects/{subject}/versions[/{version}].

        Without a version, the candidate is checked as a registration would be (the latest, or all
        versions for a transitive level); with one, against that version only. ``latest`` on a
        subject with no versions is compatible, as in Confluent's registry.
        """
        parsed, _ = self._parse_request(body)
        with self._lock:
            level = self.level_for(subject)
            if version is None:
                entries = self._visible(subject)
            elif self._version_number(version) is None:
                entries = self._visible(subject)[-1:]
            else:
                entries = [self._find_version(subject, version)]
            previous = [(e["version"], self._parsed_schema(e["id"])) for e in entries]
        problems = compatibility_problems(parsed, previous, level)
        result: dict[str, Any] = {"is_compatible": not problems}
        if verbose:
            result["messages"] = [str(p) for p in problems]
        return result
