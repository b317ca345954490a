"""Server-rendered SVG charts: pure functions of their rows, no JavaScript.

Every chart is an accessible `<figure>`: an `<svg role="img">` with a `<title>` and a
`<desc>`, followed by a data table with the same numbers (screen readers and
people who want exact values read the table). No inline `style=` (the CSP forbids
it): the look comes from classes styled in static/css/expert.css and from SVG
presentation attributes (x, y, width, height).

API (shared with the dashboards):

    bar_chart(rows, *, title, unit="", threshold=None, caption=None) -> Markup
    share_chart(rows, *, title, floor=None) -> Markup   # percentages 0..100

`rows` is a list of (label, value). Labels are escaped; values must be >= 0.
"""

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "share_chart"]

_BAR_HEIGHT = 22
_GAP = 8
_LABEL_WIDTH = 150
_PLOT_WIDTH = 360
_VALUE_WIDTH = 80
_PAD = 6


def _number(value: float) -> str:
    """12 → "12", 12.5 → "12.5" (no float noise in labels)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _short(label: str, limit: int = 10) -> str:
    """Long labels are cut in the drawing only; the bar's tooltip and the table keep
    the whole text."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _scale(
    rows: Sequence[tuple[str, float]], threshold: float | None, maximum: float | None
) -> float:
    top = max([v for _, v in rows] + ([threshold] if threshold is not None else []), default=0.0)
    if maximum is not None:
        top = max(top, maximum)
    return float(top) if top > 0 else 1.0


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    threshold: float | None = None,
    maximum: float | None = None,
    caption: str | None = None,
) -> Markup:
    """A horizontal bar chart with a data table.

    With `threshold`, a vertical line marks it and bars below it get the class
    `chart-bar below` (e.g. a youth share under the configured floor, R13).
    `maximum` fixes the scale (e.g. 100 for percentages).
    """
    rows = [(str(label), float(value)) for label, value in rows]
    if any(v < 0 for _, v in rows):
        raise ValueError("bar_chart values must be >= 0")
    scale = _scale(rows, threshold, maximum)
    width = _LABEL_WIDTH + _PLOT_WIDTH + _VALUE_WIDTH
    height = max(len(rows), 1) * (_BAR_HEIGHT + _GAP) + 2 * _PAD
    suffix = escape(unit)
    parts: list[str] = []
    if not rows:
        parts.append(
            f'<text class="chart-empty" x="{_PAD}" y="{_PAD + _BAR_HEIGHT - 6}">暂无数据</text>'
        )
    for i, (label, value) in enumerate(rows):
        y = _PAD + i * (_BAR_HEIGHT + _GAP)
        bar = round(value / scale * _PLOT_WIDTH, 1)
        below = threshold is not None and value < threshold
        cls = "chart-bar below" if below else "chart-bar"
        parts.append(
            f'<text class="chart-label" x="{_LABEL_WIDTH - _PAD}" y="{y + _BAR_HEIGHT - 6}"'
            f' text-anchor="end">{escape(_short(label))}</text>'
            f'<rect class="{cls}" x="{_LABEL_WIDTH}" y="{y}" width="{bar}"'
            f' height="{_BAR_HEIGHT}">'
            f"<title>{escape(label)}: {_number(value)}{suffix}</title></rect>"
            f'<text class="chart-value" x="{_LABEL_WIDTH + bar + _PAD}" y="{y + _BAR_HEIGHT - 6}">'
            f"{_number(value)}{suffix}</text>"
        )
    if threshold is not None:
        x = round(_LABEL_WIDTH + threshold / scale * _PLOT_WIDTH, 1)
        parts.append(
            f'<line class="chart-threshold" x1="{x}" y1="0" x2="{x}" y2="{height}">'
            f"<title>下限 {_number(threshold)}{suffix}</title></line>"
        )
    desc = ";".join(f"{label} {_number(v)}{unit}" for label, v in rows) or "暂无数据"
    if threshold is not None:
        desc += f"(下限 {_number(threshold)}{unit})"
    svg = (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(parts)}</svg>"
    )
    below_attr = ' class="below"'
    table_rows = "".join(
        f"<tr{below_attr if threshold is not None and v < threshold else ''}>"
        f'<th scope="row">{escape(label)}</th><td>{_number(v)}{suffix}</td></tr>'
        for label, v in rows
    )
    table = (
        f'<table class="chart-data"><caption>{escape(caption or title)}(数据表)</caption>'
        f'<thead><tr><th scope="col">项目</th><th scope="col">数值</th></tr></thead>'
        f"<tbody>{table_rows}</tbody></table>"
    )
    # Every interpolated label, title and unit above went through escape().
    return Markup(f'<figure class="chart-figure">{svg}{table}</figure>')  # noqa: S704


def share_chart(
    rows: Sequence[tuple[str, float | None]], *, title: str, floor: float | None = None
) -> Markup:
    """Percentages (0..100) as bars on a fixed 0–100 scale; None (no experts) shows 0."""
    return bar_chart(
        [(label, value or 0.0) for label, value in rows],
        title=title,
        unit="%",
        threshold=floor,
        maximum=100.0,
    )
