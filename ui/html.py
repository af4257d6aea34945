"""Building blocks of the static HTML reports: page, sections, sortable tables, Plotly figures.

Why the reports look like this:
- They must open offline from a folder of files: no CDN, no server. Plotly's 4.8 MB library is
  written once as `plotly.min.js` beside the reports (what `include_plotlyjs="directory"` does)
  and every report refers to it with a relative `<script src>`, so a month of daily reports costs
  one copy, not thirty.
- Tables sort by clicking a header (a few lines of inline script, no library); a numeric column
  sorts by the raw number kept in `data-sort`, not by its formatted text.
- Every value reaching the page goes through `esc`: run logs and LLM text are data, never markup.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLOTLY_JS = "plotly.min.js"

# A small fixed template: Plotly's default template is ~7 KB of JSON repeated in every figure.
_LAYOUT: dict[str, Any] = {
    "template": {"layout": {
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "xaxis": {"gridcolor": "#eceff3", "linecolor": "#c9ced6", "zeroline": False},
        "yaxis": {"gridcolor": "#eceff3", "linecolor": "#c9ced6", "zerolinecolor": "#c9ced6"},
        "colorway": ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9"],
        "hoverlabel": {"namelength": -1},
    }},
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#1f2933}
header{background:#1f2933;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:20px;font-weight:600}
header .sub{color:#c9ced6;font-size:13px;margin-top:4px}
main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e1e5ea;border-radius:6px;margin:16px 0;padding:12px 18px}
section h2{font-size:16px;margin:4px 0 10px}
section h3{font-size:14px;margin:16px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #e1e5ea;border-radius:6px;padding:8px 14px;min-width:120px;background:#fafbfc}
.card .label{font-size:11px;color:#616e7c;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:18px;font-weight:600;margin-top:2px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #eceff3;text-align:left;vertical-align:top}
th{background:#f5f6f8;font-weight:600;white-space:nowrap}
table.sortable th{cursor:pointer}
table.sortable th:after{content:" \\2195";color:#9aa5b1;font-size:11px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pos{color:#047857}.neg{color:#b91c1c}
.missing{color:#8a5a00;background:#fff8e6;border:1px solid #f5d37a;border-radius:4px;padding:6px 10px;margin:6px 0;font-size:13px}
.note{color:#616e7c;font-size:13px}
pre{background:#f5f6f8;padding:8px;border-radius:4px;white-space:pre-wrap;font-size:12px}
"""

_SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute("data-dir") !== "asc";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", asc ? "asc" : "desc");
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var p = x.getAttribute("data-sort"), q = y.getAttribute("data-sort");
        var r = (p !== null && q !== null) ? (parseFloat(p) - parseFloat(q))
                                           : x.textContent.localeCompare(y.textContent);
        return asc ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def money(value: float | None, signed: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f}%"


def number(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:,.{digits}f}"


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: what is shown, the number it sorts by, and a CSS class (pos/neg)."""

    text: str
    sort: float | None = None
    css: str = ""


def money_cell(value: float | None) -> Cell:
    if value is None:
        return Cell("–")
    return Cell(money(value), value, "num " + ("pos" if value > 0 else "neg" if value < 0 else ""))


def num_cell(value: float | None, digits: int = 2, text: str | None = None) -> Cell:
    shown = text if text is not None else number(value, digits)
    finite = value is not None and math.isfinite(value)
    return Cell(shown, value if finite else None, "num")


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell | str | int | float | None]],
          table_id: str = "", sortable: bool = True) -> str:
    """An HTML table; `str` cells are escaped text, numbers become right-aligned sortable cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            if not isinstance(cell, Cell):
                cell = (num_cell(float(cell), 2 if isinstance(cell, float) else 0)
                        if isinstance(cell, int | float) and not isinstance(cell, bool)
                        else Cell(esc(cell)))
            sort = f' data-sort="{cell.sort!r}"' if cell.sort is not None else ""
            css = f' class="{cell.css.strip()}"' if cell.css.strip() else ""
            cells.append(f"<td{css}{sort}>{cell.text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    attrs = f' id="{esc(table_id)}"' if table_id else ""
    css = ' class="sortable"' if sortable else ""
    return f"<table{attrs}{css}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Headline figures: (label, value, css class) each."""
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{esc(label)}</div>'
        f'<div class="value {css}">{esc(value)}</div></div>' for label, value, css in items
    ) + "</div>"


def section(title: str, body: str, section_id: str = "") -> str:
    attrs = f' id="{esc(section_id)}"' if section_id else ""
    return f"<section{attrs}><h2>{esc(title)}</h2>{body}</section>"


def missing(text: str) -> str:
    """Say plainly what is not there (a report renders what exists and names what does not)."""
    return f'<div class="missing">{esc(text)}</div>'


def pretty_json(value: Any) -> str:
    return f"<pre>{esc(json.dumps(value, indent=2, default=str))}</pre>"


def figure(fig: Any, div_id: str, css_class: str = "chart") -> str:
    """A Plotly figure as a div + its newPlot call; the library itself comes from `PLOTLY_JS`."""
    import plotly.io as pio

    fig.update_layout(**_LAYOUT)
    body = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
    return f'<div class="{esc(css_class)}" data-chart="{esc(div_id)}">{body}</div>'


def page(title: str, subtitle: str, body: str, with_plotly: bool = True) -> str:
    plotly = f'<script src="{PLOTLY_JS}"></script>' if with_plotly else ""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><meta name=\"viewport\" content=\"width=device-width\">"
        f"<style>{_CSS}</style>{plotly}</head><body>"
        f"<header><h1>{esc(title)}</h1><div class=\"sub\">{esc(subtitle)}</div></header>"
        f"<main>{body}</main><script>{_SORT_SCRIPT}</script></body></html>"
    )


def write_report(path: Path, document: str, with_plotly: bool = True,
                 standalone: bool = False) -> Path:
    """Write the page atomically, and `plotly.min.js` beside it unless an identical copy is there
    (the reports folders share one copy). `standalone`: one self-contained file instead, the
    library inlined (a page written anywhere else, such as the working directory, must not drop
    a 4.8 MB script beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if with_plotly and standalone:
        from plotly.offline import get_plotlyjs

        inline = "<script>" + get_plotlyjs().replace("</script", "<\\/script") + "</script>"
        document = document.replace(f'<script src="{PLOTLY_JS}"></script>', inline, 1)
    elif with_plotly:
        _write_plotly_js(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(document, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _write_plotly_js(directory: Path) -> None:
    from plotly.offline import get_plotlyjs

    target = directory / PLOTLY_JS
    source = get_plotlyjs()
    if target.is_file() and target.stat().st_size == len(source.encode("utf-8")):
        return
    tmp = target.with_name(PLOTLY_JS + ".tmp")
    tmp.write_text(source, encoding="utf-8")
    os.replace(tmp, target)
