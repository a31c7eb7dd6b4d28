"""Front-end libraries that arrive through Python packages (Plotly ships its own plotly.min.js)."""

from __future__ import annotations

from pathlib import Path

import plotly
from flask import Blueprint, send_from_directory

bp = Blueprint("assets", __name__)
PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"


@bp.route("/vendor/plotly.min.js")
def plotly_js():
    return send_from_directory(PLOTLY_DIR, "plotly.min.js", max_age=86400)
