"""Jinja context for `sqlfluff lint` (the jinja templater, no database): ``adapter.dispatch(name)`` renders a
plain call ``name('arg', ...)`` (each argument a string literal), so models that use the portable macros
(macros/portable.sql) lint as valid SQL; ``target`` and ``env_var`` render their local defaults; ``api.Relation.create`` and ``adapter.get_relation`` make
a relation that renders as schema.identifier (macros/learner_incremental.sql)."""


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class _Relation(str):
    """A relation as dbt's ``api.Relation.create`` makes it: renders as schema.identifier, keeps its parts."""

    def __new__(cls, database=None, schema=None, identifier=None):
        rel = super().__new__(cls, f"{schema}.{identifier}")
        rel.database, rel.schema, rel.identifier = database, schema, identifier
        return rel


class _Api:
    class Relation:
        create = _Relation


api = _Api()


class _Adapter:
    def dispatch(self, name, macro_namespace=None):
        return lambda *args, **kwargs: f"{name}({', '.join(_literal(a) for a in args)})"

    def get_relation(self, database=None, schema=None, identifier=None):
        """Every relation exists (the models lint in their incremental form)."""
        return _Relation(database, schema, identifier)


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
