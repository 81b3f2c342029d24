"""The strict base of the decision models' inputs (lake, network, archive)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from platform_kit.errors import ConfigError


class StrictInputs(BaseModel):
    """Strict, frozen base: bad values raise ConfigError with field, value and fix.

    Subclasses set ``help_module`` to the public module that documents them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    help_module: ClassVar[str] = "platform_kit.assessment"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(model)'}: {err['msg']} "
                f"(got {err.get('input')!r})"
                for err in exc.errors()
            )
            raise ConfigError(
                f"invalid {type(self).__name__}: {problems}",
                fix=f"correct the value(s); see help({self.help_module}.{type(self).__name__})",
            ) from None
