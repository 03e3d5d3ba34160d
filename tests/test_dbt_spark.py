"""The distributed path: the unchanged dbt project builds on Apache Spark (dbt-spark, a local session on a Hive
metastore, the lake's Parquet as external tables) and its every model holds the same rows as the DuckDB build of
the same lake.

Allowed differences, each named and counted below:
- column order of the date-partitioned incremental tables: Spark stores a partition column last;
- number types: DuckDB's avg of a decimal is a double, Spark's a decimal; integer widths (compared as numbers,
  type families must match: number, text, boolean, date, instant, list, map, record);
- round() at an exact half: DuckDB rounds the binary double, Spark the decimal (as PostgreSQL does; rare).
"""

from __future__ import annotations

import json
import math
import time

import duckdb
import pytest

# The test extra installs PySpark and dbt-spark; .ci/run installs Debian's Java runtime when there is none.
pytest.importorskip("pyspark", reason="PySpark not installed: pip install -c constraints.txt -e '.[test]'")

pytestmark = [pytest.mark.e2e]

from assets.features import build_summary
from assets.features import run_dbt as dbt
from devmentor.features import spark_warehouse
from devmentor.generator import generate
from devmentor.settings import TELEMETRY_ENV
from tests import test_dbt_postgres as pgt
from tests.test_features import ingest_all, run_dbt

SCHEMAS = ("staging", "intermediate", "marts", "analytics")
PARTITIONED = {"int_chat_search_terms": "event_date", "int_content_views_sequenced": "event_date",
               "int_events_milestones": "event_date", "int_learner_daily_activity": "event_date",
               "int_quiz_attempts_enriched": "event_date", "int_sessions_summarized": "session_date"}
JSON_OPTIONS = "map('ignoreNullFields', 'false', 'timestampFormat', \"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX\")"


def family(type_name: str) -> str:
    """The kind of a column type on either engine (DuckDB's information_schema name or Spark's simpleString)."""
    t = type_name.lower()
    if t.endswith("[]") or t.startswith("array<"):
        return "list"
    if t.startswith(("struct", "map")):
        return t.split("(")[0].split("<")[0]
    if t in ("timestamp with time zone", "timestamp"):
        return "instant"
    for name, kinds in (("number", ("decimal", "double", "float", "int", "bigint", "smallint", "tinyint", "integer",
                                    "hugeint")), ("text", ("varchar", "string")), ("boolean", ("boolean",)),
                        ("date", ("date",)), ("local time", ("timestamp without time zone", "timestamp_ntz"))):
        if t.split("(")[0] in kinds:
            return name
    return t


@pytest.fixture(scope="module")
def both_builds(tmp_path_factory):
    """One generated lake built by dbt on DuckDB and by dbt-spark; a Spark session on the result to read it."""
    java = spark_warehouse.java_runtime()
    assert java, "Spark needs a Java runtime (17+): apt-get install default-jre-headless (.ci/run does)"
    work = tmp_path_factory.mktemp("dbt-spark")
    t = [time.perf_counter()]
    generate(work / "inbox", learners=120, days=4, seed=11)
    ingest_all(work / "inbox", work / "lake")
    warehouse = work / "warehouse.duckdb"
    t.append(time.perf_counter())
    run_dbt(work / "lake", warehouse)
    t.append(time.perf_counter())
    spark_dir = work / "spark"
    env = {**TELEMETRY_ENV, **spark_warehouse.dbt_env(work / "lake", spark_dir), **spark_warehouse.SMALL_DATA_ENV}
    invocation = dbt(["build"], env, work / "dbt-target-spark", target="spark")
    assert invocation.is_successful(), invocation.get_error()
    t.append(time.perf_counter())
    spark = spark_warehouse.session(spark_dir, small_data=True)
    t.append(time.perf_counter())
    print("lake, DuckDB build, Spark build, Spark session (s):", [round(b - a, 1) for a, b in zip(t, t[1:])])
    yield {"warehouse": warehouse, "spark": spark, "summary": build_summary(invocation), "work": work}
    spark_warehouse.stop_session(spark)


def duckdb_models(warehouse) -> list[tuple[str, str, dict[str, str]]]:
    """(schema, model, column → type) of every model of the DuckDB build."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns WHERE table_schema IN "
            f"({', '.join(repr(s) for s in SCHEMAS)}) ORDER BY table_schema, table_name, ordinal_position").fetchall()
    finally:
        con.close()
    models: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in rows:
        models.setdefault((schema, table), {})[column] = data_type
    return [(s, t, cols) for (s, t), cols in models.items()]


def spark_canon(v):
    """A value read from Spark's JSON in the form pgt.canon gives DuckDB's (NaN as null)."""
    if isinstance(v, str) and v == "NaN":
        return None
    if isinstance(v, dict):
        return {k: spark_canon(x) for k, x in v.items()}
    if isinstance(v, list):
        return [spark_canon(x) for x in v]
    return pgt.canon(v)


def spark_model(spark, schema: str, table: str, order: list[str]) -> tuple[dict[str, str], list[dict]]:
    """(column → type, rows in canonical form with their columns in DuckDB's order, sorted) of a model on Spark."""
    df = spark.table(f"{schema}.{table}")
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    rows = [spark_canon(json.loads(r[0])) for r in df.selectExpr(f"to_json(struct(*), {JSON_OPTIONS})").collect()]
    if set(order) == set(types):
        rows = [{c: r[c] for c in order} for r in rows]
    return types, sorted(rows, key=pgt.sort_key)


def differences(duck: list[dict], spark: list[dict]) -> list[str]:
    """How two sorted row lists of one model differ: row count, or the first differing value of each row."""
    if len(duck) != len(spark):
        return [f"{len(duck)} rows on DuckDB, {len(spark)} on Spark"]
    bad = []
    rounded = pgt.rounded_columns(duck)  # a last-digit difference only where the model rounds (pgt.close)
    for d, s in zip(duck, spark):
        for c in d:
            if not pgt.close(d[c], s.get(c), rounded.get(c)):
                bad.append(f"{c}: DuckDB {d[c]!r} vs Spark {s.get(c)!r}")
                break
    return bad


def test_lake_is_registered_with_every_row(both_builds):
    lake = both_builds["work"] / "lake"
    con = duckdb.connect()
    events = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet')").fetchone()[0]
    assert events > 1000
    assert both_builds["spark"].sql("SELECT count(*) FROM lake.events").collect()[0][0] == events


def test_every_model_and_test_passes_on_spark(both_builds):
    summary = both_builds["summary"]
    assert set(summary) <= {"pass", "success"}, summary  # no error, warn or skip
    assert summary.get("pass", 0) + summary.get("success", 0) >= 100


def test_spark_build_equals_the_duckdb_build(both_builds):
    """Every staging, intermediate, mart and analytics model: same columns, same rows, same values."""
    models = duckdb_models(both_builds["warehouse"])
    assert len(models) >= 25
    compared = values = reordered = retyped = 0
    pgt.TIES.clear()
    for schema, table, duck_types in models:
        spark_types, spark_rows = spark_model(both_builds["spark"], schema, table, [*duck_types])
        duck_rows = pgt.duckdb_rows(both_builds["warehouse"], schema, table)
        expected = [*duck_types]
        if table in PARTITIONED:  # allowed: the partition column last
            expected = [c for c in expected if c != PARTITIONED[table]] + [PARTITIONED[table]]
            reordered += [*duck_types] != expected
        assert [*spark_types] == expected, f"{schema}.{table}: columns differ: {[*duck_types]} vs {[*spark_types]}"
        kinds = {c: (family(duck_types[c]), family(spark_types[c])) for c in duck_types}
        assert all(a == b for a, b in kinds.values()), f"{schema}.{table}: column kinds differ: {kinds}"
        retyped += sum(duck_types[c].lower() != spark_types[c].lower() for c in duck_types)
        bad = differences(duck_rows, spark_rows)
        assert not bad, f"{schema}.{table}: {len(bad)} rows differ, e.g. {bad[:3]}"
        compared += len(duck_rows) > 0
        values += sum(len(r) for r in duck_rows)
    assert compared >= 25
    assert reordered == len(PARTITIONED)
    assert len(pgt.TIES) <= values * 0.001, f"{len(pgt.TIES)} of {values:,} values differ in their last rounded digit"
    print(f"{len(models)} models, {values:,} values equal; {reordered} tables with the partition column last, "
          f"{retyped} columns typed differently (same kind), {len(pgt.TIES)} rounding ties")


def test_the_comparison_catches_a_changed_value(both_builds):
    """The equality above can fail: one changed value, one missing row and one reordered list are each caught."""
    duck = pgt.duckdb_rows(both_builds["warehouse"], "marts", "fct_course_engagement")
    _, rows = spark_model(both_builds["spark"], "marts", "fct_course_engagement", [*duck[0]])
    assert not differences(duck, rows)
    changed = [dict(r) for r in rows]
    changed[0]["quiz_attempts"] = changed[0]["quiz_attempts"] + 1
    assert differences(duck, changed)
    assert differences(duck, rows[1:])
    with_list = next(i for i, r in enumerate(rows) if len(r["session_logs"]) > 1)
    swapped = [dict(r) for r in rows]
    swapped[with_list]["session_logs"] = swapped[with_list]["session_logs"][::-1]
    assert differences(duck, swapped)
    assert not math.isclose(1.0, 1.0 + 1e-6, rel_tol=1e-9)
