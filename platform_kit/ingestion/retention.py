"""Retention and replication: topic settings through the admin API, storage cost against durability.

Three parts (Lab 2, section 1):

* topic settings: :class:`TopicSettings` validated client-side, created with the admin API and read
  back with ``DescribeConfigs`` (:func:`topic_settings_report`);
* the calculator: storage cost (rate x record size x retention x RF + segment slack + index, priced
  per GB-month) against durability (RF, ``min.insync.replicas``, acks): :func:`evaluate_settings`,
  :func:`settings_grid` with its Pareto front, :func:`cheapest_settings`, :func:`plot_cost_vs_durability`;
* live: a private tansu broker crashed and restarted under an acks=all stream
  (:func:`streams_through_restart`, :func:`produce_through_restart`) and, on the compose profile, a Kafka broker stopped under an
  RF=3 topic (:func:`replicated_stop_demo`).

Retention and compaction are enforced only by real Kafka (the compose profile); the embedded tansu
broker stores and echoes the configs but never deletes or compacts anything.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from platform_kit.ingestion._retention_calc import (
    ACKS,
    INDEX_OVERHEAD,
    SETTINGS_KEYS,
    USD_PER_GB_MONTH,
    DurabilityTarget,
    RetentionSettings,
    Workload,
    cheapest_settings,
    durability,
    evaluate_settings,
    normalise_acks,
    pareto_front,
    settings_grid,
    storage_bytes,
)
from platform_kit.ingestion._retention_compose import (
    compose_broker_services,
    compose_command,
    compose_file,
    replicated_stop_demo,
)
from platform_kit.ingestion._retention_live import (
    PrivateTansuBroker,
    RestartReport,
    produce_through_restart,
    streams_through_restart,
)
from platform_kit.ingestion._retention_topics import (
    CLEANUP_POLICIES,
    TopicSettings,
    describe_topic_configs,
    topic_settings_report,
)

__all__ = [
    "ACKS",
    "CLEANUP_POLICIES",
    "ENFORCEMENT_NOTE",
    "INDEX_OVERHEAD",
    "SETTINGS_KEYS",
    "USD_PER_GB_MONTH",
    "DurabilityTarget",
    "PrivateTansuBroker",
    "RestartReport",
    "RetentionSettings",
    "TopicSettings",
    "Workload",
    "cheapest_settings",
    "compose_broker_services",
    "compose_command",
    "compose_file",
    "describe_topic_configs",
    "durability",
    "evaluate_settings",
    "normalise_acks",
    "pareto_front",
    "plot_cost_vs_durability",
    "produce_through_restart",
    "replicated_stop_demo",
    "settings_grid",
    "storage_bytes",
    "streams_through_restart",
    "topic_settings_report",
]

#: Said plainly wherever the embedded broker shows these configs.
ENFORCEMENT_NOTE = (
    "retention.ms, retention.bytes, segment.* and cleanup.policy=compact are stored and read back by the "
    "embedded tansu broker but never enforced (nothing is deleted or compacted), and it accepts RF>1 on a "
    "single broker; only real Kafka (the compose profile's 3 brokers) enforces retention, compaction and "
    "replication"
)


def plot_cost_vs_durability(workload: Workload, grid: pd.DataFrame, *, budget_usd_month: float | None = None,
                            max_retention_hours: float = 336.0, axes: Any = None) -> Any:
    """Two panels: cost against failures tolerated (Pareto front labelled), and cost against retention.

    Left: every row of ``grid`` (one retention: the smallest in it) at (monthly cost, broker losses
    with no acknowledged-write loss *and* still writable), coloured by acks. Right: cost against
    retention hours for each replication factor, with the budget.

    Returns:
        The two matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    left, right = axes
    hours = float(grid["retention_hours"].min())
    part = grid[grid["retention_hours"] == hours]
    colours = {"0": "tab:red", "1": "tab:orange", "all": "tab:blue"}
    offsets = {"0": -0.16, "1": -0.08, "all": 0.0}
    for ack in ("all", "1", "0"):
        rows = part[part["acks"] == ack]
        if len(rows):
            left.scatter(rows["usd_month"], rows["tolerated_failures"] + offsets[ack], c=colours[ack], s=40,
                         alpha=0.6, edgecolors="none", label=f"acks={ack}")
    front = part[part["pareto"]].sort_values("usd_month")
    left.step(front["usd_month"], front["tolerated_failures"], where="post", color="k", lw=1, ls="--",
              alpha=0.6, label="Pareto front")
    for row in front.itertuples():
        left.annotate(f"RF{row.replication_factor} isr{row.min_insync_replicas} acks={row.acks}",
                      (row.usd_month, row.tolerated_failures), textcoords="offset points", xytext=(5, 5),
                      fontsize=7)
    left.set_xlabel(f"storage cost (USD / month, {hours:g} h retention)")
    left.set_ylabel("broker losses tolerated\n(no acked loss, still writable)")
    left.set_yticks(sorted(part["tolerated_failures"].unique()))
    left.legend(fontsize=7, loc="lower right")
    span = np.linspace(1.0, max_retention_hours, 60)
    for rf in sorted(grid["replication_factor"].unique()):
        cost = [evaluate_settings(workload, RetentionSettings(int(rf), 1, "all", float(h)))["usd_month"]
                for h in span]
        right.plot(span, cost, label=f"RF={rf}")
    if budget_usd_month is not None:
        for ax in axes:
            (ax.axvline if ax is left else ax.axhline)(budget_usd_month, color="black", lw=1.2, ls=":",
                                                      label=f"budget {budget_usd_month:,.0f} USD")
    right.set_xlabel("retention (hours)")
    right.set_ylabel("storage cost (USD / month)")
    right.legend(fontsize=7)
    left.set_title("What each dollar of replication buys", fontsize=10)
    right.set_title("Cost grows with RF x retention", fontsize=10)
    return axes
