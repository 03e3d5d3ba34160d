"""Quoting for SQL text that cannot take bound parameters (DDL, COPY, file paths in DuckDB table functions)."""

from __future__ import annotations


def ident(name: str) -> str:
    """A quoted identifier: any name, embedded quotes doubled."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value) -> str:
    """A quoted string literal: any text (file paths with quotes included), embedded quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"
