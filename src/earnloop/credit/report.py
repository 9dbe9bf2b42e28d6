"""The HTML report of a trained bundle: held-out metrics, the champion's score distribution (inline SVG
bars), calibration by score band (predicted vs observed bad rate) and the per-bin tables (count, bad
rate, WOE, points). Plain HTML rendered with Jinja2; no scripts, no external files."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment

from earnloop.credit.population import TARGET
from earnloop.credit.training import Bundle, held_out, scores_frame
from earnloop.credit.types import SCORE_MAX, SCORE_MIN

BAND = 50

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>earnloop credit report</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:0.2rem 0.5rem;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}</style></head>
<body><h1>Credit models</h1>
<p>Simulated population: {{ b.users }} users, seed {{ b.seed }}; trained on applications
{{ b.train_window[0] }} – {{ b.train_window[1] }}, tested on {{ b.test_window[0] }} – {{ b.test_window[1] }}
({{ test_rows }} users). Trained {{ b.trained_at }}.</p>
<h2>Held-out metrics</h2>
<table><tr><th>model</th><th>AUC</th><th>KS</th><th>Gini</th></tr>
{% for name, m in b.metrics.items() %}<tr><td>{{ name }}</td><td>{{ '%.4f'|format(m.auc) }}</td>
<td>{{ '%.4f'|format(m.ks) }}</td><td>{{ '%.4f'|format(m.gini) }}</td></tr>{% endfor %}</table>
<h2>Score distribution (champion, held-out users)</h2>
<svg role="img" aria-label="users per score band" width="640" height="{{ 22 * bands|length }}">
{% for band in bands %}<text x="0" y="{{ 22 * loop.index0 + 15 }}" font-size="12">{{ band.label }}</text>
<rect x="90" y="{{ 22 * loop.index0 + 3 }}" width="{{ band.width }}" height="16" fill="#3b6ea8"></rect>
<text x="{{ 95 + band.width }}" y="{{ 22 * loop.index0 + 15 }}" font-size="12">{{ band.users }}</text>
{% endfor %}</svg>
<h2>Calibration</h2>
<table><tr><th>score band</th><th>users</th><th>predicted bad rate</th><th>observed bad rate</th></tr>
{% for band in bands if band.users %}<tr><td>{{ band.label }}</td><td>{{ band.users }}</td>
<td>{{ '%.2f %%'|format(100 * band.predicted) }}</td><td>{{ '%.2f %%'|format(100 * band.observed) }}</td></tr>
{% endfor %}</table>
<h2>Scorecard bins</h2>
{% for name, rows in bins.items() %}<h3>{{ name }}</h3>
<table><tr><th>bin</th><th>users</th><th>bad rate</th><th>WOE</th><th>points</th></tr>
{% for row in rows %}<tr><td>{{ row.Bin }}</td><td>{{ row.Count }}</td>
<td>{{ '%.2f %%'|format(100 * row['Event rate']) }}</td><td>{{ '%.3f'|format(row.WoE) }}</td>
<td>{{ '%.1f'|format(row.Points) }}</td></tr>{% endfor %}</table>
{% endfor %}</body></html>
"""


def bands(scored: pd.DataFrame) -> list[dict[str, Any]]:
    """Users, mean predicted and observed bad rate per ``BAND``-point score band."""
    edges = np.arange(SCORE_MIN, SCORE_MAX + BAND, BAND)
    index = np.clip(np.searchsorted(edges, scored["score"].to_numpy(), side="right") - 1, 0, len(edges) - 2)
    most = max(int(np.bincount(index).max()), 1)
    rows = []
    for position, low in enumerate(edges[:-1]):
        inside = scored[index == position]
        rows.append(
            {
                "label": f"{low}–{low + BAND - 1 if low + BAND < SCORE_MAX else SCORE_MAX}",
                "users": len(inside),
                "width": round(500 * len(inside) / most),
                "predicted": float(inside["p_bad"].mean()) if len(inside) else 0.0,
                "observed": float(inside[TARGET].mean()) if len(inside) else 0.0,
            }
        )
    return rows


def render(bundle: Bundle) -> str:
    """The report as one HTML page."""
    _, test_rows = held_out(bundle.users, bundle.seed)
    scored = scores_frame(bundle, test_rows)
    bins = {name: table.to_dict("records") for name, table in bundle.champion.bin_tables().items()}
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(b=bundle, test_rows=len(test_rows), bands=bands(scored), bins=bins)
