"""Charts: SVG images drawn offline by matplotlib, and block-character charts for terminals.

Images use matplotlib's object-oriented ``Figure`` API (no pyplot, no GUI
backend, nothing fetched) and come out as deterministic SVG bytes: text drawn
as paths (no fonts needed to view them), fixed ids, no date stamp. Labels from
the data are drawn as plain text (``text.parse_math`` off, so ``$`` in a product
name is not read as TeX). matplotlib is imported only when an image is drawn.

Terminal charts are Rich ``Text`` made of block characters (``▁▂▃▄▅▆▇█``):
sparklines of rates per period, and a column chart of retention by offset.
``render`` never imports ``metrics``: charts take frames and column names.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO, cast

import polars as pl
from rich.console import Console
from rich.text import Text

from retcalc.render.values import human_frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SVG_MIME = "image/svg+xml"

_RC = {
    "svg.fonttype": "path",
    "svg.hashsalt": "retcalc",
    "text.parse_math": False,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.frameon": False,
}
_BLUE, _ORANGE, _GREEN, _RED, _GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f"
_PALETTE = (_BLUE, _RED, _GREEN, _ORANGE, "#9467bd", "#8c564b")
_MAX_LABEL = 32
_CONTROL = r"[\x00-\x1F\x7F-\x9F]"


# --------------------------------------------------------------------------- images


@contextlib.contextmanager
def _drawing() -> Iterator[None]:
    import matplotlib

    with warnings.catch_warnings():
        # e.g. a glyph missing from the font for a product name: the chart is still right.
        warnings.simplefilter("ignore")
        with matplotlib.rc_context(cast(Any, _RC)):
            yield


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _svg(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _labels(values: pl.Series) -> list[str]:
    """Display text for axis labels: dates as YYYY-MM-DD, control characters replaced,
    long labels shortened."""
    text = human_frame(values.to_frame("v")).get_column("v")
    text = text.fill_null("\u2013").str.replace_all(_CONTROL, "\ufffd")
    short = (
        pl.when(text.str.len_chars() > _MAX_LABEL)
        .then(text.str.slice(0, _MAX_LABEL - 1) + "\u2026")
        .otherwise(text)
    )
    return pl.select(short.alias("v")).get_column("v").to_list()


def _floats(values: pl.Series) -> list[float]:
    """Values as floats, null (and NaN) as NaN (matplotlib leaves a gap)."""
    cleaned = values.cast(pl.Float64).fill_nan(None).fill_null(float("nan"))
    return cleaned.to_list()


def _thin_ticks(ax: Axes, labels: Sequence[str], *, most: int = 12) -> None:
    step = max(1, math.ceil(len(labels) / most))
    positions = list(range(0, len(labels), step))
    ax.set_xticks(positions, [labels[i] for i in positions], rotation=45, ha="right")


def _percent_axis(ax: Axes, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def _money_axis(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))


def bounds_of(df: pl.DataFrame, column: str) -> tuple[str, str] | None:
    """``(<column>_lo, <column>_hi)`` when ``df`` has both (``--ci``), else None."""
    lo, hi = f"{column}_lo", f"{column}_hi"
    return (lo, hi) if lo in df.columns and hi in df.columns else None


def _band(
    ax: Axes, xs: Sequence[float], lo: Sequence[float], hi: Sequence[float], colour: str, **kw: Any
) -> None:
    """The interval from ``lo`` to ``hi`` as a shaded area (a ``PolyCollection``)."""
    ax.fill_between(xs, lo, hi, color=colour, alpha=0.18, linewidth=0, **kw)


def line_chart(
    df: pl.DataFrame,
    *,
    x: str,
    series: Sequence[tuple[str, str]],
    percent: bool = True,
    title: str | None = None,
    complete: str = "complete",
) -> bytes:
    """Each ``(column, label)`` of ``series`` as a line over ``x``; points of rows whose
    ``complete`` is false are hollow; a column with ``_lo``/``_hi`` bounds in ``df``
    (``--ci``) gets its interval as a band."""
    with _drawing():
        return _svg(
            line_figure(df, x=x, series=series, percent=percent, title=title, complete=complete)
        )


def line_figure(
    df: pl.DataFrame,
    *,
    x: str,
    series: Sequence[tuple[str, str]],
    percent: bool = True,
    title: str | None = None,
    complete: str = "complete",
) -> Figure:
    """:func:`line_chart`'s figure."""
    labels = _labels(df.get_column(x))
    flags = (
        df.get_column(complete).fill_null(True).to_list()
        if complete in df.columns
        else [True] * df.height
    )
    positions = list(range(df.height))
    with _drawing():
        fig = _figure(9.0, 3.6)
        ax = fig.add_subplot()
        for (column, label), colour in zip(series, _PALETTE, strict=False):
            values = _floats(df.get_column(column))
            bounds = bounds_of(df, column)
            if bounds is not None:
                lo, hi = (_floats(df.get_column(b)) for b in bounds)
                _band(ax, positions, lo, hi, colour, gid=f"band:{column}")
            ax.plot(positions, values, color=colour, linewidth=1.6, label=label)
            for complete_points in (True, False):
                xs = [p for p, f in zip(positions, flags, strict=True) if f is complete_points]
                ys = [v for v, f in zip(values, flags, strict=True) if f is complete_points]
                if not xs:
                    continue
                if complete_points:
                    ax.scatter(xs, ys, s=14, color=colour, zorder=3)
                else:  # hollow: the period is not complete
                    ax.scatter(xs, ys, s=18, facecolors="white", edgecolors=colour, zorder=3)
        if percent:
            _percent_axis(ax)
            ax.set_ylim(bottom=0)
        _thin_ticks(ax, labels)
        ax.legend(loc="best", ncols=min(len(series), 4))
        if title:
            ax.set_title(title, loc="left", fontsize=10)
        return fig


def forecast_chart(
    df: pl.DataFrame, *, keys: Sequence[str] = (), title: str | None = None
) -> bytes:
    """``retcalc forecast``'s pooled survival per group: see :func:`forecast_figure`."""
    with _drawing():
        return _svg(forecast_figure(df, keys=keys, title=title))


def forecast_figure(
    df: pl.DataFrame, *, keys: Sequence[str] = (), title: str | None = None
) -> Figure:
    """Per ``keys`` group, the pooled rows of a forecast table (``cohort`` null): the
    observed survival_rate by offset as a solid line, and survival_rate_forecast from
    the last observed offset on as a dashed line (``gid`` ``forecast:<group>``) with its
    ``_lo``/``_hi`` interval as a band (``gid`` ``band:<group>``) when present."""
    pooled = df.filter(pl.col("cohort").is_null())
    bounds = bounds_of(pooled, "survival_rate_forecast")
    with _drawing():
        fig = _figure(9.0, 3.6)
        ax = fig.add_subplot()
        for (group, part), colour in zip(_group_names(pooled, keys), _PALETTE * 8, strict=False):
            part = part.sort("offset")
            name = group or "all"
            seen = part.filter(pl.col("observed").fill_null(False))
            last = seen.get_column("offset").max()
            ahead = part.filter(pl.col("offset") >= (last if last is not None else 0))
            xs = _floats(ahead.get_column("offset"))
            if bounds is not None:
                lo, hi = (_floats(ahead.get_column(b)) for b in bounds)
                _band(ax, xs, lo, hi, colour, gid=f"band:{name}")
            ax.plot(
                _floats(seen.get_column("offset")),
                _floats(seen.get_column("survival_rate")),
                color=colour,
                linewidth=1.6,
                marker="o",
                markersize=3,
                label=f"{group}: observed" if group else "observed",
            )
            ax.plot(
                xs,
                _floats(ahead.get_column("survival_rate_forecast")),
                color=colour,
                linewidth=1.6,
                linestyle="--",
                label=f"{group}: forecast" if group else "forecast",
                gid=f"forecast:{name}",
            )
        _percent_axis(ax)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("offset (periods since the cohort's own)")
        ax.set_ylabel("survival rate")
        ax.legend(loc="best", ncols=2, fontsize=8)
        if title:
            ax.set_title(title, loc="left", fontsize=10)
        return fig


def survival_chart(
    df: pl.DataFrame, *, keys: Sequence[str] = (), title: str | None = None
) -> bytes:
    """``retcalc survival``'s curves: see :func:`survival_figure`."""
    with _drawing():
        return _svg(survival_figure(df, keys=keys, title=title))


def survival_figure(
    df: pl.DataFrame, *, keys: Sequence[str] = (), title: str | None = None
) -> Figure:
    """Per ``keys`` group, the Kaplan-Meier table (``days``, ``survival``,
    ``survival_lo``, ``survival_hi``) as a step function from (0, 100 %) (``gid``
    ``survival:<group>``; ``drawstyle`` ``steps-post``: the survival holds until the
    next event day) with the Greenwood log-log interval as a band drawn the same way
    (``gid`` ``band:<group>``)."""
    with _drawing():
        fig = _figure(9.0, 3.6)
        ax = fig.add_subplot()
        for (group, part), colour in zip(_group_names(df, keys), _PALETTE * 8, strict=False):
            part = part.sort("days")
            name = group or "all"
            xs = [0.0, *_floats(part.get_column("days"))]
            ys = [1.0, *_floats(part.get_column("survival"))]
            if "survival_lo" in part.columns and "survival_hi" in part.columns:
                lo = [1.0, *_floats(part.get_column("survival_lo"))]
                hi = [1.0, *_floats(part.get_column("survival_hi"))]
                _band(ax, xs, lo, hi, colour, step="post", gid=f"band:{name}")
            ax.step(
                xs, ys, where="post", color=colour, linewidth=1.4,
                label=group or "survival", gid=f"survival:{name}",
            )  # fmt: skip
        _percent_axis(ax)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("days")
        ax.set_ylabel("survival")
        ax.legend(loc="best", fontsize=8)
        if title:
            ax.set_title(title, loc="left", fontsize=10)
        return fig


def bridge_chart(
    df: pl.DataFrame,
    *,
    x: str,
    gains: Sequence[tuple[str, str]],
    losses: Sequence[tuple[str, str]],
    title: str | None = None,
) -> bytes:
    """Stacked bars per ``x``: ``gains`` above zero, ``losses`` (positive amounts) below."""
    labels = _labels(df.get_column(x))
    positions = list(range(df.height))
    gain_colours = (_GREEN, "#98df8a", "#17becf")
    loss_colours = (_ORANGE, _RED, "#9467bd")
    with _drawing():
        fig = _figure(9.0, 3.8)
        ax = fig.add_subplot()
        bottom = [0.0] * df.height
        for (column, label), colour in zip(gains, gain_colours, strict=False):
            values = [0.0 if math.isnan(v) else v for v in _floats(df.get_column(column))]
            ax.bar(positions, values, bottom=bottom, color=colour, label=label, width=0.8)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        below = [0.0] * df.height
        for (column, label), colour in zip(losses, loss_colours, strict=False):
            values = [0.0 if math.isnan(v) else -v for v in _floats(df.get_column(column))]
            ax.bar(positions, values, bottom=below, color=colour, label=label, width=0.8)
            below = [b + v for b, v in zip(below, values, strict=True)]
        ax.axhline(0, color=_GREY, linewidth=0.8)
        _money_axis(ax)
        _thin_ticks(ax, labels)
        ax.legend(loc="upper left", ncols=3, fontsize=8)
        if title:
            ax.set_title(title, loc="left", fontsize=10)
        return _svg(fig)


def heatmap(
    df: pl.DataFrame,
    *,
    value: str,
    row: str = "cohort",
    column: str = "offset",
    percent: bool = True,
    title: str | None = None,
    complete: str = "complete",
) -> bytes:
    """The long frame (``row``, ``column``, ``value``) as a heatmap; the colour scale tops out
    at the largest complete value after offset 0 (offset 0 would wash out the rest); cells
    of a period not complete are drawn faint."""
    import numpy as np

    wide = df.pivot(on=column, index=row, values=value, maintain_order=True)
    flags = df.with_columns(pl.col(complete).fill_null(True)).pivot(
        on=column, index=row, values=complete, maintain_order=True
    )
    names = [c for c in wide.columns if c != row]
    matrix = wide.select(pl.col(names).cast(pl.Float64)).to_numpy()
    done = flags.select(pl.col(names).fill_null(True)).to_numpy().astype(bool)
    rows = _labels(wide.get_column(row))
    later = df.filter(pl.col(complete).fill_null(True) & (pl.col(column) >= 1)).get_column(value)
    top = later.drop_nulls().max() if later.len() else None
    vmax = float(top) if isinstance(top, int | float) and top > 0 else None
    height = min(2.0 + 0.22 * len(rows), 12.0)
    width = min(3.0 + 0.32 * len(names), 12.0)
    with _drawing():
        fig = _figure(max(width, 6.0), max(height, 3.0))
        ax = fig.add_subplot()
        ax.grid(False)
        solid = np.where(done, matrix, np.nan)
        faint = np.where(~done, matrix, np.nan)
        image = ax.imshow(solid, aspect="auto", cmap="Blues", vmin=0.0, vmax=vmax)
        ax.imshow(faint, aspect="auto", cmap="Blues", vmin=0.0, vmax=vmax, alpha=0.35)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        if percent:
            from matplotlib.ticker import PercentFormatter

            bar.formatter = PercentFormatter(xmax=1.0, decimals=0)
            bar.update_ticks()
        step = max(1, math.ceil(len(names) / 24))
        ax.set_xticks(range(0, len(names), step), [names[i] for i in range(0, len(names), step)])
        ystep = max(1, math.ceil(len(rows) / 30))
        ax.set_yticks(range(0, len(rows), ystep), [rows[i] for i in range(0, len(rows), ystep)])
        ax.set_xlabel(column)
        if len(names) <= 16 and len(rows) <= 24:
            scale = vmax or 1.0
            for (i, j), v in np.ndenumerate(matrix):
                if math.isnan(v):
                    continue
                text = f"{v:.0%}" if percent else f"{v:,.0f}"
                dark = done[i, j] and v / scale >= 0.5
                ax.text(
                    j,
                    i,
                    text + ("" if done[i, j] else "*"),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
        if title:
            ax.set_title(title, loc="left", fontsize=10)
        return _svg(fig)


def histogram(
    values: pl.Series,
    *,
    xlabel: str,
    title: str | None = None,
    clip_quantile: float = 0.99,
    bins: int = 40,
) -> bytes:
    """A histogram of ``values`` (nulls left out); values above the ``clip_quantile``
    are gathered in the last bar so a few large ones do not flatten the rest."""
    clean = values.cast(pl.Float64).fill_nan(None).drop_nulls()
    cap = clean.quantile(clip_quantile) if clean.len() else None
    shown = clean.clip(upper_bound=cap) if isinstance(cap, float) else clean
    with _drawing():
        fig = _figure(9.0, 3.4)
        ax = fig.add_subplot()
        ax.hist(shown.to_list(), bins=bins, color=_BLUE)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("customers")
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        if isinstance(cap, float) and clean.max() is not None and clean.max() > cap:  # type: ignore[operator]
            ax.annotate(
                f"last bar: {clip_quantile:.0%} quantile ({cap:,.0f}) and above",
                xy=(1.0, 1.0),
                xycoords="axes fraction",
                ha="right",
                va="top",
                fontsize=8,
                color=_GREY,
            )
        if title:
            ax.set_title(title, loc="left", fontsize=10)
        return _svg(fig)


def bar_chart(
    df: pl.DataFrame,
    *,
    label: str,
    value: str,
    percent: bool = False,
    title: str | None = None,
) -> bytes:
    """Horizontal bars of ``value`` per ``label``, first row on top."""
    labels = _labels(df.get_column(label))
    values = [0.0 if math.isnan(v) else v for v in _floats(df.get_column(value))]
    with _drawing():
        fig = _figure(9.0, min(1.2 + 0.3 * len(labels), 9.0))
        ax = fig.add_subplot()
        positions = list(range(len(labels)))
        ax.barh(positions, values, color=_BLUE)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        if percent:
            _percent_axis(ax, "x")
        else:
            from matplotlib.ticker import FuncFormatter

            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.set_xlabel(value.replace("_", " "))
        if title:
            ax.set_title(title, loc="left", fontsize=10)
        return _svg(fig)


# ------------------------------------------------------------------------- terminal

BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"  # ▁▂▃▄▅▆▇█
EIGHTHS = " \u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"  # 0/8 .. 8/8 of a cell


def _console(file: TextIO | None, console: Console | None) -> Console:
    return (
        console if console is not None else Console(file=file if file is not None else sys.stdout)
    )


def _value_text(value: float | None, percent: bool) -> str:
    if value is None or math.isnan(value):
        return "\u2013"
    return f"{value * 100:.1f}%" if percent else f"{value:,.2f}"


def _group_names(df: pl.DataFrame, keys: Sequence[str]) -> list[tuple[str, pl.DataFrame]]:
    if not keys:
        return [("", df)]
    out = []
    for key_values, part in df.group_by(list(keys), maintain_order=True):
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, key_values, strict=True))
        out.append((re.sub(_CONTROL, "\ufffd", label), part))
    return out


def sparkline(values: Sequence[float | None], dims: Sequence[bool] = ()) -> Text:
    """One block character per value, scaled from the smallest to the largest value
    (a flat series sits in the middle); a missing value is a space."""
    present = [v for v in values if v is not None and not math.isnan(v)]
    lo, hi = (min(present), max(present)) if present else (0.0, 0.0)
    text = Text()
    for i, v in enumerate(values):
        if v is None or math.isnan(v):
            char = " "
        elif hi == lo:
            char = BLOCKS[3]
        else:
            char = BLOCKS[round((v - lo) / (hi - lo) * (len(BLOCKS) - 1))]
        text.append(char, style="dim" if (i < len(dims) and dims[i]) else None)
    return text


def sparklines(
    df: pl.DataFrame,
    *,
    columns: Sequence[str],
    keys: Sequence[str] = (),
    x: str = "period_start",
    percent: bool = True,
    width: int | None = None,
) -> Text:
    """Per group and column: the label, a sparkline over the rows (periods), and the last
    complete value with the range. Incomplete periods are dim; when ``width`` is too small
    for every period, the latest ones are shown."""
    label_width = max(len(c) for c in columns) + 2
    stats_width = 46
    out = Text()
    for n, (group, part) in enumerate(_group_names(df, keys)):
        if n:
            out.append("\n")
        total = part.height
        room = total if width is None else max(8, width - label_width - stats_width - 4)
        shown = part.tail(min(total, room))
        flags = (
            shown.get_column("complete").not_().fill_null(False).to_list()
            if "complete" in shown.columns
            else [False] * shown.height
        )
        first = _labels(shown.get_column(x))[0] if shown.height else ""
        last = _labels(shown.get_column(x))[-1] if shown.height else ""
        head = f"{group}: " if group else ""
        span = f"{first} to {last}" + (
            f", the last {shown.height} of {total} periods" if shown.height < total else ""
        )
        out.append(f"{head}{span}" + (" (dim: not complete)" if any(flags) else ""), style="bold")
        complete_rows = part.filter(pl.col("complete")) if "complete" in part.columns else part
        for column in columns:
            values = _floats(shown.get_column(column))
            out.append("\n  " + column.replace("_", " ").ljust(label_width))
            out.append_text(sparkline(values, flags))
            series = complete_rows.get_column(column).cast(pl.Float64).drop_nulls()
            latest = series.tail(1).to_list()
            lo, hi = series.min(), series.max()
            out.append(
                f"  last {_value_text(latest[0] if latest else None, percent)}"
                + _last_bounds(complete_rows, column, percent)
                + f"  min {_value_text(lo if isinstance(lo, float) else None, percent)}"
                f"  max {_value_text(hi if isinstance(hi, float) else None, percent)}",
                style="dim",
            )
    return out


def _last_bounds(rows: pl.DataFrame, column: str, percent: bool) -> str:
    """`` (lo-hi)``: the interval of ``column``'s last non-null value in ``rows`` when it
    has ``--ci`` bounds, else nothing."""
    bounds = bounds_of(rows, column)
    if bounds is None:
        return ""
    known = rows.filter(pl.col(column).is_not_null()).tail(1)
    if known.height == 0:
        return ""
    lo, hi = (known.get_column(b).cast(pl.Float64).item() for b in bounds)
    return f" ({_value_text(lo, percent)}\u2013{_value_text(hi, percent)})"


def _span_text(lo: float | None, hi: float | None, percent: bool = True) -> str:
    return f"{_value_text(lo, percent)}\u2013{_value_text(hi, percent)}"


def forecast_lines(df: pl.DataFrame, *, keys: Sequence[str] = ()) -> Text:
    """Per group, the pooled rows of a forecast table (``cohort`` null) as one sparkline
    over the offsets, on one scale: observed survival_rate in full, then from the first
    offset not observed survival_rate_forecast, dim (the projection); with the last
    observed value and the last projected one with its interval (``--ci``)."""
    pooled = df.filter(pl.col("cohort").is_null())
    bounds = bounds_of(pooled, "survival_rate_forecast")
    out = Text()
    for n, (group, part) in enumerate(_group_names(pooled, keys)):
        part = part.sort("offset")
        if n:
            out.append("\n")
        seen = part.get_column("observed").fill_null(False)
        values = _floats(
            part.select(
                pl.when(pl.col("observed").fill_null(False))
                .then(pl.col("survival_rate"))
                .otherwise(pl.col("survival_rate_forecast"))
            ).to_series()
        )
        offsets = part.get_column("offset").to_list()
        projected = (~seen).to_list()
        observed = part.filter(seen & pl.col("survival_rate").is_not_null())
        ahead = part.filter(~seen)
        head = f"{group}: " if group else ""
        out.append(
            f"{head}survival by offset {offsets[0]} to {offsets[-1]} (dim: forecast)",
            style="bold",
        )
        out.append("\n  ")
        out.append_text(sparkline(values, projected))
        if observed.height:
            last = observed.tail(1)
            out.append(
                f"  observed to offset {last['offset'].item()}: "
                f"{_value_text(last['survival_rate'].item(), True)}",
                style="dim",
            )
        if ahead.height:
            last = ahead.tail(1)
            band = (
                f" ({_span_text(*(last[b].item() for b in bounds))})" if bounds is not None else ""
            )
            out.append(
                f"  forecast at offset {last['offset'].item()}: "
                f"{_value_text(last['survival_rate_forecast'].item(), True)}{band}",
                style="dim",
            )
    return out


def survival_lines(df: pl.DataFrame, *, keys: Sequence[str] = (), points: int = 40) -> Text:
    """Per group, a Kaplan-Meier table (``days``, ``survival``, ``_lo``, ``_hi``) as a
    sparkline of the survival at ``points`` evenly spaced days from the first to the
    last day of any group (the step function read at each), with the survival and its
    interval on the last day."""
    out = Text()
    if df.get_column("days").drop_nulls().is_empty():
        return out
    span = df.select(pl.col("days").min().alias("lo"), pl.col("days").max().alias("hi"))
    first, top = (int(v) for v in span.row(0))
    step = max(1, math.ceil((top - first + 1) / points))
    grid = pl.DataFrame({"days": list(range(first, top + 1, step))})
    for n, (group, part) in enumerate(_group_names(df, keys)):
        part = part.sort("days")
        if n:
            out.append("\n")
        end = part.get_column("days").max()
        read = grid.join_asof(
            part.select(pl.col("days").cast(grid.schema["days"]), "survival"), on="days"
        ).with_columns(  # past the group's last day the curve is not known
            pl.when(pl.col("days") <= end).then(pl.col("survival"))
        )
        head = f"{group}: " if group else ""
        out.append(f"{head}survival, day {first} to {top} every {step} days", style="bold")
        out.append("\n  ")
        out.append_text(sparkline(_floats(read.get_column("survival"))))
        last = part.tail(1)
        band = (
            f" ({_span_text(last['survival_lo'].item(), last['survival_hi'].item())})"
            if "survival_lo" in part.columns
            else ""
        )
        out.append(
            f"  day {last['days'].item()}: {_value_text(last['survival'].item(), True)}{band}",
            style="dim",
        )
    return out


def print_text(chart: Text, *, title: str | None = None, console: Console | None = None) -> None:
    """Print a chart made here (under a table)."""
    console = _console(None, console)
    if title:
        console.print(Text(title, style="table.title"))
    console.print(chart, soft_wrap=not console.is_terminal)


def print_sparklines(
    df: pl.DataFrame,
    *,
    columns: Sequence[str],
    keys: Sequence[str] = (),
    title: str | None = None,
    percent: bool = True,
    file: TextIO | None = None,
    console: Console | None = None,
) -> None:
    """Print :func:`sparklines` under a table; on a terminal it fits the screen width."""
    console = _console(file, console)
    width = console.width if console.is_terminal else None
    if title:
        console.print(Text(title, style="table.title"))
    console.print(
        sparklines(df, columns=columns, keys=keys, percent=percent, width=width),
        soft_wrap=not console.is_terminal,
    )


def pooled_by_offset(df: pl.DataFrame, *, keys: Sequence[str] = ()) -> pl.DataFrame:
    """Retention by offset pooled over the complete cells of every cohort:
    Σ customers / Σ cohort_size (``keys..., offset, retention, cohorts``)."""
    complete = df.filter(pl.col("complete").fill_null(False))
    return (
        complete.group_by([*keys, "offset"])
        .agg(
            (
                pl.col("customers").sum().cast(pl.Float64)
                / pl.col("cohort_size").sum().cast(pl.Float64)
            ).alias("retention"),
            pl.len().alias("cohorts"),
        )
        .sort([*keys, "offset"])
    )


def columns_chart(values: Sequence[float], *, height: int = 8, top: float = 1.0) -> list[Text]:
    """Vertical bars (two characters per value) ``height`` rows high, eighth-block precision,
    scaled from 0 to ``top``; the first line is the top row."""
    levels = [
        0 if math.isnan(v) or top <= 0 else max(0, min(height * 8, round(v / top * height * 8)))
        for v in values
    ]
    lines = []
    for row in range(height, 0, -1):
        line = Text()
        for level in levels:
            filled = level - (row - 1) * 8
            line.append(EIGHTHS[max(0, min(8, filled))] + " ", style="cyan")
        lines.append(line)
    return lines


def offset_chart(df: pl.DataFrame, *, keys: Sequence[str] = (), width: int | None = None) -> Text:
    """Retention by offset pooled over cohorts, as a column chart of offsets 1, 2, ...
    scaled to the largest of them (offset 0, the cohort's own period, is given as a number:
    drawn, it would flatten the rest)."""
    pooled = pooled_by_offset(df, keys=keys)
    out = Text()
    for n, (group, part) in enumerate(_group_names(pooled, keys)):
        if n:
            out.append("\n\n")
        if group:
            out.append(group + "\n", style="bold")
        first = part.filter(pl.col("offset") == 0).get_column("retention").to_list()
        later = part.filter(pl.col("offset") >= 1)
        offsets = later.get_column("offset").to_list()
        room = len(offsets) if width is None else max(4, (width - 9) // 2)
        values = _floats(later.get_column("retention"))[:room]
        if first:
            out.append(f"offset 0: {_value_text(first[0], True)}\n", style="dim")
        if not values:
            out.append("no complete cells after offset 0", style="dim")
            continue
        top = max((v for v in values if not math.isnan(v)), default=0.0)
        axis_top = _value_text(top, True).rjust(7) + " "
        for i, line in enumerate(columns_chart(values, top=top)):
            axis = axis_top if i == 0 else ("     0% " if i == 7 else " " * 8)
            out.append(axis, style="dim")
            out.append_text(line)
            out.append("\n")
        ticks = "".join(str(o).ljust(2) if o % 5 == 0 or o == 1 else "  " for o in offsets[:room])
        out.append(" " * 8 + ticks.rstrip() + "  (offset)", style="dim")
        if room < len(offsets):
            out.append(f"\n{' ' * 8}offsets {offsets[room]}-{offsets[-1]} not shown", style="dim")
    return out


def print_offset_chart(
    df: pl.DataFrame,
    *,
    keys: Sequence[str] = (),
    title: str | None = None,
    file: TextIO | None = None,
    console: Console | None = None,
) -> None:
    """Print :func:`offset_chart` (under the cohort triangle)."""
    console = _console(file, console)
    width = console.width if console.is_terminal else None
    if title:
        console.print(Text(title, style="table.title"))
    console.print(offset_chart(df, keys=keys, width=width), soft_wrap=not console.is_terminal)
