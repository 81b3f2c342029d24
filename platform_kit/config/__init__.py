"""Layered configuration: ``environments/base.yml``, then the profile, then local overrides.

Order (later wins), as in kedro's ``conf/base`` + environment + ``local``:

1. ``environments/base.yml``
2. ``environments/<profile>.yml`` (profile from the argument, else ``$WORKBENCH_PROFILE``,
   else ``embedded``)
3. ``environments/local.yml`` (git-ignored, per machine)
4. environment variables ``WORKBENCH__<SECTION>__<KEY>=value`` (values parsed as YAML)
"""

from platform_kit.config._loader import (
    DEFAULT_PROFILE,
    PROFILE_ENV_VAR,
    available_profiles,
    load_raw_config,
)

__all__ = ["DEFAULT_PROFILE", "PROFILE_ENV_VAR", "available_profiles", "load_raw_config"]
