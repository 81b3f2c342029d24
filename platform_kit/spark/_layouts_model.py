"""Executor layouts as typed values: validation, ``spark.*`` settings, and whether they fit a cluster.

An :class:`ExecutorLayout` is what a Spark application asks the cluster manager for when it starts:
cores and heap per executor, off-heap overhead, how many cores in all, the shuffle partition count,
and optionally dynamic allocation. :meth:`ExecutorLayout.check_fits` compares it with the workers of
a :class:`ClusterShape` *before* an application is started, because a standalone master silently
leaves an application that asks for more than a worker has waiting for executors forever.

Standalone scheduling counts ``spark.executor.memory`` against a worker's memory, not the overhead
(YARN and Kubernetes add ``memoryOverhead`` to the container); the check counts both, so a layout
accepted here also fits a container-based cluster of the same shape.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._layouts_shape import ClusterShape, parse_memory_mb, parse_seconds

__all__ = ["MIN_EXECUTOR_MEMORY_MB", "ClusterShape", "ExecutorLayout", "parse_memory_mb"]

#: Spark refuses executors below 1.5 x its 300 MiB reserved memory.
MIN_EXECUTOR_MEMORY_MB = 450
#: ``spark.executor.memory`` when a layout does not set it.
SPARK_DEFAULT_EXECUTOR_MEMORY = "1g"

#: ``spark.*`` key -> layout field, for layouts given as a dict of settings.
CONF_KEYS = {
    "spark.executor.cores": "executor_cores",
    "spark.executor.memory": "executor_memory",
    "spark.executor.memoryOverhead": "memory_overhead",
    "spark.cores.max": "cores_max",
    "spark.sql.shuffle.partitions": "shuffle_partitions",
    "spark.dynamicAllocation.enabled": "dynamic_allocation",
    "spark.dynamicAllocation.minExecutors": "min_executors",
    "spark.dynamicAllocation.initialExecutors": "initial_executors",
    "spark.dynamicAllocation.maxExecutors": "max_executors",
    "spark.dynamicAllocation.executorIdleTimeout": "idle_timeout_s",
    "spark.dynamicAllocation.schedulerBacklogTimeout": "backlog_timeout_s",
    "spark.dynamicAllocation.shuffleTracking.enabled": "shuffle_tracking",
    "spark.dynamicAllocation.shuffleTracking.timeout": "shuffle_tracking_timeout_s",
}


@dataclass(frozen=True)
class ExecutorLayout:
    """What an application asks for: executors, their cores and memory, and how they scale.

    ``None`` means Spark's default: on a standalone cluster ``executor_cores=None`` gives one
    executor per worker holding all its free cores, ``executor_memory=None`` means 1g and
    ``cores_max=None`` lets the application take every core of the cluster.

    Attributes:
        name: Label for tables and plots.
        executor_cores: Task slots per executor JVM (``spark.executor.cores``).
        executor_memory: Heap per executor (``spark.executor.memory``), e.g. ``"1g"``.
        memory_overhead: Off-heap allowance per executor (``spark.executor.memoryOverhead``).
        cores_max: Cores the application may take in all (``spark.cores.max``).
        shuffle_partitions: ``spark.sql.shuffle.partitions`` for the application.
        dynamic_allocation: Grow and shrink the executor count with the task backlog.
        min_executors: Dynamic allocation: executors kept when idle.
        initial_executors: Dynamic allocation: executors at start (default ``min_executors``).
        max_executors: Dynamic allocation: upper bound (default: as many as the cluster hosts).
        idle_timeout_s: Dynamic allocation: an executor idle this long is released.
        backlog_timeout_s: Dynamic allocation: tasks waiting this long trigger a request for more.
        shuffle_tracking: Keep executors that hold shuffle files (needed without an external
            shuffle service, which this cluster does not run).
        shuffle_tracking_timeout_s: Release executors holding shuffle files after this idle time
            (Spark's default is never).
    """

    name: str = "custom"
    executor_cores: int | None = None
    executor_memory: str | None = None
    memory_overhead: str | None = None
    cores_max: int | None = None
    shuffle_partitions: int | None = None
    dynamic_allocation: bool = False
    min_executors: int = 0
    initial_executors: int | None = None
    max_executors: int | None = None
    idle_timeout_s: float = 60.0
    backlog_timeout_s: float = 1.0
    shuffle_tracking: bool = True
    shuffle_tracking_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError("a layout needs a non-empty name", fix="pass name='small-executors' or similar")
        for field in ("executor_cores", "cores_max", "shuffle_partitions", "initial_executors", "max_executors"):
            _whole(field, getattr(self, field), minimum=0 if field == "initial_executors" else 1, optional=True)
        _whole("min_executors", self.min_executors, minimum=0)
        if self.executor_memory is not None:
            memory = parse_memory_mb(self.executor_memory, what="executor_memory")
            if memory < MIN_EXECUTOR_MEMORY_MB:
                raise InputError(f"executor_memory {self.executor_memory!r} is below Spark's minimum of "
                                 f"{MIN_EXECUTOR_MEMORY_MB} MiB (1.5 x the 300 MiB it reserves)",
                                 fix=f"use at least '{MIN_EXECUTOR_MEMORY_MB}m' (e.g. '512m')")
        if self.memory_overhead is not None:
            parse_memory_mb(self.memory_overhead, what="memory_overhead")
        if self.cores_max is not None and self.executor_cores is not None and self.cores_max < self.executor_cores:
            raise InputError(f"cores_max={self.cores_max} is less than one executor's {self.executor_cores} cores, "
                             "so no executor could start", fix="raise cores_max or lower executor_cores")
        for field in ("idle_timeout_s", "backlog_timeout_s", "shuffle_tracking_timeout_s"):
            value = getattr(self, field)
            if value is not None:
                seconds = parse_seconds(value, field)
                if seconds < 1 or not float(seconds).is_integer():
                    raise InputError(f"{field}={value!r}: Spark reads dynamic-allocation timeouts in whole seconds "
                                     "(below 1 s it reads 0 and refuses to start)",
                                     fix=f"use a whole number of seconds >= 1, e.g. {max(1, round(seconds))}")
                object.__setattr__(self, field, seconds)
        if not isinstance(self.dynamic_allocation, bool) or not isinstance(self.shuffle_tracking, bool):
            raise InputError("dynamic_allocation and shuffle_tracking must be True or False",
                             fix="pass a bool, not a string")
        if self.dynamic_allocation:
            self._check_dynamic()

    def _check_dynamic(self) -> None:
        if not self.shuffle_tracking:
            raise InputError("dynamic allocation without shuffle tracking needs an external shuffle service, "
                             "which this cluster does not run (Spark refuses to start)",
                             fix="keep shuffle_tracking=True")
        initial = self.initial_executors if self.initial_executors is not None else self.min_executors
        if initial < self.min_executors:
            raise InputError(f"initial_executors={initial} is below min_executors={self.min_executors}",
                             fix="set initial_executors >= min_executors")
        if self.max_executors is not None and self.max_executors < max(initial, self.min_executors, 1):
            raise InputError(f"max_executors={self.max_executors} is below min/initial executors ({initial})",
                             fix="raise max_executors or lower min_executors/initial_executors")
        if self.executor_cores is None:
            raise InputError("dynamic allocation scales executors, so give each a size: set executor_cores",
                             fix="set executor_cores=1 (small executors scale in the finest steps)")

    # --- settings ---------------------------------------------------------------------------

    def to_conf(self) -> dict[str, str]:
        """The ``spark.*`` settings of this layout (only those that differ from Spark's defaults)."""
        conf: dict[str, str] = {}
        if self.executor_cores is not None:
            conf["spark.executor.cores"] = str(self.executor_cores)
        if self.executor_memory is not None:
            conf["spark.executor.memory"] = f"{parse_memory_mb(self.executor_memory)}m"
        if self.memory_overhead is not None:
            conf["spark.executor.memoryOverhead"] = f"{parse_memory_mb(self.memory_overhead)}m"
        if self.cores_max is not None:
            conf["spark.cores.max"] = str(self.cores_max)
        if self.shuffle_partitions is not None:
            conf["spark.sql.shuffle.partitions"] = str(self.shuffle_partitions)
        if self.dynamic_allocation:
            initial = self.initial_executors if self.initial_executors is not None else self.min_executors
            conf |= {"spark.dynamicAllocation.enabled": "true",
                     "spark.dynamicAllocation.shuffleTracking.enabled": "true",
                     "spark.dynamicAllocation.minExecutors": str(self.min_executors),
                     "spark.dynamicAllocation.initialExecutors": str(initial),
                     "spark.dynamicAllocation.executorIdleTimeout": _duration(self.idle_timeout_s),
                     "spark.dynamicAllocation.schedulerBacklogTimeout": _duration(self.backlog_timeout_s)}
            if self.max_executors is not None:
                conf["spark.dynamicAllocation.maxExecutors"] = str(self.max_executors)
            if self.shuffle_tracking_timeout_s is not None:
                conf["spark.dynamicAllocation.shuffleTracking.timeout"] = _duration(self.shuffle_tracking_timeout_s)
        return conf

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any], name: str = "custom") -> ExecutorLayout:
        """A layout from ``spark.*`` settings (what a learner may hand in instead of a layout).

        Raises:
            InputError: A key that is not a layout setting (e.g. ``spark.driver.memory``, fixed
                when the driver JVM started) or a value of the wrong kind.
        """
        if not isinstance(conf, Mapping):
            raise InputError(f"expected a dict of spark.* settings, got {type(conf).__name__}",
                             fix="return an ExecutorLayout(...) or a dict like {'spark.executor.cores': '1'}")
        unknown = sorted(str(k) for k in conf if k not in CONF_KEYS)
        if unknown:
            raise InputError(f"not executor-layout settings: {', '.join(unknown)}",
                             fix=f"use only {', '.join(sorted(CONF_KEYS))} (or return an ExecutorLayout)")
        values: dict[str, Any] = {"name": name}
        for key, raw in conf.items():
            field = CONF_KEYS[key]
            values[field] = _from_text(field, raw)
        return cls(**values)

    @classmethod
    def coerce(cls, value: Any, name: str = "custom") -> ExecutorLayout:
        """``value`` as a layout: a layout as is, a dict of settings via :meth:`from_conf`."""
        if isinstance(value, ExecutorLayout):
            return value
        if isinstance(value, Mapping):
            return cls.from_conf(value, name=name)
        raise InputError(f"expected an ExecutorLayout or a dict of spark.* settings, got {type(value).__name__}",
                         fix="return layouts.ExecutorLayout(name=..., executor_cores=..., executor_memory=...)")

    def with_name(self, name: str) -> ExecutorLayout:
        """The same layout under another name."""
        return replace(self, name=name)

    def as_dict(self) -> dict[str, Any]:
        """Plain fields (for tables)."""
        return asdict(self)

    # --- fitting a cluster ------------------------------------------------------------------

    @property
    def memory_mb(self) -> int:
        """Heap per executor in MiB (Spark's 1g when unset)."""
        return parse_memory_mb(self.executor_memory or SPARK_DEFAULT_EXECUTOR_MEMORY)

    @property
    def overhead_mb(self) -> int:
        """Overhead per executor in MiB as a container manager counts it (max(384, 10 % heap) when unset)."""
        if self.memory_overhead is not None:
            return parse_memory_mb(self.memory_overhead)
        return max(384, self.memory_mb // 10)

    def executors_per_worker(self, cores: int, memory_mb: int) -> int:
        """How many of this layout's executors one worker can host (standalone's packing rule)."""
        per_cores = cores // self.executor_cores if self.executor_cores else (1 if cores > 0 else 0)
        per_memory = memory_mb // self.memory_mb
        return max(0, min(per_cores, per_memory))

    def capacity(self, shape: ClusterShape) -> int:
        """Executors the cluster can host at once for this layout (before ``cores_max``/``max_executors``)."""
        return sum(self.executors_per_worker(c, m) for c, m in zip(shape.worker_cores, shape.worker_memory_mb,
                                                                   strict=True))

    def planned_executors(self, shape: ClusterShape) -> int:
        """Executors a static layout gets (dynamic allocation: its upper bound)."""
        hosted = self.capacity(shape)
        if self.executor_cores is not None and self.cores_max is not None:
            hosted = min(hosted, self.cores_max // self.executor_cores)
        if self.dynamic_allocation and self.max_executors is not None:
            hosted = min(hosted, self.max_executors)
        return hosted

    def planned_cores(self, shape: ClusterShape) -> int:
        """Cores a static layout is granted (dynamic allocation: at most)."""
        if self.executor_cores is None:  # one executor per worker with all its cores
            cores = sum(c for c, m in zip(shape.worker_cores, shape.worker_memory_mb, strict=True)
                        if m >= self.memory_mb)
            return min(cores, self.cores_max) if self.cores_max else cores
        return self.planned_executors(shape) * self.executor_cores

    def check_fits(self, shape: ClusterShape) -> ExecutorLayout:
        """Raise :class:`InputError` saying what to change when the layout cannot run on ``shape``.

        Returns:
            The layout itself (so calls chain).
        """
        biggest_cores, biggest_memory = max(shape.worker_cores), max(shape.worker_memory_mb)
        if self.executor_cores is not None and self.executor_cores > biggest_cores:
            raise InputError(f"{self.name}: executor_cores={self.executor_cores} but the largest worker offers "
                             f"{biggest_cores} cores ({shape.describe()})",
                             fix=f"use executor_cores <= {biggest_cores}")
        footprint = self.memory_mb + self.overhead_mb
        if footprint > biggest_memory:
            room = biggest_memory - self.overhead_mb
            raise InputError(f"{self.name}: an executor needs {self.memory_mb} MiB heap + {self.overhead_mb} MiB "
                             f"overhead = {footprint} MiB but a worker offers {biggest_memory} MiB "
                             f"({shape.describe()})",
                             fix=f"lower executor_memory to at most '{max(room, 0)}m' or memory_overhead")
        hosted = self.capacity(shape)
        if hosted == 0:
            raise InputError(f"{self.name}: no worker can host one executor of {self.executor_cores or 'all'} cores "
                             f"and {self.memory_mb} MiB", fix="use fewer cores or less memory per executor")
        if self.dynamic_allocation:
            initial = self.initial_executors if self.initial_executors is not None else self.min_executors
            wanted = max(initial, self.min_executors, self.max_executors or 0)
            if wanted > hosted:
                raise InputError(f"{self.name}: dynamic allocation asks for up to {wanted} executors but "
                                 f"{shape.describe()} can host {hosted} of {self.executor_cores} cores and "
                                 f"{self.memory_mb} MiB", fix=f"set max_executors (and min/initial) <= {hosted}")
        return self

    def describe(self, shape: ClusterShape | None = None) -> str:
        """One line: ``small: 4 x (1 core, 512 MiB + 384 MiB overhead)``."""
        if shape is not None:
            count = (f"{self.min_executors}-{self.planned_executors(shape)}" if self.dynamic_allocation
                     else str(self.planned_executors(shape)))
        else:
            count = "dynamic" if self.dynamic_allocation else "n"
        cores = f"{self.executor_cores} core{'s' if (self.executor_cores or 0) > 1 else ''}" if self.executor_cores \
            else "all worker cores"
        extra = f" + {self.overhead_mb} MiB overhead" if self.memory_overhead else ""
        shuffle = f", {self.shuffle_partitions} shuffle partitions" if self.shuffle_partitions else ""
        return f"{self.name}: {count} x ({cores}, {self.memory_mb} MiB{extra}){shuffle}"


def _whole(name: str, value: Any, *, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be a whole number, got {value!r}", fix=f"pass an int for {name}")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}", fix=f"use {name} >= {minimum}")


def _duration(seconds: float) -> str:
    return f"{int(seconds)}s"


_INT_FIELDS = {"executor_cores", "cores_max", "shuffle_partitions", "min_executors", "initial_executors",
               "max_executors"}
_BOOL_FIELDS = {"dynamic_allocation", "shuffle_tracking"}
_TIME_FIELDS = {"idle_timeout_s", "backlog_timeout_s", "shuffle_tracking_timeout_s"}


def _from_text(field: str, raw: Any) -> Any:
    if field in _INT_FIELDS:
        try:
            return int(str(raw).strip())
        except ValueError:
            raise InputError(f"{field} must be a whole number, got {raw!r}", fix="write e.g. '2'") from None
    if field in _BOOL_FIELDS:
        text = str(raw).strip().lower()
        if text not in ("true", "false"):
            raise InputError(f"{field} must be 'true' or 'false', got {raw!r}", fix="write 'true' or 'false'")
        return text == "true"
    if field in _TIME_FIELDS:
        return parse_seconds(raw, field)
    return str(raw)


def layout_fields() -> Sequence[str]:
    """Names of the layout's fields (for tables)."""
    return [f.name for f in fields(ExecutorLayout)]
