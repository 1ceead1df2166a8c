"""HTML for people who will not open a terminal: one table as a page (``--format html``),
and the pieces of a report page (tables, the shaded cohort triangle, embedded charts).

SPEC §6: every value taken from the data is escaped (``& < > " '``), the page
loads nothing from the network (inline CSS, charts as ``data:`` images) and
carries a Content-Security-Policy that allows neither scripts nor remote
resources, so even a value that slipped through could not run or fetch
anything. ``render`` never imports ``metrics``: it takes frames and labels.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Collection, Sequence
from typing import IO

import polars as pl

from retcalc.render.triangle import Triangle, _cells
from retcalc.render.values import fold_intervals, human_frame, is_numeric

NULL_MARK = "\u2013"  # en dash
INCOMPLETE_CAPTION = "* dim: period not complete"

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'"
"""Nothing but inline styles and ``data:`` images: no script runs and nothing is fetched."""

# Light to dark blue, the terminal triangle's scale.
_LIGHT = (239, 243, 255)
_DARK = (8, 81, 156)

STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1f2328; margin: 0 auto; max-width: 1200px; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 40px 0 4px; padding-top: 8px; border-top: 1px solid #d0d7de; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.facts { color: #59636e; margin: 0 0 12px; }
p.definition { color: #343a40; margin: 4px 0 12px; max-width: 80ch; }
p.note, li.note { color: #8a5a00; }
nav ul { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav a { color: #0969da; text-decoration: none; }
figure { margin: 8px 0 16px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #59636e; font-size: 12px; }
.table-wrap { overflow-x: auto; margin: 4px 0 12px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
caption { caption-side: bottom; text-align: left; color: #59636e; font-size: 12px; padding-top: 4px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
th { text-align: left; background: #f6f8fa; border-bottom: 1px solid #d0d7de; font-weight: 600; }
th.num, td.num { text-align: right; }
tr.incomplete td { color: #8c959f; }
td.incomplete { opacity: 0.55; }
span.null { color: #8c959f; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; margin: 8px 0 12px; }
.kpi { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; }
.kpi .label { color: #59636e; font-size: 12px; }
.kpi .value { font-size: 20px; font-weight: 600; }
summary { cursor: pointer; margin: 20px 0 6px; }
summary h3 { display: inline; }
footer { margin-top: 48px; color: #59636e; font-size: 12px; }
"""


def escape(text: object) -> str:
    """``text`` safe inside an element or a quoted attribute."""
    return html.escape(str(text), quote=True)


def _escaped(expr: pl.Expr) -> pl.Expr:
    """The same escaping as :func:`escape`, as a Polars expression (``&`` first)."""
    for raw, entity in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("'", "&#x27;"),
    ):
        expr = expr.str.replace_all(raw, entity, literal=True)
    return expr


def _null_cell() -> str:
    return f'<span class="null">{NULL_MARK}</span>'


def html_table(
    df: pl.DataFrame,
    *,
    percent_columns: Collection[str] = (),
    caption: str | None = None,
) -> str:
    """``df`` as an HTML table: numbers right-aligned, rates as percentages, nulls as a dim
    dash, rows with ``complete == False`` dimmed. Every cell is escaped data text."""
    if df.width == 0:
        return "<table></table>"
    df, text = fold_intervals(df, human_frame(df, percent_columns=percent_columns))
    numeric = [is_numeric(dtype) for dtype in df.dtypes]
    head = "".join(
        (
            f'<th class="num" scope="col">{escape(name)}</th>'
            if num
            else f'<th scope="col">{escape(name)}</th>'
        )
        for name, num in zip(df.columns, numeric, strict=True)
    )
    notes = [caption] if caption else []
    body = ""
    if df.height:
        cells = [
            pl.concat_str(
                [
                    pl.lit('<td class="num">' if num else "<td>"),
                    _escaped(pl.col(name)).fill_null(pl.lit(_null_cell())),
                    pl.lit("</td>"),
                ]
            )
            for name, num in zip(text.columns, numeric, strict=True)
        ]
        flags = pl.Series("_incomplete", [False] * df.height, dtype=pl.Boolean)
        if df.schema.get("complete") == pl.Boolean:
            flags = df.get_column("complete").eq(False).fill_null(False).alias("_incomplete")
            if bool(flags.any()):
                notes.append("dim rows: period not complete")
        opening = (
            pl.when(pl.col("_incomplete"))
            .then(pl.lit('<tr class="incomplete">'))
            .otherwise(pl.lit("<tr>"))
        )
        rows = (
            text.with_columns(flags)
            .select(pl.concat_str([opening, *cells, pl.lit("</tr>")]).str.join("\n").alias("rows"))
            .item()
        )
        body = f"<tbody>\n{rows}\n</tbody>"
    else:
        notes.append("no rows")
    cap = f"<caption>{escape('; '.join(notes))}</caption>" if notes else ""
    return f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead>{body}</table></div>'


def _channel(t: pl.Expr, lo: int, hi: int) -> pl.Expr:
    return (pl.lit(float(lo)) + pl.lit(float(hi - lo)) * t).round(0).cast(pl.Int64).cast(pl.String)


def html_triangle(df: pl.DataFrame, spec: Triangle, *, caption: str | None = None) -> str:
    """The cohort triangle (one row per cohort, one column per offset) from the long cohort
    frame, cells shaded by value as in the terminal; cells of a period not yet complete are
    dimmed and marked ``*``. Every value is escaped."""
    cells = _cells(df, spec)
    lead = cells.leading
    names = [str(o) for o in cells.offsets]
    head = "".join(f'<th scope="col">{escape(n.replace("_", " "))}</th>' for n in lead.columns)
    head += "".join(f'<th class="num" scope="col">{escape(n)}</th>' for n in names)
    notes = [caption] if caption else []
    if df.height == 0 or not names:
        notes.append("no cohorts")
        cap = f"<caption>{escape('; '.join(notes))}</caption>"
        return f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead></table></div>'
    if bool(df.get_column("complete").not_().fill_null(False).any()):
        notes.append(INCOMPLETE_CAPTION)
    frame = pl.concat(
        [
            lead.select(pl.all().name.prefix("l_")),
            cells.text.select(names).select(pl.all().name.prefix("t_")),
            cells.shade.select(names).select(pl.all().name.prefix("s_")),
            cells.incomplete.select(names).select(pl.all().name.prefix("i_")),
        ],
        how="horizontal",
    )
    parts: list[pl.Expr] = [pl.lit("<tr>")]
    for name in lead.columns:
        align = '<td class="num">' if name == "size" else "<td>"
        parts += [
            pl.lit(align),
            _escaped(pl.col(f"l_{name}")).fill_null(_null_cell()),
            pl.lit("</td>"),
        ]
    for name in names:
        t = pl.col(f"s_{name}")
        colour = pl.concat_str(
            [
                pl.lit("background:rgb("),
                _channel(t, _LIGHT[0], _DARK[0]),
                pl.lit(","),
                _channel(t, _LIGHT[1], _DARK[1]),
                pl.lit(","),
                _channel(t, _LIGHT[2], _DARK[2]),
                pl.lit(");color:"),
                pl.when(t >= 0.5).then(pl.lit("#fff")).otherwise(pl.lit("#000")),
            ]
        )
        flag = pl.col(f"i_{name}")
        opening = (
            pl.when(flag.is_null())
            .then(pl.lit('<td class="num">'))  # beyond the data: the empty corner
            .when(flag)
            .then(pl.lit('<td class="num incomplete">'))
            .when(t.is_null())
            .then(pl.lit('<td class="num">'))
            .otherwise(pl.concat_str([pl.lit('<td class="num" style="'), colour, pl.lit('">')]))
        )
        content = (
            pl.when(flag.is_null())
            .then(pl.lit(""))
            .otherwise(_escaped(pl.col(f"t_{name}")).fill_null(_null_cell()))
        )
        parts += [opening, content, pl.lit("</td>")]
    parts.append(pl.lit("</tr>"))
    rows = frame.select(pl.concat_str(parts).str.join("\n").alias("rows")).item()
    cap = f"<caption>{escape('; '.join(notes))}</caption>" if notes else ""
    return (
        f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>\n{rows}\n</tbody></table></div>"
    )


def kpi_cards(df: pl.DataFrame, *, percent_columns: Collection[str] = ()) -> str:
    """A one-row frame as a grid of label/value cards (the KPI summary)."""
    if df.height == 0:
        return ""
    text = human_frame(df.head(1), percent_columns=percent_columns)
    cards = [
        f'<div class="kpi"><div class="label">{escape(name.replace("_", " "))}</div>'
        f'<div class="value">{escape(value) if value is not None else _null_cell()}</div></div>'
        for name, value in zip(text.columns, text.row(0), strict=True)
    ]
    return '<div class="kpis">' + "".join(cards) + "</div>"


def image(data: bytes, *, mime: str, alt: str, caption: str | None = None) -> str:
    """An embedded image (``data:`` URI; an SVG in ``<img>`` never runs scripts)."""
    encoded = base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:{mime};base64,{encoded}" alt="{escape(alt)}">{cap}</figure>'


def page(title: str, body: Sequence[str], *, lang: str = "en") -> str:
    """A complete, self-contained HTML document: ``title`` is escaped, ``body`` is trusted
    markup built by this module (whose data values are escaped)."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def write_html(
    df: pl.DataFrame,
    sink: IO[bytes],
    *,
    percent_columns: Collection[str] = (),
    title: str | None = None,
    images: Sequence[tuple[str, bytes]] = (),
) -> None:
    """``--format html``: a standalone page holding the table (UTF-8), and under it the
    ``images`` (``(title, SVG)``: ``--plot``)."""
    from retcalc.render.charts import SVG_MIME

    heading = [f"<h1>{escape(title)}</h1>"] if title else []
    figures = [image(svg, mime=SVG_MIME, alt=alt, caption=alt) for alt, svg in images]
    document = page(
        title or "retcalc",
        [*heading, html_table(df, percent_columns=percent_columns), *figures],
    )
    sink.write(document.encode("utf-8"))
