"""Streamlit building blocks every page uses: labelled tables and charts with readable axes."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.labels import label, rename

DATE_AXIS = "%d %b %Y"  # dates always with their year
DATETIME_FORMAT = "YYYY-MM-DD HH:mm"  # table timestamps: minutes, never microseconds


def _column_config(frame: pd.DataFrame, progress: tuple[str, ...], formats: dict[str, str]) -> dict:
    config = {}
    for col in frame.columns:
        name = label(col)
        dtype = frame[col].dtype
        if col in progress:
            config[name] = st.column_config.ProgressColumn(name, min_value=0, max_value=1, format="%.2f")
        elif col in formats:
            config[name] = st.column_config.NumberColumn(name, format=formats[col])
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            values = frame[col].dropna()
            whole_days = len(values) and (values == values.dt.normalize()).all()
            config[name] = (st.column_config.DateColumn(name, format="YYYY-MM-DD") if whole_days
                            else st.column_config.DatetimeColumn(name, format=DATETIME_FORMAT))
        elif pd.api.types.is_float_dtype(dtype):
            config[name] = st.column_config.NumberColumn(name, format="%.3g")
    return config


def table(frame: pd.DataFrame, progress: tuple[str, ...] = (), formats: dict[str, str] | None = None,
          height: int | str = "auto", key: str | None = None) -> None:
    """A dataframe under human column labels; probabilities as bars, timestamps to the minute."""
    shown = frame.copy()
    for col in shown.columns:  # timestamps with a time zone arrive as objects from PostgreSQL
        if shown[col].dtype == object and len(shown[col].dropna()) and hasattr(shown[col].dropna().iloc[0], "tzinfo") \
                and not isinstance(shown[col].dropna().iloc[0], str):
            shown[col] = pd.to_datetime(shown[col], utc=True)
    st.dataframe(rename(shown), hide_index=True, width="stretch", height=height, key=key,
                 column_config=_column_config(shown, progress, formats or {}))


def nothing_to_show(why: str) -> None:
    """Say why a chart or table is absent (the dataset lacks what it needs), instead of drawing it empty."""
    st.info(why, icon=":material/info:")


def bars(frame: pd.DataFrame, category: str, value: str, color: str | None = None, sort: str = "-x",
         domain: tuple[float, float] | None = None, height: int | None = None) -> alt.Chart:
    """Horizontal bars, largest first by default, with labels never cut off."""
    scale = alt.Scale(domain=list(domain)) if domain else alt.Undefined
    enc = {
        "x": alt.X(f"{value}:Q", title=label(value), scale=scale),
        "y": alt.Y(f"{category}:N", title=None, sort=sort, axis=alt.Axis(labelLimit=0)),
        "tooltip": [alt.Tooltip(f"{c}", title=label(c)) for c in frame.columns],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=label(color), legend=alt.Legend(labelLimit=0, orient="bottom"))
    chart = alt.Chart(frame).mark_bar().encode(**enc)
    return chart.properties(height=height) if height else chart


def over_time(frame: pd.DataFrame, x: str, y: str, color: str | None = None, mark: str = "line") -> alt.Chart:
    """A line over dates, the axis showing day, month and year."""
    enc = {
        "x": alt.X(f"{x}:T", title=label(x), axis=alt.Axis(format=DATE_AXIS, labelAngle=0)),
        "y": alt.Y(f"{y}:Q", title=label(y)),
        "tooltip": [alt.Tooltip(f"{x}:T", title=label(x), format=DATE_AXIS)]
                   + [alt.Tooltip(c, title=label(c)) for c in frame.columns if c != x],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=label(color), legend=alt.Legend(orient="bottom", labelLimit=0))
    base = alt.Chart(frame)
    return (base.mark_line(point=True) if mark == "line" else base.mark_bar()).encode(**enc)


def show(chart: alt.Chart) -> None:
    st.altair_chart(chart, width="stretch")
