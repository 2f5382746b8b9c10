"""A board as one static HTML page: no external asset, sortable by any column, plots inline.

Everything is in the file: the style sheet, a small script and the plots as inline SVG, so
the page works offline and from ``file://``. Each body cell carries its full-precision
value in ``data-v``; clicking a header sorts by it (first click: better first, the
metric's direction; again: reversed; empty cells always last; ties keep the board order).
The sort is also driven by the address's fragment, ``page.html#sort=<column id>&dir=asc``
(the script applies it on load and writes it on every click), so a sorted view can be
linked, and a test can load it in a browser without scripting clicks.
"""

from __future__ import annotations

import html
import re

from asabench.benchmark.leaderboard.build import Board, Row, metric_info
from asabench.benchmark.leaderboard.render import (_definitions, _g, _params, column_id, column_label,
                                                   format_cell, provenance_lines)

__all__ = ["render_html", "inline_svg"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:100em}
table{border-collapse:collapse;font-size:.85em;margin:1em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;vertical-align:top}
td.t,th.t{text-align:left}
th{background:#f3f3f3;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
tr.oracle td{background:#fff6e0}
tr.hidden td.t:first-of-type{font-style:italic}
.mark{font-size:.8em;color:#a05a00;margin-left:.3em}
.origin-reported{color:#555}
details{margin:.5em 0}
figure{margin:1em 0}
"""

# Sorting: numbers by data-v, text by its content; empty cells last in both directions;
# ties keep the original (board) order. The fragment #sort=<key>&dir=<asc|desc> drives it.
_SCRIPT = """
(function(){
  function sortTable(table, key, dir){
    var th = table.querySelector('th[data-key="' + key + '"]');
    if(!th) return false;
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var num = th.getAttribute('data-type') === 'num';
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function(r, i){ if(!r.hasAttribute('data-i')) r.setAttribute('data-i', i); });
    var sign = dir === 'desc' ? -1 : 1;
    rows.sort(function(a, b){
      var ca = a.cells[col], cb = b.cells[col];
      var va = ca.getAttribute('data-v'), vb = cb.getAttribute('data-v');
      if(va === null) va = ca.textContent.trim();
      if(vb === null) vb = cb.textContent.trim();
      var ea = va === '', eb = vb === '';
      if(ea || eb){ if(ea && eb) return a.getAttribute('data-i') - b.getAttribute('data-i'); return ea ? 1 : -1; }
      var c = num ? (parseFloat(va) - parseFloat(vb)) : va.localeCompare(vb);
      if(c === 0) return a.getAttribute('data-i') - b.getAttribute('data-i');
      return sign * c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
    Array.prototype.forEach.call(table.querySelectorAll('th'), function(h){ h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 'desc' ? 'descending' : 'ascending');
    return true;
  }
  function fromHash(){
    var m = /(?:^|[#&])sort=([^&]*)/.exec(location.hash), d = /(?:^|[#&])dir=(asc|desc)/.exec(location.hash);
    if(!m) return;
    var key = decodeURIComponent(m[1]);
    var table = document.getElementById('board');
    var th = table.querySelector('th[data-key="' + key + '"]');
    if(th) sortTable(table, key, d ? d[1] : th.getAttribute('data-better'));
  }
  document.addEventListener('DOMContentLoaded', function(){
    Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function(table){
      Array.prototype.forEach.call(table.querySelectorAll('th[data-key]'), function(th){
        th.addEventListener('click', function(){
          var key = th.getAttribute('data-key'), cur = th.getAttribute('aria-sort');
          var dir = cur ? (cur === 'ascending' ? 'desc' : 'asc') : th.getAttribute('data-better');
          sortTable(table, key, dir);
          if(table.id === 'board' && history.replaceState)
            history.replaceState(null, '', '#sort=' + encodeURIComponent(key) + '&dir=' + dir);
        });
      });
    });
    fromHash();
    document.body.setAttribute('data-ready', '1');
  });
  window.addEventListener('hashchange', fromHash);
})();
"""


def inline_svg(svg: str) -> str:
    """matplotlib's SVG without the XML declaration and DOCTYPE (which names an external DTD)."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    return svg.strip()


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _num_attr(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def _table(board: Board, rows: list[Row], table_id: str, ranked: bool) -> list[str]:
    cols = board.shown_columns()
    heads = [("rank", "#", "num", "asc", ""), ("system", "system", "text", "asc", "t"),
             ("origin", "origin", "text", "asc", "t"), ("kind", "kind", "text", "asc", "t")]
    for g, m in cols:
        info = metric_info(m)
        heads.append((column_id(g, m), column_label(g, m), "num", "desc" if info.higher_is_better else "asc", ""))
    heads.append(("params_m", "params (M)", "num", "asc", ""))
    if board.has("gmacs_per_s"):
        heads.append(("gmacs_per_s", "MAC/s (G)", "num", "asc", ""))
    if board.has("torchinfo_gmult_adds_clip"):
        heads.append(("torchinfo_gmult_adds_clip", "Mult-Adds per 4-s clip (G, torchinfo)", "num", "asc", ""))
    heads.append(("source", "source", "text", "asc", "t"))
    out = [f'<table id="{table_id}" class="sortable">', "<thead><tr>"]
    out += [f'<th data-key="{_e(k)}" data-type="{t}" data-better="{b}"' + (f' class="{c}"' if c else "")
            + f">{_e(label)}</th>" for k, label, t, b, c in heads]
    out.append("</tr></thead><tbody>")
    for k, row in enumerate(rows, start=1):
        classes = " ".join(c for c in ("oracle" if row.oracle else "", "hidden" if row.hidden else "") if c)
        out.append(f'<tr data-system="{_e(row.system)}"' + (f' class="{classes}"' if classes else "") + ">")
        rank = str(k) if ranked else ""
        out.append(f'<td data-v="{rank}">{rank}</td>')
        marks = "".join(f'<span class="mark">{_e(m)}</span>' for m in row.marks)
        out.append(f'<td class="t">{_e(row.system)}{marks}</td>')
        out.append(f'<td class="t origin-{_e(row.origin)}">{_e(row.origin)}</td><td class="t">{_e(row.kind)}</td>')
        for g, m in cols:
            c = row.cells.get((g.key, m))
            out.append(f'<td data-v="{_num_attr(c.value if c else None)}">{_e(format_cell(m, c))}</td>')
        out.append(f'<td data-v="{_num_attr(row.params_m)}">{_e(_params(row))}</td>')
        if board.has("gmacs_per_s"):
            out.append(f'<td data-v="{_num_attr(row.gmacs_per_s)}">'
                       f'{"" if row.gmacs_per_s is None else _g(row.gmacs_per_s)}</td>')
        if board.has("torchinfo_gmult_adds_clip"):
            x = row.torchinfo_gmult_adds_clip
            out.append(f'<td data-v="{_num_attr(x)}">{"" if x is None else _g(x)}</td>')
        note = f" ({row.notes})" if row.notes else ""
        out.append(f'<td class="t">{_e(row.source + note)}</td></tr>')
    out.append("</tbody></table>")
    return out


def render_html(board: Board, svgs: list[tuple[str, str]] = ()) -> str:
    """The page; ``svgs``: ``(caption, svg text)`` of the plots to inline."""
    prov = provenance_lines(board)
    main = board.main
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<!-- " + _e(" ".join(line.strip() for line in prov)).replace("--", "- -") + " -->",
             f"<title>Leaderboard {_e(board.name)}</title>",
             f"<style>{_STYLE}</style>", f"<script>{_SCRIPT}</script>", "</head><body>",
             f"<h1>Leaderboard {_e(board.name)}</h1>", f"<p>{_e(board.title)}</p>"]
    if board.suite:
        s = board.suite
        parts.append(f"<p>Suite <code>{_e(s['name'])}</code> (sha256 <code>{_e(s['sha256'])}</code>), manifest "
                     f"<code>{_e(s['manifest'])}</code> {_e(s['manifest_version'])} (sha256 "
                     f"<code>{_e(s['manifest_sha256'])}</code>). Reference: {_e(s['reference'])}.</p>")
    parts.append(f"<p>Ranked by <code>{_e(main.key)}</code> {_e(main.main_metric)} "
                 f"({'higher' if main.higher_is_better else 'lower'} is better). Click a column header to "
                 "sort by it (again to reverse). Measured rows: value [95 % jackknife interval]; reported "
                 "rows as printed. A value sits in a column only when its definition is the column's.</p>")
    parts += ["<details open><summary>Column definitions</summary><ul>"]
    parts += [f"<li>{_e(d.replace('`', ''))}</li>" for d in _definitions(board)]  # no Markdown here
    parts += ["</ul></details>"]
    parts += _table(board, board.rows, "board", True)
    if board.stale:
        parts.append("<h2>Stale rows (not comparable)</h2><p>Scored on another suite file or manifest than the "
                     "current one; shown apart, never ranked with the rows above.</p>")
        parts += _table(board, board.stale, "stale", False)
        parts += ["<ul>"] + [f"<li>{_e(r.system)}: {_e(r.stale or '')}</li>" for r in board.stale] + ["</ul>"]
    if board.unmatched:
        parts.append("<h2>Reported values without a matching column</h2><ul>")
        for row, column, v in board.unmatched:
            d = " ".join(f"{k}={x}" for k, x in v.definition.items())
            parts.append(f"<li>{_e(row.system)}: {_e(column)} = {v.value:g} under {_e(d)} ({_e(row.source)})</li>")
        parts.append("</ul>")
    if svgs:
        parts.append("<h2>Plots</h2>")
        for caption, svg in svgs:
            parts.append(f"<figure>{inline_svg(svg)}<figcaption>{_e(caption)}</figcaption></figure>")
    parts.append("<footer><p>" + "<br>".join(_e(line.strip()) for line in prov) + "</p></footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
