"""Small self-contained HTML report of a co-registration (no dependency: the histogram is inline SVG)."""

import datetime
import html
import os
import uuid

import numpy as np

_STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:60em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}h1{font-size:1.4em}h2{font-size:1.1em}
.note{color:#555;font-size:.9em}"""

_BEFORE, _AFTER = "#d6604d", "#4393c3"


def _fmt(value, digits=3):
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return "nan" if not np.isfinite(value) else f"{value:.{digits}f}"
    if value is None:
        return ""
    return html.escape(str(value))


def _table(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def histogram_svg(edges, series, width=640, height=300):
    """Step-line histogram of several count series over the same ``edges`` (m), as an SVG string.

    ``series`` is a list of (label, counts, colour); counts are normalized to densities
    (fraction per bin) so series of different sizes compare.
    """
    edges = np.asarray(edges, dtype=float)
    left, right, top, bottom = 50, 15, 25, 40
    pw, ph = width - left - right, height - top - bottom
    dens = [np.asarray(c, dtype=float) / max(1.0, float(np.sum(c))) for _, c, _ in series]
    ymax = max([d.max() for d in dens if d.size] + [1e-9]) * 1.05
    x = lambda v: left + (v - edges[0]) / (edges[-1] - edges[0]) * pw  # noqa: E731
    y = lambda v: top + ph - v / ymax * ph  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-size="11" font-family="sans-serif">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for tick in np.linspace(edges[0], edges[-1], 9):
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top + ph}" x2="{x(tick):.1f}" y2="{top + ph + 4}" stroke="#666"/>'
                     f'<text x="{x(tick):.1f}" y="{top + ph + 16}" text-anchor="middle">{tick:.2g}</text>')
    parts.append(f'<line x1="{x(0):.1f}" y1="{top}" x2="{x(0):.1f}" y2="{top + ph}" stroke="#bbb" '
                 'stroke-dasharray="3,3"/>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">dh = DEM - reference (m)</text>')
    parts.append(f'<text x="12" y="{top + ph / 2}" transform="rotate(-90 12 {top + ph / 2})" '
                 'text-anchor="middle">fraction of stable pixels</text>')
    for k, ((label, _, colour), d) in enumerate(zip(series, dens)):
        pts = [f"{x(edges[0]):.1f},{y(0):.1f}"]
        for i, v in enumerate(d):
            pts += [f"{x(edges[i]):.1f},{y(v):.1f}", f"{x(edges[i + 1]):.1f},{y(v):.1f}"]
        pts.append(f"{x(edges[-1]):.1f},{y(0):.1f}")
        parts.append(f'<polyline points="{" ".join(pts)}" fill="{colour}" fill-opacity="0.25" '
                     f'stroke="{colour}" stroke-width="1.5"/>')
        parts.append(f'<rect x="{left + 10}" y="{top + 8 + 16 * k}" width="12" height="10" fill="{colour}"/>'
                     f'<text x="{left + 27}" y="{top + 17 + 16 * k}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def report_html(result, inputs=None, title="DEM co-registration"):
    """The report as an HTML string (``result``: :class:`~.pipeline.CoregResult` or
    :class:`~.points.PointCoregResult`: the same sections, plus the warnings and the vertical datums)."""
    d = result.to_dict()
    hist = d["histogram"]
    b, a = d["stats_before"], d["stats_after"]
    svg = histogram_svg(hist["edges_m"], [(f"before (NMAD {b['nmad']:.2f} m)", hist["before"], _BEFORE),
                                          (f"after (NMAD {a['nmad']:.2f} m)", hist["after"], _AFTER)])
    sections = [f"<h1>{html.escape(title)}</h1>",
                f'<p class="note">Serac, {datetime.datetime.now().isoformat(timespec="seconds")}; method '
                f'<b>{html.escape(d["method"])}</b>; stable terrain: {html.escape(d["stable_terrain"])}.</p>']
    if inputs:
        sections.append("<h2>Inputs</h2>" + _table(["input", "value"], list(inputs.items())))
    if d.get("warnings"):
        sections.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in d["warnings"])
                        + "</ul>")
    datum = d.get("datum")
    if datum:
        first = ["points", datum.get("points_datum")] if "points_datum" in datum else \
            ["reference DEM", datum.get("reference_datum")]
        rows = [[first[0], first[1] or "not declared"], ["DEM", datum.get("dem_datum") or "not declared"]]
        if datum.get("conversion"):
            rows.append(["DEM heights converted", datum["conversion"]])
        rows += [[f"height added by the conversion, {k} (m)", v] for k, v in datum.get("offset_m", {}).items()]
        rows += [[f"geoid undulation, {k} (m)", v] for k, v in datum.get("undulations_m", {}).items()]
        rows += [["note", n] for n in datum.get("notes", []) + datum.get("warnings", [])
                 if n not in d.get("warnings", [])]
        sections.append("<h2>Vertical datums</h2>" + _table(["item", "value"], rows))
    sections.append("<h2>Applied shift</h2>"
                    '<p class="note">Displacement applied to the DEM to align: x east, y north, z up.</p>'
                    + _table(["", "x", "y", "z"],
                             [["shift (m)", d["shift_x_m"], d["shift_y_m"], d["shift_z_m"]],
                              ["shift (px of the reference grid)", d["shift_x_px"], d["shift_y_px"], None]]))
    stat_rows = [[k, b[k], a[k]] for k in ("count", "median", "nmad", "mean", "std", "rmse", "p01", "p99")]
    sections.append("<h2>Stable-terrain dh (m)</h2>" + _table(["statistic", "before", "after"], stat_rows) + svg)
    for step in d["steps"]:
        info = step["info"]
        if step["name"] == "nuth_kaab":
            rows = [[h["iteration"], h.get("step_x_m"), h.get("step_y_m"), h["shift_x_m"], h["shift_y_m"],
                     h["nmad_before_step_m"]] for h in info["history"]]
            sections.append(f"<h2>Nuth &amp; Kääb iterations ({'converged' if info['converged'] else 'not converged'}"
                            f", {info['points']:,} points)</h2>"
                            + _table(["iteration", "step x (m)", "step y (m)", "shift x (m)", "shift y (m)",
                                      "NMAD before step (m)"], rows))
        elif step["name"] == "deramp":
            ramp = info["ramp"]
            sections.append(f"<h2>Deramp (order {info['order']})</h2>"
                            + _table(["term u^i v^j", "coefficient (m)"],
                                     [[f"u^{i} v^{j}", c] for (i, j), c in zip(ramp["powers"], ramp["coefficients"])])
                            + f'<p class="note">u, v: (x - {ramp["x0"]:.1f}) / {ramp["scale"]:.1f}, '
                              f'(y - {ramp["y0"]:.1f}) / {ramp["scale"]:.1f} in the working CRS.</p>')
    sections.append("<h2>Grids and sample</h2>"
                    + _table(["item", "value"], [["reference grid" if "reference_grid" in d else "DEM grid",
                                                  d.get("reference_grid", d.get("dem_grid"))],
                                                 ["working grid", d["work_grid"]]]
                             + [[k, v] for k, v in d["counts"].items()]))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>")


def write_report(result, path, inputs=None, title="DEM co-registration"):
    """Write the HTML report atomically (temporary file renamed on success); returns ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(report_html(result, inputs, title))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
