"""The notebooks' one way into the project's data: settings-driven, no hard-coded paths.

    from devmentor.notebook import project
    nb = project()            # DEVMENTOR_HOME etc. from the environment, as everywhere else
    nb.mart("fct_learner_behavior")
    nb.serving("SELECT * FROM serving.mastery LIMIT 5")
    ml = nb.mlflow("notebook_experiments")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from devmentor.settings import PROJECT_ROOT, Settings, load_settings

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@dataclass
class Project:
    settings: Settings

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        """A query on the DuckDB warehouse (read-only): staging, intermediate, marts, analytics."""
        import duckdb

        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        try:
            return con.execute(query, params or []).df()
        finally:
            con.close()

    def mart(self, name: str, schema: str = "marts") -> pd.DataFrame:
        return self.sql(f'SELECT * FROM {schema}."{name}"')

    def learner_features(self) -> pd.DataFrame:
        """The frame the decision trees train on (behaviour, profile and chat features per learner)."""
        from devmentor.training.features import LEARNER_FEATURES_SQL

        return self.sql(LEARNER_FEATURES_SQL)

    def serving(self, query: str, params: tuple = ()) -> pd.DataFrame:
        """A query on the serving PostgreSQL (the embedded server unless DEVMENTOR_DATABASE_URL is set)."""
        from devmentor.storage import postgres

        with postgres.connect(self.settings.serving_db().url()) as conn:
            cur = conn.execute(query, params)
            return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])

    def mlflow(self, experiment: str = "notebooks"):
        """The mlflow module pointed at the project's tracking store and the given experiment."""
        return self.settings.mlflow_store().setup(experiment)

    def lake(self, *parts: str) -> Path:
        return self.settings.lake.joinpath(*parts)

    @staticmethod
    def shared_data(*parts: str) -> Path:
        """A path under ../shared/data (the real datasets); may not exist on a fresh clone."""
        return SHARED_DATA.joinpath(*parts)


def project() -> Project:
    """The project's data as configured; without DEVMENTOR_HOME, the repository's .devmentor (not the notebook folder's)."""
    import os

    env = dict(os.environ)
    env.setdefault("DEVMENTOR_HOME", str(PROJECT_ROOT / ".devmentor"))
    return Project(load_settings(env))
