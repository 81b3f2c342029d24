"""Masking policies: one action per column, validated, applied to a frame at ingestion.

A policy is data (YAML a privacy officer can read and review)::

    columns:
      customer_id: tokenize      # deterministic keyed token: joins still work
      email: mask_email          # n***@mail.example
      phone: last4               # +* *** ***2665
      full_name: initials        # N. W.
      national_id: vault         # random token, reversible by granted principals only
      street_address: drop
      date_of_birth: year
      body: scrub                # free text: detected PII replaced by [EMAIL], [CARD]...
      segment: keep
    unlisted: error              # a new column fails loudly instead of leaking silently

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from platform_kit.errors import ConfigError
from platform_kit.ingestion._pii_detect import scrub_text
from platform_kit.ingestion._pii_mask import birth_year, initials, mask_email, mask_last4, redact

__all__ = ["ACTIONS", "Action", "MaskingPolicy", "apply_policy"]

Action = Literal["tokenize", "mask_email", "last4", "initials", "redact", "drop", "vault", "year", "scrub", "keep"]
#: Valid actions, in the order they are documented.
ACTIONS: tuple[str, ...] = get_args(Action)


class MaskingPolicy(BaseModel):
    """Column -> action, and what to do with columns the policy does not name.

    Attributes:
        columns: The action per column (see :data:`ACTIONS`).
        unlisted: ``error`` (default: a new upstream column cannot slip through), ``drop`` or ``keep``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, Action]
    unlisted: Literal["error", "drop", "keep"] = "error"

    @classmethod
    def parse(cls, source: Any) -> MaskingPolicy:
        """A policy from a :class:`MaskingPolicy`, a mapping (``{"columns": {...}}`` or flat
        ``{column: action}``), a YAML string or a ``.yml`` path.

        Raises:
            ConfigError: Unknown action or key, or a malformed document, with the valid choices.
        """
        if isinstance(source, MaskingPolicy):
            return source
        if isinstance(source, Path) or (isinstance(source, str) and source.strip().endswith((".yml", ".yaml"))
                                        and "\n" not in source.strip()):
            source = Path(source).read_text()
        if isinstance(source, str):
            try:
                source = yaml.safe_load(source)
            except yaml.YAMLError as exc:
                raise ConfigError(f"the masking policy is not valid YAML: {exc}", fix="check the indentation") from exc
        if not isinstance(source, Mapping):
            raise ConfigError(f"a masking policy is a mapping of column -> action, got {type(source).__name__}",
                              fix="e.g. MaskingPolicy(columns={'email': 'mask_email'})")
        data = dict(source) if "columns" in source else {"columns": dict(source)}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['input']!r} is not valid (choose from "
                f"{', '.join(ACTIONS) if err['loc'][0] == 'columns' else 'error, drop, keep'})" if err["type"] == "literal_error"
                else f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
            raise ConfigError(f"invalid masking policy: {problems}",
                              fix=f"actions are {', '.join(ACTIONS)}; unlisted is error, drop or keep") from exc

    def to_yaml(self) -> str:
        """The policy as YAML."""
        return yaml.safe_dump(self.model_dump(), sort_keys=False)


def _vault_tokens(vault: Any, column: str, values: pd.Series) -> pd.Series:
    if vault is None:
        raise ConfigError(f"column {column!r} uses the 'vault' action but no vault was given",
                          fix="apply_policy(frame, policy, vault=TokenVault(pk.pg, managed_key('vault')))")
    return vault.tokenize(values, kind=column)


def apply_policy(frame: pd.DataFrame, policy: Any, *, tokenizer: Any = None, vault: Any = None,
                 names: Iterable[str] | None = None) -> pd.DataFrame:
    """A masked copy of ``frame``: every column transformed by its action (the input is not changed).

    Args:
        frame: The records to land.
        policy: A :class:`MaskingPolicy` or anything :meth:`MaskingPolicy.parse` accepts.
        tokenizer: A :class:`~platform_kit.ingestion.pii.Tokenizer`, needed by ``tokenize``.
        vault: A :class:`~platform_kit.ingestion.pii.TokenVault`, needed by ``vault``.
        names: Known personal names for ``scrub`` (free text), e.g. ``customers['full_name']``.

    Raises:
        ConfigError: The policy is invalid, names a column the frame lacks, leaves a column
            unlisted with ``unlisted: error``, or needs a tokenizer/vault that was not given.
    """
    policy = MaskingPolicy.parse(policy)
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"apply_policy expects a DataFrame, got {type(frame).__name__}", fix="pass the batch")
    missing = [c for c in policy.columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"the policy names column(s) {missing} that the frame lacks",
                          fix="fix the column names (or the policy is for another table)")
    unlisted = [str(c) for c in frame.columns if c not in policy.columns]
    if unlisted and policy.unlisted == "error":
        raise ConfigError(f"column(s) {unlisted} have no action in the masking policy",
                          fix="give each an action (keep, if it is not personal data) or set unlisted: drop")
    if "tokenize" in policy.columns.values() and tokenizer is None:
        raise ConfigError("the policy tokenises columns but no tokenizer was given",
                          fix="apply_policy(frame, policy, tokenizer=Tokenizer(managed_key('v1'), 'v1'))")
    actions: dict[str, Any] = {
        "mask_email": mask_email, "last4": mask_last4, "initials": initials, "redact": redact, "year": birth_year,
        "tokenize": lambda s: tokenizer.tokenize(s), "scrub": lambda s: scrub_text(s, names=names),
    }
    out: dict[str, pd.Series] = {}
    for column in frame.columns:
        action = policy.columns.get(column, "keep" if policy.unlisted == "keep" else "drop")
        if action == "drop":
            continue
        series = frame[column]
        if action == "keep":
            out[column] = series.copy()
        elif action == "vault":
            out[column] = _vault_tokens(vault, str(column), series)
        else:
            out[column] = actions[action](series)
    return pd.DataFrame(out, index=frame.index)
