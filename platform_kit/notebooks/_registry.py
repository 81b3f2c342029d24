"""The labs: discovered from ``solutions/NN_<slug>.ipynb`` and resolved by name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from platform_kit._state import find_project_root
from platform_kit.errors import LabError

SOLUTIONS_DIR = "solutions"
LABS_DIR = "labs"
_LAB_FILE = re.compile(r"^(?P<number>\d{2})_(?P<slug>[a-z0-9_]+)\.ipynb$")


@dataclass(frozen=True)
class Lab:
    """One lab: its solution notebook and the generated learner copy.

    Attributes:
        number: Two digits, e.g. ``"01"``.
        slug: The rest of the file name, e.g. ``"assessment"``.
        solution: Path of ``solutions/NN_<slug>.ipynb``.
        learner: Path of ``labs/NN_<slug>.ipynb`` (may not exist yet).
    """

    number: str
    slug: str
    solution: Path
    learner: Path

    @property
    def name(self) -> str:
        """``NN_<slug>``, the lab's canonical name."""
        return f"{self.number}_{self.slug}"

    def notebook(self, learner: bool = False) -> Path:
        """The solution notebook, or the learner copy when ``learner`` is true."""
        return self.learner if learner else self.solution


def project_root() -> Path:
    """The workbench checkout, or a :class:`LabError` saying how to get into one."""
    root = find_project_root()
    if root is None:
        raise LabError(
            "cannot find the workbench checkout (no environments/base.yml above the current folder)",
            fix="cd into the repository before running lab commands",
        )
    return root


def parse_lab_file(path: Path) -> tuple[str, str] | None:
    """``(number, slug)`` when ``path`` is named ``NN_<slug>.ipynb``, else ``None``."""
    match = _LAB_FILE.match(path.name)
    return (match["number"], match["slug"]) if match else None


def discover_labs(root: Path | None = None) -> list[Lab]:
    """Every lab with a solution notebook, ordered by number.

    Args:
        root: The project root; found from the current folder when omitted.

    Raises:
        LabError: Two solutions share a number.
    """
    root = root or project_root()
    labs: dict[str, Lab] = {}
    for path in sorted((root / SOLUTIONS_DIR).glob("*.ipynb")):
        parsed = parse_lab_file(path)
        if parsed is None:
            continue
        number, slug = parsed
        if number in labs:
            raise LabError(
                f"two solution notebooks share number {number}: {labs[number].solution.name}, {path.name}",
                fix="renumber one of them",
            )
        labs[number] = Lab(number, slug, path, root / LABS_DIR / path.name)
    return [labs[number] for number in sorted(labs)]


def _match(name: str, labs: list[Lab]) -> Lab | None:
    key = name.strip()
    as_path = Path(key)
    if key.endswith(".ipynb") or "/" in key or "\\" in key:
        key = as_path.stem
    key = key.lower()
    for lab in labs:
        if key in (lab.name, lab.slug, lab.number) or (key.isdigit() and int(key) == int(lab.number)):
            return lab
    return None


def resolve_labs(names: Iterable[str] | None = None, root: Path | None = None) -> list[Lab]:
    """Resolve lab names to :class:`Lab` objects.

    Each name may be the number (``01`` or ``1``), the full name (``01_assessment``), the
    slug (``assessment``) or a path to either notebook (``labs/01_assessment.ipynb``).

    Args:
        names: Names to resolve, in the order to run them; all labs when empty or ``None``.
        root: The project root; found from the current folder when omitted.

    Returns:
        The labs, duplicates removed, in the order given.

    Raises:
        LabError: A name matches no lab (the message lists the valid ones).
    """
    labs = discover_labs(root)
    names = list(names or [])
    if not names:
        return labs
    resolved: list[Lab] = []
    for name in names:
        lab = _match(name, labs)
        if lab is None:
            valid = ", ".join(lab.name for lab in labs) or "(none: solutions/ is empty)"
            raise LabError(
                f"unknown lab {name!r}; valid labs: {valid}",
                fix="pass a number (01), a name (01_assessment), a slug (assessment) or a notebook path",
            )
        if lab not in resolved:
            resolved.append(lab)
    return resolved
