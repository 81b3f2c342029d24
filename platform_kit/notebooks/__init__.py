"""Lab notebooks: learner copies from solutions, linting, and headless runs with papermill.

Conventions (see :mod:`platform_kit.notebooks._learner` and ``_markers``):

* ``solutions/NN_<slug>.ipynb`` is the source of a lab; ``labs/NN_<slug>.ipynb`` is its
  generated learner copy (``workbench build-labs``), never edited by hand.
* Solution code sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines, with
  an optional ``# HINT: <text>`` line; the learner copy has
  ``raise NotImplementedError("<text>")`` instead. Put markers inside a function body so
  the learner copy still runs to the end and its ``check()`` reports "not attempted".
* Cell tags: ``parameters`` (papermill; assigns ``profile``, ``scale``, ``seed``),
  ``solution-only`` (dropped from the learner copy), ``exercise-<exercise_id>`` (the cell
  with the markers), ``check-<exercise_id>`` (the cell calling ``check``).
"""

from platform_kit.notebooks._build import BuildProblem, BuildResult, build_labs
from platform_kit.notebooks._learner import (
    CHECK_TAG_PREFIX,
    EXERCISE_TAG_PREFIX,
    PARAMETERS_TAG,
    SOLUTION_ONLY_TAG,
    build_learner_notebook,
    strip_outputs,
)
from platform_kit.notebooks._lint import REQUIRED_PARAMETERS, lint_notebook
from platform_kit.notebooks._markers import BEGIN_MARKER, END_MARKER, replace_solutions
from platform_kit.notebooks._nbio import dumps_notebook, read_notebook, write_notebook
from platform_kit.notebooks._registry import Lab, discover_labs, project_root, resolve_labs
from platform_kit.notebooks._report import CheckRecord, ErrorInfo, LabResult, RunReport, read_check_log
from platform_kit.notebooks._runner import CHECK_LOG_ENV, NotebookJob, new_run_dir, run_labs, run_notebooks
from platform_kit.notebooks._widgets import HEADLESS_ENV, widgets_enabled

__all__ = [
    "BEGIN_MARKER",
    "CHECK_LOG_ENV",
    "CHECK_TAG_PREFIX",
    "END_MARKER",
    "EXERCISE_TAG_PREFIX",
    "HEADLESS_ENV",
    "PARAMETERS_TAG",
    "REQUIRED_PARAMETERS",
    "SOLUTION_ONLY_TAG",
    "BuildProblem",
    "BuildResult",
    "CheckRecord",
    "ErrorInfo",
    "Lab",
    "LabResult",
    "NotebookJob",
    "RunReport",
    "build_labs",
    "build_learner_notebook",
    "discover_labs",
    "dumps_notebook",
    "lint_notebook",
    "new_run_dir",
    "project_root",
    "read_check_log",
    "read_notebook",
    "replace_solutions",
    "resolve_labs",
    "run_labs",
    "run_notebooks",
    "strip_outputs",
    "widgets_enabled",
    "write_notebook",
]
