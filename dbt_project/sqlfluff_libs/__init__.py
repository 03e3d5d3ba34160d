"""Jinja context for `sqlfluff lint` (the jinja templater, no database): ``adapter.dispatch(name)`` renders a
plain call ``name('arg', ...)`` (each argument a string literal), so models that use the portable macros
(macros/portable.sql) lint as valid SQL; ``target`` and ``env_var`` render their local defaults."""


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class _Adapter:
    def dispatch(self, name, macro_namespace=None):
        return lambda *args, **kwargs: f"{name}({', '.join(_literal(a) for a in args)})"


adapter = _Adapter()


class _Target:
    type = "duckdb"
    name = "duckdb"
    schema = "main"


target = _Target()


def env_var(name, default=""):
    return default


class _Modules:
    """dbt's ``modules`` (the Python modules its Jinja context carries); macros/time_zones.sql reads pytz's list."""

    import pytz


modules = _Modules()
