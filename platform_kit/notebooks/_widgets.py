"""Whether a lab should show ipywidgets controls, or just run the default once.

Headless runs (``workbench run``, testbook tests, batch grading) set ``WORKBENCH_HEADLESS=1``:
widget comm traffic buys nothing there, and twice a headless kernel was measured going idle
after a widget cell while the client waited forever for the cell's reply.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["HEADLESS_ENV", "widgets_enabled"]

#: Set to ``1`` by every headless executor; widget cells then call their function once instead.
HEADLESS_ENV = "WORKBENCH_HEADLESS"


def widgets_enabled() -> bool:
    """True when a person is at the notebook and ipywidgets is installed.

    Example:
        >>> if widgets_enabled():          # doctest: +SKIP
        ...     display(ipywidgets.interactive(show, limit=(1, 10)))
        ... else:
        ...     show()
    """
    if os.environ.get(HEADLESS_ENV, "") not in ("", "0"):
        return False
    return importlib.util.find_spec("ipywidgets") is not None
