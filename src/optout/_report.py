"""The HTML report of a scrub run: one self-contained page (inline CSS and SVG, no script)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from optout._version import __version__

if TYPE_CHECKING:
    from optout._scrub import ScrubSummary

__all__ = ["render_report"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:60rem;padding:0 1rem;color:#1d2430;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.muted{color:#5b6573}.cards{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
.card{border:1px solid #d8dde4;border-radius:.5rem;padding:.6rem .9rem;min-width:7rem}
.card b{display:block;font-size:1.35rem}.ok b{color:#17803d}.no b{color:#b42318}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #e6e9ee}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
svg text{font:12px ui-monospace,Menlo,Consolas,monospace;fill:#1d2430}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _chart(counts: list[tuple[str, int]]) -> str:
    """A horizontal bar chart of the denial reasons, as inline SVG."""
    if not counts:
        return '<p class="muted">No denials.</p>'
    top = max(c for _, c in counts)
    label_w, bar_w, row_h = 260, 420, 24
    height = row_h * len(counts) + 8
    parts = [
        f'<svg role="img" width="{label_w + bar_w + 90}" '
        f'height="{height}" aria-label="Denials by reason">'
    ]
    for i, (code, count) in enumerate(counts):
        y = 4 + i * row_h
        width = max(1, round(bar_w * count / top))
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{_e(code)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{width}" height="{row_h - 8}" '
            f'fill="#b42318" rx="2"><title>{_e(code)}: {count}</title></rect>'
            f'<text x="{label_w + width + 6}" y="{y + 16}">{count:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_report(
    summary: ScrubSummary,
    *,
    source: str,
    at: dt.datetime,
    context: Mapping[str, Any],
) -> str:
    """The report page as a string (the caller writes it atomically)."""
    s = summary
    decided = s.numbers
    reasons = s.by_reason.most_common()
    settings = [(k, v) for k, v in sorted(context.items()) if v is not None]
    rows_reason = "".join(
        f"<tr><td><code>{_e(code)}</code></td><td class=n>{count:,}</td>"
        f"<td class=n>{_pct(count, s.denied)}</td></tr>"
        for code, count in reasons
    )
    rows_registry = "".join(
        f"<tr><td><code>{_e(name)}</code></td><td class=n>{count:,}</td></tr>"
        for name, count in s.by_registry.most_common()
    )
    registry_table = (
        f"<table><tr><th>registry (status)</th><th class=n>denied</th></tr>{rows_registry}</table>"
        if rows_registry
        else '<p class="muted">No denial involved a registry.</p>'
    )
    context_rows = "".join(
        f"<tr><td>{_e(k)}</td><td><code>{_e(v)}</code></td></tr>" for k, v in settings
    )
    outputs = "".join(f"<li><code>{_e(p)}</code></li>" for p in s.outputs)
    cards = [
        ("", "rows", f"{s.rows:,}"),
        ("ok", "allowed", f"{s.allowed:,} ({_pct(s.allowed, decided)})"),
        ("no", "denied", f"{s.denied:,} ({_pct(s.denied, decided)})"),
        ("", "invalid numbers", f"{s.invalid:,}"),
        ("", "duplicates", f"{s.duplicates:,}"),
        ("", "throughput", f"{s.rate:,.0f} rows/s"),
        ("", "elapsed", f"{s.seconds:.2f} s"),
    ]
    if decided != s.rows:
        cards.insert(1, ("", "numbers decided", f"{decided:,}"))
    card_html = "".join(
        f'<div class="card {cls}"><span class="muted">{_e(label)}</span><b>{_e(value)}</b></div>'
        for cls, label, value in cards
    )
    generated = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>optout scrub report: {_e(source)}</title>
<style>{_CSS}</style></head>
<body>
<h1>Scrub report</h1>
<p class="muted">Input <code>{_e(source)}</code>, decided for <code>{_e(at.isoformat())}</code>,
phone column(s) <code>{_e(", ".join(s.columns))}</code>.</p>
<div class="cards">{card_html}</div>
<h2>Denials by reason</h2>
{_chart(reasons)}
<table><tr><th>reason</th><th class=n>denied</th><th class=n>share</th></tr>{rows_reason}</table>
<h2>Denials by registry</h2>
{registry_table}
<h2>Settings</h2>
<table>{context_rows}</table>
<h2>Files written</h2>
<ul>{outputs}</ul>
<p class="muted">optout {_e(__version__)}, generated {_e(generated)}.</p>
</body></html>
"""
