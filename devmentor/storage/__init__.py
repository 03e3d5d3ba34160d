"""Where the platform keeps things: the inbox and Parquet lake, the DuckDB warehouse, the serving PostgreSQL."""
