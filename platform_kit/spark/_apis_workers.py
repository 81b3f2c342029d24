"""Which Python runs a session's UDFs and RDD lambdas.

PySpark starts its Python workers with ``$PYSPARK_PYTHON`` or, when unset, ``python3`` from
``PATH``, which on this machine is not the workbench's virtualenv: pandas UDFs then fail with
``No module named 'pyarrow'`` on the first batch. For sessions whose executors run on this
machine (``local[*]`` and the embedded cluster on 127.0.0.1) the lab's Python is the right
one; :func:`use_this_python` points the session at it. A remote cluster keeps its own
setting (its executors cannot run a path of this machine).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

_log = logging.getLogger(__name__)

__all__ = ["use_this_python"]

_LOCAL_MASTERS = ("local", "spark://127.0.0.1:", "spark://localhost:")


def use_this_python(spark: Any) -> str:
    """Make ``spark``'s Python workers run this interpreter when its executors are local.

    Functions wrapped after this call (``F.udf``, ``pandas_udf``, ``rdd.map``) carry the
    interpreter path to the executors. ``$PYSPARK_PYTHON``, when set, is left alone.

    Returns:
        The interpreter the session's Python workers will run.
    """
    sc = spark.sparkContext
    if os.environ.get("PYSPARK_PYTHON"):
        return str(sc.pythonExec)
    if str(sc.master).startswith(_LOCAL_MASTERS) and sc.pythonExec != sys.executable:
        _log.info("Python workers: %s instead of %s", sys.executable, sc.pythonExec)
        sc.pythonExec = sys.executable
    return str(sc.pythonExec)
