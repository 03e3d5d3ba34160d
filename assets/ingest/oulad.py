"""Read the Open University Learning Analytics Dataset in its original CSV layout.

Missing values (``?`` or empty) are read as missing, not errors. ``studentVle.csv`` may be
plain or gzipped and may cover any subset of presentations: presentations without a click
stream are kept (their click features are missing).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from models.early_warning import OuladTables

REQUIRED = ("courses.csv", "assessments.csv", "vle.csv", "studentInfo.csv", "studentRegistration.csv", "studentAssessment.csv")


class OuladError(ValueError):
    """The directory is not an OULAD release; the message says which file or column is wrong."""


def _csv(path: Path, types: dict[str, str] | None = None) -> str:
    opts = "header=true, nullstr=['?', ''], quote='\"'"
    if types:
        cols = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
        opts += f", types={{{cols}}}"
    return f"read_csv('{path}', {opts})"


def find_clicks(root: Path) -> Path | None:
    for name in ("studentVle.csv", "studentVle.csv.gz"):
        if (root / name).exists():
            return root / name
    return None


def read_oulad(root: Path) -> OuladTables:
    root = Path(root)
    missing = [n for n in REQUIRED if not (root / n).exists()]
    if missing:
        raise OuladError(f"{root} is not an OULAD directory: missing {', '.join(missing)}")
    con = duckdb.connect()
    try:
        def df(sql: str, name: str):
            try:
                return con.execute(sql).df()
            except duckdb.Error as exc:
                raise OuladError(f"{root / name}: {str(exc).splitlines()[0]}") from None

        courses = df(f"SELECT * FROM {_csv(root / 'courses.csv')}", "courses.csv")
        assessments = df(f"SELECT * FROM {_csv(root / 'assessments.csv', {'date': 'DOUBLE', 'weight': 'DOUBLE'})}", "assessments.csv")
        info = df(f"SELECT * FROM {_csv(root / 'studentInfo.csv', {'id_student': 'BIGINT'})}", "studentInfo.csv")
        reg = df(
            f"SELECT * FROM {_csv(root / 'studentRegistration.csv', {'id_student': 'BIGINT', 'date_registration': 'DOUBLE', 'date_unregistration': 'DOUBLE'})}",
            "studentRegistration.csv",
        )
        sa = df(
            f"SELECT * FROM {_csv(root / 'studentAssessment.csv', {'id_student': 'BIGINT', 'id_assessment': 'BIGINT', 'date_submitted': 'DOUBLE', 'score': 'DOUBLE'})}",
            "studentAssessment.csv",
        )
        assessments["id_assessment"] = assessments["id_assessment"].astype("int64")
        clicks_path = find_clicks(root)
        if clicks_path is None:
            clicks = df("SELECT NULL::VARCHAR AS code_module, NULL::VARCHAR AS code_presentation, NULL::BIGINT AS id_student, "
                        "NULL::BIGINT AS id_site, NULL::DOUBLE AS date, NULL::DOUBLE AS sum_click, NULL::VARCHAR AS activity_type LIMIT 0", "studentVle.csv")
        else:
            clicks = df(
                f"""SELECT c.code_module, c.code_presentation, c.id_student, c.id_site, c.date, c.sum_click, v.activity_type
                    FROM {_csv(clicks_path, {'id_student': 'BIGINT', 'id_site': 'BIGINT', 'date': 'DOUBLE', 'sum_click': 'DOUBLE'})} c
                    LEFT JOIN {_csv(root / 'vle.csv', {'id_site': 'BIGINT'})} v USING (id_site, code_module, code_presentation)""",
                clicks_path.name,
            )
    finally:
        con.close()
    return OuladTables(info, reg, assessments, sa, clicks, courses)


def presentations_with_clicks(t: OuladTables) -> set[tuple[str, str]]:
    return set(map(tuple, t.clicks[["code_module", "code_presentation"]].drop_duplicates().itertuples(index=False)))
