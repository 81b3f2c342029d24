"""Lab 1, strategic data infrastructure assessment: measurement harnesses and decision models.

Modules (one per lab section): ``sla`` (pipeline latency/throughput against SLAs),
``lake`` (on-prem / hybrid / cloud-native decision), ``formats`` (Parquet/ORC/Avro
bake-off and schema evolution), ``network`` (cross-region sync model), ``layouts``
(partitioning and bucketing scans), ``archive`` (object storage vs distributed file
system TCO), ``catalog`` (metadata harvesting and OpenLineage lineage), ``baselines``
(versioned baseline metrics with regression flags).
"""
