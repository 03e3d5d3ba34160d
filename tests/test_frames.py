"""models/frames.py: Arrow-computed sorts give exactly pandas' order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from models.frames import sort_rows


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = np.array(["b", "a", "ä", "B", "ab", "", "z9", "é"], dtype=object)
    score = rng.integers(0, 4, n).astype(float)
    score[rng.random(n) < 0.2] = np.nan  # missing values, last in every direction
    at = pd.to_datetime("2026-10-01", utc=True) + pd.to_timedelta(rng.integers(0, 5, n), unit="h")
    return pd.DataFrame({
        "user_id": pd.Series(words[rng.integers(0, len(words), n)]).astype("str"),
        "score": score,
        "at": pd.Series(at).where(rng.random(n) > 0.1),
        "flag": rng.random(n) < 0.5,
        "n": rng.integers(0, 3, n),
        "row": np.arange(n),  # ties keep this order
    }, index=rng.permutation(n) + 1000)


@pytest.mark.parametrize("by, ascending", [
    (["user_id", "score"], True),
    (["user_id", "score", "n"], [True, False, True]),
    (["flag", "at", "user_id"], [False, True, False]),
    (["score", "at"], [False, False]),
    (["n"], False),
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sort_rows_orders_like_sort_values_ties_and_missing_values_included(by, ascending, seed):
    f = frame(500, seed)
    expected = f.sort_values(by, ascending=ascending, kind="stable")
    got = sort_rows(f, by, ascending)
    pd.testing.assert_frame_equal(got, expected)  # same rows, same order, same index labels


def test_sort_rows_of_nothing_and_a_direction_per_key():
    empty = frame(0, 0)
    assert sort_rows(empty, ["user_id"]).empty
    with pytest.raises(ValueError, match="2 keys but 3 directions"):
        sort_rows(frame(5, 0), ["user_id", "score"], [True, False, True])


def test_query_frame_gives_what_df_gives_through_arrow():
    import duckdb

    from devmentor.storage.warehouse import query_frame

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        ('u1', TIMESTAMPTZ '2026-10-01 08:00:00+00', DATE '2026-10-01', CAST(0.45 AS DECIMAL(9, 6)), true, 3, 7::BIGINT, true),
        ('u2', TIMESTAMPTZ '2026-10-02 09:30:00+00', DATE '2026-10-02', CAST(0.1 AS DECIMAL(9, 6)), false, 1, 8::BIGINT, false),
        (NULL, NULL, NULL, NULL, NULL, NULL, 9::BIGINT, true)) AS v(user_id, at_, day_, confidence, ok, n, big, full_ok)""")
    con.execute("SELECT 1").fetchone()  # an earlier result left unfinished on the connection
    for sql, params in (("SELECT * FROM t ORDER BY user_id", None), ("SELECT * FROM t WHERE n > ? ORDER BY n", [1])):
        expected = con.execute(sql, params or []).df()
        got = query_frame(con, sql, params)
        pd.testing.assert_frame_equal(got, expected)
        assert got["confidence"].tolist()[:1] == expected["confidence"].tolist()[:1]  # 0.45 exactly, not 0.4499...


def test_id_codes_join_and_sort_like_the_strings_and_decode_back():
    from models.frames import IdCodes

    a = pd.DataFrame({"user_id": pd.array(["u10", "u2", None, "u2", "é"], dtype="str"), "v": [1, 2, 3, 4, 5],
                      "format": pd.array(["video", None, "text", "text", None], dtype="str")})
    b = pd.DataFrame({"user_id": pd.array(["u2", "u9", "u10"], dtype="str"), "w": [20, 90, 100],
                      "best_format": pd.array([None, "text", "video"], dtype="str")})
    codes = IdCodes([a, b], {"user_id": "user", "format": "format", "best_format": "format"})
    ea, eb = (codes.encode(f, ("format", "best_format")) for f in (a, b))
    # a join on codes pairs the same rows as on the strings
    by_text = a.merge(b, on="user_id")[["v", "w"]].reset_index(drop=True)
    by_code = ea.merge(eb, on="user_id")[["v", "w"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(by_code, by_text)
    # codes sort as the strings sort (byte order: 'u10' < 'u2' < 'é'), missing last as in sort_rows
    assert sort_rows(ea, "user_id")["v"].tolist() == sort_rows(a, "user_id")["v"].tolist()
    # two format columns' missing values never compare equal (as NaN never equals NaN)
    joined, as_text = ea.merge(eb, on="user_id"), a.merge(b, on="user_id")
    same_code = (joined["format"] == joined["best_format"]).tolist()
    assert same_code == (as_text["format"] == as_text["best_format"]).tolist() == [True, False, False]
    # decoding gives back the strings, missing values and dtype included
    pd.testing.assert_frame_equal(codes.decode(ea), a)
    pd.testing.assert_frame_equal(codes.decode(eb), b)


def test_one_chunk_joins_a_string_column_split_by_a_concat_and_changes_nothing_else():
    from models.frames import one_chunk

    parts = [pd.DataFrame({"s": pd.array([f"x{i}", None, "y"], dtype="str"), "n": [i, 2, 3]}) for i in range(4)]
    joined = pd.concat(parts, ignore_index=True)
    assert pa.array(joined["s"].array).num_chunks == 4  # what a concat leaves
    out = one_chunk(joined)
    assert getattr(pa.array(out["s"].array), "num_chunks", 1) == 1
    pd.testing.assert_frame_equal(out, joined)
    assert one_chunk(out) is out  # nothing to do: the same frame back
