"""Backends of each kind, their registries, and the order services start in."""

from platform_kit.registry import Registry
from platform_kit.services._base import ProcessService, Service, ServiceStatus
from platform_kit.services.broker import BROKERS, Broker
from platform_kit.services.objectstore import OBJECT_STORES, ObjectStore
from platform_kit.services.olap import OLAP, OLAP_ENGINES, OLAPQueryError
from platform_kit.services.postgres import POSTGRES_BACKENDS, Postgres
from platform_kit.services.schema_registry import SCHEMA_REGISTRIES, SchemaRegistry
from platform_kit.services.spark import SPARK_BACKENDS, SparkBackend, check_java
from platform_kit.services.spark_cluster import SPARK_CLUSTERS, SparkCluster

#: kind -> registry; also the start order (the broker stores its data in the object store)
REGISTRIES: dict[str, Registry] = {  # type: ignore[type-arg]
    "object_store": OBJECT_STORES,
    "broker": BROKERS,
    "schema_registry": SCHEMA_REGISTRIES,
    "postgres": POSTGRES_BACKENDS,
    "olap": OLAP_ENGINES,
    "spark": SPARK_BACKENDS,
    "spark_cluster": SPARK_CLUSTERS,
}
KINDS: tuple[str, ...] = tuple(REGISTRIES)

__all__ = [
    "KINDS",
    "OLAP",
    "REGISTRIES",
    "Broker",
    "OLAPQueryError",
    "ObjectStore",
    "Postgres",
    "SchemaRegistry",
    "ProcessService",
    "Service",
    "ServiceStatus",
    "SparkBackend",
    "SparkCluster",
    "check_java",
]
