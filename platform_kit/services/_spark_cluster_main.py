"""Supervisor of an embedded Spark standalone cluster: one master and N workers.

Run by :class:`~platform_kit.services.spark_cluster.EmbeddedSparkCluster` as a single
managed process, so the usual record/attach/guardian machinery covers all JVMs: the
supervisor starts the master with pyspark's ``bin/spark-class``, then the workers
(after a short head start), and on SIGTERM stops them all (workers first). If any
JVM dies the supervisor stops the others and exits non-zero, so ``workbench status``
reports the cluster as crashed instead of half alive. Children get
``PR_SET_PDEATHSIG`` from this process's only thread, so a SIGKILLed supervisor
takes its JVMs with it.

Usage: ``python -m platform_kit.services._spark_cluster_main SPEC.json``.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_log = logging.getLogger("spark_cluster")
_stopping = False


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _launch(spark_home: str, args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "ab")  # noqa: SIM115 - the child writes to it for its whole life
    cmd = [os.path.join(spark_home, "bin", "spark-class"), *args]
    handle.write(f"\n--- start {time.strftime('%H:%M:%S')}: {' '.join(cmd)}\n".encode())
    handle.flush()
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, preexec_fn=preexec)  # noqa: PLW1509


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in reversed(children):  # workers before the master
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def main(spec_path: str) -> int:
    """Start the cluster described in ``spec_path`` and supervise it until SIGTERM."""
    global _stopping
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(message)s")
    spec = json.loads(Path(spec_path).read_text())
    host, work = spec["host"], Path(spec["work_dir"])
    env = {**os.environ, "SPARK_HOME": spec["spark_home"], "SPARK_LOCAL_IP": host,
           "SPARK_DAEMON_MEMORY": spec["daemon_memory"], "SPARK_LOG_DIR": str(work / "logs"),
           "SPARK_WORKER_DIR": str(work / "work"), "SPARK_NO_DAEMONIZE": "1",
           # The master and workers only schedule: C1-only JIT and the serial GC roughly halve the
           # CPU they burn while booting on a 2-core laptop (executors keep the full JIT).
           "SPARK_DAEMON_JAVA_OPTS": spec.get("daemon_java_opts", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")}
    children: list[subprocess.Popen[bytes]] = []

    def on_term(signum: int, _frame: object) -> None:
        global _stopping
        _stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    # A per-cluster shared secret (a 0600 properties file, not the command line) keeps workers
    # of another, stale cluster from registering with this master when it reuses their port.
    secret_args = ["--properties-file", spec["properties_file"]] if spec.get("properties_file") else []
    children.append(_launch(spec["spark_home"], [
        "org.apache.spark.deploy.master.Master", *secret_args, "--host", host, "--port", str(spec["master_port"]),
        "--webui-port", str(spec["ui_port"])], work / "logs" / "master.log", env))
    # Workers boot (~3 s of JVM class loading) while the master does; one that finds no master
    # yet retries on its own after 5-15 s, so a short head start keeps the common case fast.
    time.sleep(float(spec.get("worker_delay_s", 1.5)))
    if children[0].poll() is not None:
        _log.error("master exited with %s while starting", children[0].returncode)
        return 3
    master_url = f"spark://{host}:{spec['master_port']}"
    for index in range(int(spec["workers"])):
        worker_dir = work / "work" / f"worker-{index + 1}"
        worker_dir.mkdir(parents=True, exist_ok=True)
        children.append(_launch(spec["spark_home"], [
            "org.apache.spark.deploy.worker.Worker", master_url, *secret_args, "--host", host,
            "--cores", str(spec["worker_cores"]), "--memory", spec["worker_memory"],
            "--webui-port", "0", "--work-dir", str(worker_dir)],
            work / "logs" / f"worker-{index + 1}.log", env))
    _log.info("master %s and %d workers launched", master_url, spec["workers"])
    status = 0
    while not _stopping:
        dead = [c for c in children if c.poll() is not None]
        if dead:
            _log.error("a cluster JVM exited (pid %d, status %s); stopping the rest", dead[0].pid,
                       dead[0].returncode)
            status = 4
            break
        time.sleep(0.5)
    _stop_all(children)
    _log.info("cluster stopped")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
