# JupyterLab for the compose profile: Python 3.11 + JDK 17 + the project, pinned by constraints.txt.
# Built by `docker compose --profile jupyter build` (context: the repo root). The repo itself is
# bind-mounted over /workspace at run time, so edits on the host are live in the container.
#
# bookworm, not trixie: Debian 13 no longer packages OpenJDK 17, which Spark 4 is tested on.
FROM python:3.11.14-slim-bookworm

# The slim image has no man pages directory, which openjdk's postinst expects.
RUN set -eux; \
    mkdir -p /usr/share/man/man1; \
    apt-get update; \
    apt-get install -y --no-install-recommends openjdk-17-jre-headless procps; \
    rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SPARK_HOME=/usr/local/lib/python3.11/site-packages/pyspark

WORKDIR /workspace
# Only what the install needs, so the heavy layer is rebuilt when dependencies change, not code.
COPY pyproject.toml constraints.txt README.md ./
COPY platform_kit ./platform_kit
RUN pip install -c constraints.txt -e ".[labs,compose,jupyter]" \
 && python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)"

# Non-root user whose primary group is gid 185, the `spark` group of the apache/spark image:
# with umask 002 on both sides, files on the shared spark volume stay writable by the driver
# here and by the executors there. WORKBENCH_UID should be your host `id -u`.
ARG WORKBENCH_UID=1000
RUN set -eux; \
    groupadd --system --gid 185 spark; \
    useradd --create-home --uid "${WORKBENCH_UID}" --gid 185 --shell /bin/bash workbench; \
    mkdir -p /opt/spark/work-dir; \
    chown 185:185 /opt/spark/work-dir; \
    chmod 2775 /opt/spark/work-dir
USER workbench
ENV IPYTHONDIR=/home/workbench/.ipython \
    MPLCONFIGDIR=/home/workbench/.config/matplotlib

EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--notebook-dir=/workspace/labs"]
