"""Export of a report of ten figures (target: under 5 s on a 2-core CPU).

Ten figures as a student collects them (four curves, three charts from plotly figures incl. a heatmap, two image
grids, one table), rendered once when added; the timed part is `core.report.export.export`: the ZIP with the
files, report.tex, report.md and report.pdf. The last line is `report_export_seconds_10_figures: X` (median of 3).

    python tests/benchmarks/bench_report.py
"""
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

from core.report import export, render  # noqa: E402
from core.report.figure import Figure  # noqa: E402
from core.report.store import Collection  # noqa: E402


def collect(col: Collection, rng: np.random.Generator) -> float:
    t0 = time.perf_counter()
    settings = {"Hidden units": "100", "Learning rate": "0.05", "Epochs": "20"}
    for i in range(4):
        e = np.arange(200)
        df = pd.DataFrame({"epoch": e, "train": 100 / (1 + e) + rng.random(200), "held-out": 90 / (1 + e) + 1})
        files, a = render.curves(df, "epoch", ["train", "held-out"], f"Error curve {i}")
        col.add(Figure("curves", f"Error curve {i}", "Bench", settings=settings, aspect=a), files)
    for i in range(2):
        fig = go.Figure([go.Scatter(x=rng.random(300), y=rng.random(300), mode="markers", name="points"),
                         go.Bar(x=list("abcdefghij"), y=rng.random(10), name="bars")])
        kind, files, a = render.chart(fig.to_dict())
        col.add(Figure(kind, f"Chart {i}", "Bench", settings=settings, aspect=a), files)
    kind, files, a = render.chart(go.Figure(go.Heatmap(z=rng.random((60, 60)))).to_dict())
    col.add(Figure(kind, "Heatmap", "Bench", settings=settings, aspect=a), files)
    for i in range(2):
        files, a = render.grid((rng.random((8 * 85, 8 * 85, 3)) * 255).astype(np.uint8))
        col.add(Figure("grid", f"Samples {i}", "Bench", settings=settings, aspect=a), files)
    files, a = render.table(pd.DataFrame(rng.random((12, 5)), columns=list("vwxyz")), "Scores")
    col.add(Figure("table", "Scores", "Bench", settings=settings, aspect=a), files)
    return time.perf_counter() - t0


def main():
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        col = Collection("benchmark-session", Path(d))
        added = collect(col, rng)
        assert len(col) == 10
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            blob = export.export(col, "Benchmark report", 2)
            times.append(time.perf_counter() - t0)
        with zipfile.ZipFile(__import__("io").BytesIO(blob)) as z:
            n = len(z.namelist())
    print(f"report_add_seconds_per_figure: {added / 10:.2f}")
    print(f"report_zip_files: {n}, report_zip_megabytes: {len(blob) / 2**20:.1f}")
    print(f"report_export_seconds_10_figures: {statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
