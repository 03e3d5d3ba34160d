"""The distributed warehouse: the same dbt project on Apache Spark (dbt-spark).

On DuckDB the dbt sources read the lake's Parquet directly; on Spark they are external tables ``lake.<source>``
over the lake's folders, with the columns of the union of each folder's file schemas (what DuckDB's
``read_parquet(..., union_by_name=true)`` sees, so a source with no rows yet still has its columns). This module
writes that description into ``DEVMENTOR_SPARK_SOURCES``; the run's on-run-start hook registers the tables
(dbt_project/macros/spark_lake.sql) on whatever Spark dbt connects to, and ``dbt build --target spark`` then runs
the unchanged project. Tables are Parquet in a Hive metastore; the event-grain incremental models are
partitioned by date and rebuilt with ``insert_overwrite``. docs/operator.md ("Spark") says what changes on a cluster.

    devmentor warehouse spark                                    # local[2] Spark, under $DEVMENTOR_HOME/spark
    DEVMENTOR_SPARK_MASTER=spark://host:7077 devmentor warehouse spark
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import duckdb

from devmentor.ingest.contract import ENTITIES

SCHEMA = "lake"
# dbt source name → lake folder (relative to the lake) and the glob DuckDB reads it with (models/staging/_sources.yml).
FOLDERS = {**{e.name: f"raw/{e.name}" for e in ENTITIES}, "quarantine": "quarantine"}
GLOBS = {**{e.name: f"raw/{e.name}/**/*.parquet" for e in ENTITIES}, "quarantine": "quarantine/*/*.parquet"}
QUARANTINE_COLUMNS = [
    ("entity", "string"), ("source_file", "string"), ("row_number", "bigint"), ("field", "string"), ("reason", "string"),
    ("errors", "string"), ("record", "string"), ("quarantined_at", "timestamp"),
]
SIMPLE_TYPES = {
    "VARCHAR": "string", "BOOLEAN": "boolean", "TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "int",
    "BIGINT": "bigint", "HUGEINT": "decimal(38,0)", "UTINYINT": "smallint", "USMALLINT": "int", "UINTEGER": "bigint",
    "UBIGINT": "decimal(20,0)", "FLOAT": "float", "DOUBLE": "double", "DATE": "date", "BLOB": "binary",
    "TIMESTAMP WITH TIME ZONE": "timestamp", "TIMESTAMP": "timestamp_ntz",
}
# Small data (tests, a demo-sized lake): the JVM's quick-start compiler and no whole-stage code generation cost far
# less CPU than they lose in speed (on 2 cores, the test build takes about half the time); large data: the defaults.
# The quick-start compiler alone shrinks the JVM's default code cache to 48 MB, which a whole project's queries
# fill ("Out of space in CodeCache"); 256 MB is the tiered default, reserved address space, committed as used.
SMALL_DATA_ENV = {"DEVMENTOR_SPARK_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m -XX:+UseSerialGC",
                  "DEVMENTOR_SPARK_CODEGEN": "false"}
# What the tests and the benchmark use to read results in-process: the profile's session settings (profiles.yml).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC", "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.sources.default": "parquet", "spark.ui.enabled": "false", "spark.sql.ansi.enabled": "false",
    "spark.log.level": "WARN",
}


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type for a DuckDB column type of the lake."""
    t = duckdb_type.strip().upper()
    if t.endswith("[]"):
        return f"array<{spark_type(t[:-2])}>"
    if t in SIMPLE_TYPES:
        return SIMPLE_TYPES[t]
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return f"decimal({m[1]},{m[2]})"
    raise TypeError(f"no Spark type for lake column type {duckdb_type}")


def source_columns(lake: Path, name: str) -> list[tuple[str, str]] | None:
    """(column, Spark type) of a source: the union of its Parquet files' schemas (None when it has no file)."""
    if not any(lake.glob(GLOBS[name])):
        return None
    con = duckdb.connect()
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{lake / GLOBS[name]}', union_by_name=true)").fetchall()
    finally:
        con.close()
    return [(r[0], spark_type(r[1])) for r in rows]


def source_tables(lake: Path) -> list[dict[str, str]]:
    """Every dbt source as {name, path, columns}: the external table the on-run-start hook registers."""
    lake = lake.resolve()
    tables = []
    for name, folder in FOLDERS.items():
        columns = source_columns(lake, name)
        if columns is None:
            if name != "quarantine":
                raise FileNotFoundError(
                    f"the lake at {lake} has no {GLOBS[name]}; run the ingest first (devmentor materialize --select group:ingest)")
            columns = QUARANTINE_COLUMNS
        ddl = ", ".join(f"`{c}` {t}" for c, t in columns)
        tables.append({"name": name, "path": str(lake / folder), "columns": ddl})
    return tables


def dbt_env(lake: Path, spark_dir: Path, master: str | None = None) -> dict[str, str]:
    """The variables the ``spark`` target of profiles.yml and the hook read."""
    env = {
        "DEVMENTOR_DBT_TARGET": "spark",
        "DEVMENTOR_LAKE": str(lake.resolve()),
        "DEVMENTOR_SPARK_DIR": str(spark_dir.resolve()),
        "DEVMENTOR_SPARK_SOURCES": json.dumps(source_tables(lake)),
    }
    if master:
        env["DEVMENTOR_SPARK_MASTER"] = master
    return env


def java_runtime() -> str | None:
    """The Java runtime Spark starts (JAVA_HOME's, else java on PATH), or None when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stderr or out.stdout).splitlines()[0] if out.returncode == 0 else None


def session(spark_dir: Path, master: str = "local[2]", shuffle_partitions: int = 2, memory: str = "2g",
            small_data: bool = False) -> Any:
    """A SparkSession on the metastore and tables a ``--target spark`` build left in spark_dir (to read them).

    Only one process at a time can open the embedded (Derby) metastore: not while dbt runs on it.
    """
    from pyspark.sql import SparkSession

    spark_dir = spark_dir.resolve()
    java = f"-Dderby.system.home={spark_dir} " + (SMALL_DATA_ENV["DEVMENTOR_SPARK_JAVA_OPTIONS"] if small_data else "")
    builder = (SparkSession.builder.master(master).appName("devmentor-warehouse").enableHiveSupport()
               .config("spark.driver.memory", memory)
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.sql.warehouse.dir", str(spark_dir / "warehouse"))
               .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                       f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true")
               .config("spark.driver.extraJavaOptions", java.strip())
               .config("spark.sql.codegen.wholeStage", "false" if small_data else "true"))
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def stop_session(spark: Any) -> None:
    """Stop the session and its JVM (which releases the embedded metastore), so another process can open it."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            proc.stdin.close()  # the JVM exits when its stdin closes
            proc.wait(timeout=60)
        SparkContext._gateway = None
        SparkContext._jvm = None
