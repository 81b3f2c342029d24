"""Great Expectations plumbing: a quiet import, engine type names and contract -> expectations.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from platform_kit._deps import require
from platform_kit.quality.contract import ColumnSpec, DataContract

_log = logging.getLogger(__name__)

#: Logical type -> dtype / type names GX accepts for pandas. Object columns are checked value by
#: value: "str", "int", "float", "bool" resolve to Python types, "Timestamp" to pandas' and "date"
#: to datetime.date (found by GX in pandas.core.dtypes.dtypes, which imports it). Nullable
#: extension dtypes go by their class names ("Int64Dtype"): GX resolves a name with getattr(pd,
#: name), so the alias "Int64" matches nothing and a nullable integer column would fail its type.
PANDAS_TYPES: dict[str, tuple[str, ...]] = {
    "integer": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype",
                "UInt64Dtype", "int"),
    "float": ("float16", "float32", "float64", "Float32Dtype", "Float64Dtype", "float"),
    "string": ("str", "StringDtype"),
    "boolean": ("bool", "BooleanDtype"),
    "timestamp": ("datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]", "Timestamp"),
    "date": ("date", "datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"),
}
#: Logical type -> Spark SQL type class names.
SPARK_TYPES: dict[str, tuple[str, ...]] = {
    "integer": ("ByteType", "ShortType", "IntegerType", "LongType"),
    "float": ("FloatType", "DoubleType", "DecimalType"),
    "string": ("StringType", "VarcharType", "CharType"),
    "boolean": ("BooleanType",),
    "timestamp": ("TimestampType", "TimestampNTZType"),
    "date": ("DateType",),
}
ENGINE_TYPES = {"pandas": PANDAS_TYPES, "spark": SPARK_TYPES}
_CLOUD_VARS = ("GX_CLOUD_ACCESS_TOKEN", "GX_CLOUD_ORGANIZATION_ID", "GX_CLOUD_WORKSPACE_ID")


def import_gx() -> ModuleType:
    """Import great_expectations quietly (no analytics, INFO logs capped) or explain how to install it.

    Raises:
        DependencyMissingError: great_expectations is not installed.
    """
    # must happen before the first import: analytics are read from the environment and GX logs
    # ~200 INFO lines while importing
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    gx_logger = logging.getLogger("great_expectations")
    capped = gx_logger.level == logging.NOTSET
    if capped:
        gx_logger.setLevel(logging.WARNING)
    module = require("great_expectations")
    if capped:
        # GX sets some of its own loggers to INFO (`Created temporary directory ... for ephemeral docs
        # site` on every in-memory context), which a CLI's root handler would print
        for name, item in list(logging.Logger.manager.loggerDict.items()):
            if name.startswith("great_expectations.") and isinstance(item, logging.Logger) \
                    and logging.NOTSET < item.level < logging.WARNING:
                item.setLevel(logging.WARNING)
    return module


def make_context(root: Path | None) -> Any:
    """A GX context: in memory (``root`` None) or file-backed under ``root``; never GX Cloud."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if any(os.environ.get(v) for v in _CLOUD_VARS):
        _log.debug("GX Cloud variables are set; ignored (the mode is always explicit)")
    if root is None:
        context = gx.get_context(mode="ephemeral")
    else:
        root.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(root))
    context.enable_analytics(False)
    # tqdm bars per metric batch; TQDM_DISABLE is not enough as GX passes disable= itself
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if root is not None:
        context.variables.save()
    return context


def _bound(spec: ColumnSpec, value: Any) -> Any:
    if value is None or spec.type not in ("timestamp", "date"):
        return value
    parsed = dt.datetime.fromisoformat(value)
    return parsed.date() if spec.type == "date" else parsed


def contract_expectations(contract: DataContract, engine: str) -> list[Any]:
    """The GX expectations a contract implies, table rules first, each tagged with its contract key."""
    import great_expectations.expectations as gxe

    types = ENGINE_TYPES[engine]

    def meta(rule: str) -> dict[str, Any]:
        return {"contract": contract.name, "version": contract.version, "rule": rule}

    names = contract.column_names
    out: list[Any] = []
    if contract.column_match == "ordered":
        out.append(gxe.ExpectTableColumnsToMatchOrderedList(column_list=names, meta=meta("column_match")))
    else:
        out.append(gxe.ExpectTableColumnsToMatchSet(column_set=names, exact_match=contract.column_match == "set",
                                                    meta=meta("column_match")))
    if contract.row_count is not None:
        out.append(gxe.ExpectTableRowCountToBeBetween(min_value=contract.row_count.min,
                                                      max_value=contract.row_count.max, meta=meta("row_count")))
    pk = contract.primary_key
    if len(pk) > 1:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(pk), meta=meta("primary_key")))
    for spec in contract.columns:
        col = spec.name
        rule = f"columns.{col}"
        out.append(gxe.ExpectColumnToExist(column=col, meta=meta(rule)))
        out.append(gxe.ExpectColumnValuesToBeInTypeList(column=col, type_list=list(types[spec.type]),
                                                        meta=meta(f"{rule}.type")))
        if not spec.nullable:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=col, meta=meta(f"{rule}.nullable")))
        if spec.unique or pk == [col]:
            out.append(gxe.ExpectColumnValuesToBeUnique(
                column=col, meta=meta(f"{rule}.unique" if spec.unique else "primary_key")))
        if spec.min is not None or spec.max is not None:
            out.append(gxe.ExpectColumnValuesToBeBetween(column=col, min_value=_bound(spec, spec.min),
                                                         max_value=_bound(spec, spec.max),
                                                         meta=meta(f"{rule}.min/max")))
        if spec.allowed_values is not None:
            out.append(gxe.ExpectColumnValuesToBeInSet(column=col, value_set=list(spec.allowed_values),
                                                       meta=meta(f"{rule}.allowed_values")))
        if spec.regex is not None:
            out.append(gxe.ExpectColumnValuesToMatchRegex(column=col, regex=spec.regex, meta=meta(f"{rule}.regex")))
        if spec.max_length is not None:
            out.append(gxe.ExpectColumnValueLengthsToBeBetween(column=col, max_value=spec.max_length,
                                                               meta=meta(f"{rule}.max_length")))
    return out


def outcome_fields(result: Any) -> dict[str, Any]:
    """The compact fields of one GX ExpectationValidationResult."""
    cfg = result.expectation_config
    kwargs = cfg.kwargs
    res = result.result or {}
    column = kwargs.get("column")
    if column is None and kwargs.get("column_list"):
        column = ",".join(kwargs["column_list"])
    info = result.exception_info or {}
    error = None
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "exception")[:200]
    sample = res.get("partial_unexpected_list")
    observed = res.get("observed_value")
    return {
        "expectation": cfg.type,
        "column": column,
        "rule": (cfg.meta or {}).get("rule"),
        "success": bool(result.success),
        "unexpected_count": res.get("unexpected_count"),
        "unexpected_percent": res.get("unexpected_percent"),
        "sample": tuple(sample[:5]) if sample else (),
        "observed": observed if isinstance(observed, int | float | str | bool | type(None)) else str(observed),
        "error": error,
    }
