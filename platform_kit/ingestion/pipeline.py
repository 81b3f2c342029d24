"""A validating ingestion pipeline where every failure is dead-lettered and nothing is lost.

Per micro-batch::

    consume (assigned at the sink's offsets)
      -> decode -> schema -> rules          (validate_record: a Rejection goes to the DLQ)
      -> transform hook (optional)          (e.g. PII tokenisation; a failing row goes to the DLQ)
      -> DLQ send (asynchronous)            (the broker acknowledges while the sink works)
      -> idempotent PostgreSQL sink         (retries with backoff; conflicts and poison rows -> DLQ)
      -> offsets upsert, DLQ flush, COMMIT  (one transaction: rows + offsets, after every dead
                                             letter of the batch is acknowledged)

Invariant: every consumed record ends up in the sink (as a new row or as an exact duplicate of
one), or in the DLQ with a reason, stage, original topic/partition/offset, time and attempts.
The DLQ is written at least once: after a crash between the DLQ flush and the commit, a record
can be dead-lettered twice (same original offset), never zero times. If the flush fails, the
transaction is rolled back and the whole batch is consumed again.

Per batch the pipeline records metrics (records, inserted, dead letters by reason, retries,
durations and consumer lag) for :mod:`platform_kit.ingestion.alerts`. Lag is computed honestly:
the end of the topic comes from the producer's delivery reports
(:class:`~platform_kit.ingestion.DeliveryTracker`), not from the broker's high watermark, which
on the embedded broker is the base offset of the last batch and so trails the true end.

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from platform_kit.ingestion._idempotent_batch import next_offsets_of
from platform_kit.ingestion._idempotent_consume import connect_pg
from platform_kit.ingestion._idempotent_sql import SinkRow, SinkTables, WriteMethod, read_offsets, store_offsets
from platform_kit.ingestion._pipeline_consume import assign_at, consume_batches, lag_of, make_consumer, watermark_gap
from platform_kit.ingestion._pipeline_drill import MonitoredRun, Phase, stream_with_phases
from platform_kit.ingestion._pipeline_fastcheck import validate_batch
from platform_kit.ingestion._pipeline_produce import DeliveryTracker, produce_records
from platform_kit.ingestion._pipeline_replay import REPLAY_HEADERS, ReplayReport, dlq_summary, replay_dead_letters
from platform_kit.ingestion._pipeline_sink import FaultInjector, ResilientSink, RetryPolicy, SinkOutcome
from platform_kit.ingestion._pipeline_sink import TransientSinkError
from platform_kit.ingestion._pipeline_validate import (
    ORDER_SPEC,
    FieldRule,
    RecordSpec,
    Rejection,
    classify_failure,
    decode_strict,
    spec_summary,
    validate_record,
)
from platform_kit.ingestion._topics import Record
from platform_kit.ingestion.dlq import DeadLetter, DeadLetterQueue, Stage, dlq_topic_for

__all__ = [
    "ORDER_SPEC", "REPLAY_HEADERS", "DeliveryTracker", "FaultInjector", "FieldRule", "IngestionPipeline",
    "MonitoredRun", "Phase", "PipelineReport", "RecordSpec", "Rejection", "ReplayReport", "RetryPolicy", "SinkTables",
    "TransientSinkError", "classify_failure", "decode_strict", "dlq_summary", "lag_of", "produce_records",
    "replay_dead_letters", "spec_summary", "stream_with_phases", "validate_record", "watermark_gap",
]

_log = logging.getLogger(__name__)

Transform = Callable[[Any], Any]


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


#: ``json.dumps(event, default=_json_default)`` without building an encoder per event.
_encode = json.JSONEncoder(default=_json_default).encode


#: Classes that ``to_dict`` leaves alone in object columns (it boxes numpy scalars, NA and datetime64).
_PLAIN = frozenset({str, int, float, bool, type(None), dict, list})


def _frame_texts(frame: Any) -> list[str]:
    """The rows of a DataFrame as JSON texts: ``_encode`` over ``frame.to_dict("records")``, faster.

    Numpy-typed columns give their values through ``tolist()`` (native ints/floats, ``Timestamp``
    for datetimes: what ``to_dict`` gives), object columns as they are when they hold only plain
    Python values; each row's dict is encoded and dropped at once (no batch of dicts for the GC to
    walk). Anything else (extension dtypes, numpy scalars or NA in object columns, repeated column
    names, no columns) goes through ``to_dict``.
    """
    columns = list(frame.columns)
    values = []
    if columns and len(set(columns)) == len(columns):
        for i in range(len(columns)):
            column = frame.iloc[:, i]
            if not isinstance(column.dtype, np.dtype):
                break
            items = column.tolist()
            if column.dtype == object and not set(map(type, items)) <= _PLAIN:
                break
            values.append(items)
    if not columns or len(values) != len(columns):
        return [_encode(row) for row in frame.to_dict("records")]
    return [_encode(dict(zip(columns, row, strict=True))) for row in zip(*values, strict=True)]


@dataclass
class PipelineReport:
    """What a pipeline run did, with one metrics row per batch."""

    topic: str
    dlq_topic: str
    consumer_id: str
    records: int = 0
    inserted: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    batches: int = 0
    seconds: float = 0.0
    setup_s: float = 0.0  # from the origin until the consumer was assigned (the consume loop's start)
    next_offsets: dict[int, int] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dead_lettered(self) -> int:
        """Dead letters sent."""
        return sum(self.dead_letters.values())

    def frame(self) -> Any:
        """The per-batch metrics as a DataFrame (``t_s`` seconds since the run started)."""
        import pandas as pd

        return pd.DataFrame(self.metrics)

    def letters_frame(self) -> Any:
        """One row per dead letter: original partition/offset, reason, stage, attempts."""
        import pandas as pd

        return pd.DataFrame(self.letters, columns=["partition", "offset", "reason", "stage", "attempts"])


@dataclass
class _Batch:
    """One batch: what :meth:`IngestionPipeline._prepare` made of it, then what its write and commit did."""

    records: list[Record]
    letters: list[DeadLetter]
    payloads: list[tuple[Record, Any, str]]
    offsets: dict[tuple[str, int], int]
    began: float
    late: list[DeadLetter] = field(default_factory=list)
    outcome: SinkOutcome = field(default_factory=SinkOutcome)
    sink_began: float = 0.0
    ended: float = 0.0


class IngestionPipeline:
    """Consume ``topic``, validate, transform, write idempotently, dead-letter every failure.

    Args:
        broker: The broker service (``pk.broker``): consumer, DLQ producer.
        pg: ``pk.pg`` (or anything with ``connect()``), or a DSN.
        topic: Source topic.
        tables: Sink (keyed by the spec's id field) and offsets tables.
        consumer_id: Offsets key in the sink.
        spec: What a good record is.
        validate: ``validate(record, now_ms) -> dict | Rejection`` (default: :func:`validate_record`).
        transform: Optional hook over the valid events of a batch: a DataFrame in, a DataFrame out
            (``transform_input="frame"``), or a list of dicts (``"records"``); same rows, same order.
        retry: Backoff policy of the sink.
        faults: Optional :class:`FaultInjector` in front of the sink.
        dlq_topic: Default ``<topic>.dlq``.
        batch_size: Records per batch (and per transaction).
        method: Sink write method (``values`` or ``copy``).
        now_ms: Fixed clock for the future-timestamp rule (default: the wall clock).
        create_dlq: Create the DLQ topic (1 partition) on start if it is missing; brokers that do not
            auto-create topics would otherwise refuse the first dead letter.
    """

    def __init__(self, broker: Any, pg: Any, topic: str, *, tables: SinkTables, consumer_id: str,
                 spec: RecordSpec = ORDER_SPEC, validate: Callable[[Record, int], Any] | None = None,
                 transform: Transform | None = None, transform_input: Literal["frame", "records"] = "frame",
                 retry: RetryPolicy | None = None, faults: FaultInjector | None = None, dlq_topic: str | None = None,
                 batch_size: int = 500, method: WriteMethod = "values", now_ms: int | None = None,
                 create_dlq: bool = True, seed: int = 0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.broker, self.pg, self.topic = broker, pg, topic
        self.tables, self.consumer_id, self.spec = tables, consumer_id, spec
        self._spec = spec  # the rules of the default validator, as constructed
        self._default_validate: Callable[[Record, int], Any] = (
            lambda record, now: validate_record(record, spec, now_ms=now))
        self.validate = validate or self._default_validate  # the default runs as validate_batch (same outcomes)
        self.transform, self.transform_input = transform, transform_input
        self.sink = ResilientSink(tables, retry=retry, faults=faults, method=method, seed=seed, sleep=sleep)
        self.dlq_topic = dlq_topic or dlq_topic_for(topic)
        self.batch_size, self.now_ms, self.create_dlq = batch_size, now_ms, create_dlq

    # -- one batch -------------------------------------------------------------------------------
    def _transform(self, valid: list[tuple[Record, dict[str, Any]]],
                   letters: list[DeadLetter]) -> list[tuple[Record, Any, str]]:
        """``(record, id, payload text)`` of the valid events after the transform hook."""
        id_field = self.spec.id_field
        if self.transform is None:
            return [(r, e[id_field], r.value.decode("utf-8")) for r, e in valid]  # type: ignore[union-attr]

        def run(events: list[dict[str, Any]]) -> list[str]:
            if self.transform_input == "records":
                out = [_encode(e) for e in self.transform(events)]  # type: ignore[misc]
            else:
                import pandas as pd

                out = _frame_texts(self.transform(pd.DataFrame(events)))  # type: ignore[misc]
            if len(out) != len(events):
                raise ValueError(f"the transform returned {len(out)} rows for {len(events)}")
            return out

        try:
            texts = run([e for _, e in valid])
            return [(r, old[id_field], text) for (r, old), text in zip(valid, texts, strict=True)]
        except Exception:  # noqa: BLE001 - isolate the rows that break it
            kept = []
            for record, event in valid:
                try:
                    kept.append((record, event[id_field], run([event])[0]))
                except Exception as exc:  # noqa: BLE001
                    letters.append(DeadLetter.from_record(record, reason="transform_error", stage=Stage.TRANSFORM,
                                                          error=exc))
            return kept

    def _prepare(self, dlq: DeadLetterQueue, records: list[Record]) -> _Batch:
        """Validate and transform a batch, send its dead letters (no flush): the CPU part, no database."""
        began = time.monotonic()
        now_ms = self.now_ms if self.now_ms is not None else int(time.time() * 1000)
        letters: list[DeadLetter] = []
        valid: list[tuple[Record, dict[str, Any]]] = []
        outcomes = (validate_batch(records, self._spec, now_ms=now_ms) if self.validate is self._default_validate
                    else [self.validate(record, now_ms) for record in records])
        for record, outcome in zip(records, outcomes, strict=True):
            if isinstance(outcome, Rejection):
                letters.append(DeadLetter.from_record(record, reason=outcome.reason, stage=outcome.stage,
                                                      error=outcome.detail))
            else:
                valid.append((record, outcome))
        payloads = self._transform(valid, letters)
        for letter in letters:  # on their way while the sink works; flushed before the commit
            dlq.send(letter)
        return _Batch(records, letters, payloads, next_offsets_of(records), began)

    def _write(self, conn: Any, dlq: DeadLetterQueue, batch: _Batch) -> _Batch:
        """Rows, late dead letters and offsets in one transaction; DLQ flushed, then COMMIT."""
        id_field = self.spec.id_field
        rows = [SinkRow(str(ident), record.topic, record.partition, record.offset, text)
                for record, ident, text in batch.payloads]
        batch.sink_began = time.monotonic()
        with conn.cursor() as cur:
            outcome = self.sink.write(cur, rows)
            if outcome.conflicts or outcome.failed:
                by_place = {(record.partition, record.offset): record for record, _, _ in batch.payloads}
                for row in outcome.conflicts:
                    batch.late.append(DeadLetter.from_record(
                        by_place[(row.partition, row.offset)], reason="conflicting_duplicate", stage=Stage.RULE,
                        error=f"{id_field} {row.event_id} was already ingested with another payload"))
                for row, reason, attempts, error in outcome.failed:
                    batch.late.append(DeadLetter.from_record(by_place[(row.partition, row.offset)], reason=reason,
                                                             stage=Stage.SINK, error=error, attempts=attempts))
            for letter in batch.late:
                dlq.send(letter)
            store_offsets(cur, self.tables, self.consumer_id, batch.offsets)
        if batch.letters or batch.late:
            dlq.flush()  # every dead letter of the batch is acknowledged before its offsets commit
        conn.commit()
        batch.outcome, batch.ended = outcome, time.monotonic()
        return batch

    @staticmethod
    def _account(batch: _Batch, report: PipelineReport) -> dict[str, Any]:
        """Fold a committed batch into ``report``; its metrics row (without ``batch``, ``t_s``, ``lag``)."""
        outcome, letters = batch.outcome, batch.letters + batch.late
        reasons = Counter(letter.reason for letter in letters)
        report.records += len(batch.records)
        report.inserted += len(outcome.inserted)
        report.duplicates += len(outcome.duplicates)
        report.dead_letters.update(reasons)
        report.retries += outcome.retries
        report.letters += [{"partition": x.partition, "offset": x.offset, "reason": x.reason, "stage": x.stage.value,
                            "attempts": x.attempts} for x in letters]
        for (_, partition), nxt in batch.offsets.items():
            report.next_offsets[partition] = nxt
        return {"records": len(batch.records), "inserted": len(outcome.inserted),
                "duplicates": len(outcome.duplicates), "dead_letters": len(letters), "retries": outcome.retries,
                "batch_s": batch.ended - batch.began, "sink_s": batch.ended - batch.sink_began,
                "dlq_reasons": dict(reasons)}

    # -- the loop --------------------------------------------------------------------------------
    def run(self, *, until: DeliveryTracker | Mapping[int, int] | None = None,
            producer_done: threading.Event | None = None, idle_s: float | None = None, timeout_s: float = 60.0,
            hwm_every_s: float | None = None, on_batch: Callable[[dict[str, Any]], None] | None = None,
            origin: float | None = None) -> PipelineReport:
        """Consume from the sink's offsets until ``until`` is reached (or idle), one transaction per batch.

        Args:
            until: The producer's :class:`DeliveryTracker` (read live, also used for lag) or fixed end
                offsets; the run stops once every partition's committed offset reaches it (and
                ``producer_done`` is set, when given).
            producer_done: Set by a concurrent producer when it has flushed its last record.
            idle_s: Also stop after this long without records. Default: none when ``until`` is given
                (the run ends exactly there, or fails at ``timeout_s``), else 1.5 s.
            timeout_s: Hard limit.
            hwm_every_s: Also record the lag the broker's high watermark suggests (``hwm_lag``), querying
                it at most this often (each query is a broker round trip; in between the last value is kept).
            on_batch: Called with each batch's metrics row.
            origin: ``time.monotonic()`` value that ``t_s`` counts from (default: the start of the run).

        Raises:
            ServiceError: The DLQ could not be flushed (nothing of that batch was committed).
        """
        if idle_s is None and until is None:
            idle_s = 1.5
        conn, owned = connect_pg(self.pg)
        report = PipelineReport(self.topic, self.dlq_topic, self.consumer_id)
        if self.create_dlq:
            self.broker.create_topic(self.dlq_topic, partitions=1, exist_ok=True)
        dlq = DeadLetterQueue(self.broker.producer(linger_ms=5, acks="all"), self.dlq_topic)
        consumer = make_consumer(self.broker.consumer_config(f"pipeline-{self.consumer_id}"))
        kafka = None
        began = origin if origin is not None else time.monotonic()
        hwm = {"at": -1e9, "lag": 0}

        def ends() -> dict[int, int]:
            return until.end_offsets() if isinstance(until, DeliveryTracker) else dict(until or {})

        def done() -> bool:
            if producer_done is not None and not producer_done.is_set():
                return False
            target = ends()
            return bool(target) and all(committed.get(p, 0) >= e for p, e in target.items())

        try:
            with conn.cursor() as cur:
                self.tables.create(cur)
                committed = read_offsets(cur, self.tables, self.consumer_id, self.topic)
            conn.commit()
            partitions = assign_at(consumer, self.topic, committed)
            report.setup_s = time.monotonic() - began  # connection, tables, DLQ topic, assignment
            if hwm_every_s is not None:
                from platform_kit._deps import require

                kafka = require("confluent_kafka")
            for records in consume_batches(consumer, batch_size=self.batch_size, poll_timeout_s=0.1, stop=done,
                                           idle_s=idle_s, timeout_s=timeout_s):
                batch = self._write(conn, dlq, self._prepare(dlq, records))
                row = self._account(batch, report)
                committed.update(report.next_offsets)
                report.batches += 1
                row = {"batch": report.batches, "t_s": batch.ended - began, **row, "lag": lag_of(ends(), committed)}
                if kafka is not None:
                    if time.monotonic() - hwm["at"] >= hwm_every_s:  # type: ignore[operator]
                        highs = {p: consumer.get_watermark_offsets(kafka.TopicPartition(self.topic, p), timeout=2,
                                                                   cached=False)[1] for p in partitions}
                        hwm["lag"], hwm["at"] = lag_of(highs, committed), time.monotonic()
                    row["hwm_lag"] = hwm["lag"]
                report.metrics.append(row)
                if on_batch is not None:
                    on_batch(row)
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
        finally:
            consumer.close()
            if owned:
                conn.close()
        report.seconds = time.monotonic() - began
        return report
