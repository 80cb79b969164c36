"""The report kit: the collection on disk, the export (ZIP, report.tex, report.md, report.pdf) and the buttons.

Numbers are checked against the figure's own data: the CSV in the ZIP against the source DataFrame, the SVG's
plotted points against the CSV's rows (an exact affine map from data to page coordinates), a grid's PNG against
the grid's pixels, the page estimate against a hand count; report.tex is parsed (and compiled when pdflatex is
on this machine).
"""
import io
import math
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.report import export, render
from core.report.figure import Figure, key_of
from core.report.store import Collection

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # the CJK test character
SETTINGS = {"Hidden units": "100", "Learning rate": "0.05", "Gibbs steps k": "1"}


def curves_df() -> pd.DataFrame:
    e = np.arange(12)
    return pd.DataFrame({"epoch": e, "train": 100 / (1 + e), "held-out": 110 / (1 + e) + 0.3 * e,
                         "unused": e * 0.0})


def grid_img() -> np.ndarray:
    return (np.random.default_rng(0).random((34, 50, 3)) * 255).astype(np.uint8)


def add_curves(col, title="Reconstruction error & 50% of $x_1$", settings=SETTINGS, notes=""):
    files, aspect = render.curves(curves_df(), "epoch", ["train", "held-out"], title)
    return col.add(Figure("curves", title, page="Restricted Boltzmann machine", caption="Lower is better.",
                          settings=dict(settings), exercise="Why does k matter?", notes=notes,
                          link="http://localhost:8501/boltzmann_1_learn?gibbs=10&hidden=100", aspect=aspect), files)


def add_grid(col, title="Samples"):
    files, aspect = render.grid(grid_img())
    return col.add(Figure("grid", title, page="VAE", settings={"Code units": "8"}, aspect=aspect), files)


def add_heatmap(col):
    fig = go.Figure(go.Heatmap(z=np.arange(12.0).reshape(3, 4), colorscale="Blues"))
    fig.update_layout(title="Plan", height=300)
    kind, files, aspect = render.chart(fig.to_dict())
    return col.add(Figure(kind, "Plan", page="Sinkhorn", settings={"λ": "10"}, aspect=aspect), files)


def add_table(col):
    files, aspect = render.table(pd.DataFrame({"method": ["PCA", "EBM"], "masked mse": [0.031, 0.027]}), "Scores")
    return col.add(Figure("table", "Scores", page="Inpainting", aspect=aspect), files)


@pytest.fixture
def col(tmp_path):
    return Collection("test-session-1", tmp_path)


def unzip(blob: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return {n: z.read(n) for n in z.namelist()}


# -- the collection --------------------------------------------------------------------------------------------
def test_a_figure_added_twice_is_kept_once_with_its_notes_and_place(col):
    a = add_curves(col)
    add_grid(col)
    col.set_notes(a.key, "My paragraph.")
    again = add_curves(col)  # same page, title, settings: replaces, keeps the notes and the first place
    assert again.key == a.key and [f.title for f in col.figures()] == [a.title, "Samples"]
    assert col.figures()[0].notes == "My paragraph."
    add_curves(col, settings={**SETTINGS, "Gibbs steps k": "10"})  # other settings: another figure
    assert len(col) == 3
    keys = {key_of(f) for f in col.figures()}
    assert len(keys) == 3 and keys == set(col.keys())


def test_remove_move_and_reorder(col):
    a, b, c = add_curves(col), add_grid(col), add_heatmap(col)
    col.move(c.key, -1)
    assert col.keys() == [a.key, c.key, b.key]
    col.move(a.key, -5)  # stops at the top
    assert col.keys() == [a.key, c.key, b.key]
    col.move(a.key, 5)
    assert col.keys() == [c.key, b.key, a.key]
    col.reorder([b.key, a.key, c.key])
    assert col.keys() == [b.key, a.key, c.key]
    col.remove(a.key)
    assert col.keys() == [b.key, c.key] and not (col.folder / a.key).exists()
    assert Collection("test-session-1", col.folder.parent).keys() == [b.key, c.key]  # read again from disk


@pytest.mark.parametrize("bad", ["../../etc", "..", "a/b", "", "abc", "x" * 65, "../test-session-1", "a\\b\\c\\d",
                                 "/etc/passwd", "ok-but-%2e%2e"])
def test_a_malicious_or_malformed_id_is_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        Collection(bad, tmp_path)


def test_file_names_cannot_leave_the_figure_folder(col):
    f = add_grid(col)
    for name in ("../index.json", "/etc/passwd", "..", "a/b.png"):
        with pytest.raises(ValueError):
            col.path(f, name)


def test_an_empty_collection_exports_a_clear_message_not_an_empty_zip(col):
    with pytest.raises(export.EmptyReport, match="empty.*Add to report"):
        export.export(col)


# -- the export -------------------------------------------------------------------------------------------------
def svg_points(svg: bytes, gid: str) -> np.ndarray:
    """The (x, y) page coordinates of the path drawn in the SVG group `gid`."""
    text = svg.decode()
    group = re.search(rf'<g id="{gid}">(.*?)</g>', text, re.S).group(1)
    d = re.search(r'\sd="([^"]+)"', group).group(1)
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    return np.array(nums).reshape(-1, 2)


def test_the_zip_holds_each_figure_from_its_own_data(col):
    add_curves(col)
    add_grid(col)
    add_heatmap(col)
    add_table(col)
    files = unzip(export.export(col, "My report"))
    names = set(files)
    assert {"report/report.tex", "report/report.md", "report/report.pdf"} <= names
    for n in names:
        if n.endswith(".png"):
            Image.open(io.BytesIO(files[n])).verify()
    assert files["report/report.pdf"].startswith(b"%PDF")
    # curves: the CSV is exactly the plotted columns of the source, and the SVG's points are its rows
    src = curves_df()[["epoch", "train", "held-out"]]
    csv = pd.read_csv(io.BytesIO(files["report/figures/01-reconstruction-error-50-of-x-1-data.csv"]))
    pd.testing.assert_frame_equal(csv, src, check_dtype=False)
    svg = files["report/figures/01-reconstruction-error-50-of-x-1.svg"]
    for i, y in enumerate(["train", "held-out"]):
        pts = svg_points(svg, f"series-{i}")
        assert len(pts) == len(csv)
        for j, col_name in enumerate(["epoch", y]):  # page = a * data + b, exactly, for every row
            A = np.c_[csv[col_name].to_numpy(float), np.ones(len(csv))]
            coef, *_ = np.linalg.lstsq(A, pts[:, j], rcond=None)
            assert np.abs(A @ coef - pts[:, j]).max() < 1e-3 and abs(coef[0]) > 1e-3
    # grid: the PNG is the grid's own pixels
    png = np.asarray(Image.open(io.BytesIO(files["report/figures/02-samples.png"])))
    np.testing.assert_array_equal(png, grid_img())
    # heatmap: its CSV lists every cell
    cells = pd.read_csv(io.BytesIO(files["report/figures/03-plan-data.csv"]))
    z = np.arange(12.0).reshape(3, 4)
    assert sorted(cells["z"]) == sorted(z.ravel()) and len(cells) == 12
    assert all(cells.z[k] == z[int(cells.y[k]), int(cells.x[k])] for k in range(12))
    # table: the CSV is the table
    tab = pd.read_csv(io.BytesIO(files["report/figures/04-scores-data.csv"]))
    assert list(tab["masked mse"]) == [0.031, 0.027]


def parse_tex(tex: str) -> dict:
    figures = re.findall(r"\\begin\{figure\}(.*?)\\end\{figure\}", tex, re.S)

    def captions(body):  # the argument of every \caption{...}, braces balanced
        out = []
        for m in re.finditer(r"\\caption\{", body):
            depth, i = 1, m.end()
            while depth:
                depth += {"{": 1, "}": -1}.get(body[i], 0) if body[i - 1] != "\\" else 0
                i += 1
            out.append(body[m.end():i - 1])
        return out

    return {"figures": figures, "captions": [c for f in figures for c in captions(f)],
            "labels": [lab for f in figures for lab in re.findall(r"\\label\{([^}]*)\}", f)],
            "graphics": [g for f in figures for g in re.findall(r"\\includegraphics\[[^]]*\]\{([^}]*)\}", f)],
            "refs": re.findall(r"\\ref\{([^}]*)\}", tex), "footnotes": re.findall(r"\\footnote\{", tex)}


@pytest.mark.parametrize("per_row", [1, 2])
def test_report_tex_has_one_figure_per_figure_with_settings_in_captions_and_unique_labels(col, per_row):
    add_curves(col, notes="First paragraph with 100% & #1.\n\nSecond paragraph_2.")
    add_grid(col)
    add_heatmap(col)
    files = unzip(export.export(col, "Report_1", per_row))
    tex = files["report/report.tex"].decode()
    p = parse_tex(tex)
    figs = col.figures()
    assert len(p["figures"]) == (3 if per_row == 1 else 2)  # one environment per figure, or per row of two
    assert len(p["captions"]) == len(p["labels"]) == len(p["graphics"]) == 3
    assert len(set(p["labels"])) == 3 and sorted(p["refs"]) == sorted(p["labels"])
    for f, cap, g in zip(figs, p["captions"], p["graphics"]):
        for label, value in f.settings.items():
            assert f"{export.tex_escape(label)}: {export.tex_escape(value)}" in cap
        assert f"report/{g}" in files
    assert "Hidden units: 100" in p["captions"][0] and r"50\% of \$x\_1\$" in p["captions"][0]
    assert r"$\lambda$: 10" in p["captions"][2]
    assert len(p["footnotes"]) == 1 and r"\url{http://localhost:8501/boltzmann_1_learn?gibbs=10&hidden=100}" in tex
    assert r"First paragraph with 100\% \& \#1." in tex and r"Second paragraph\_2." in tex
    assert tex.count(r"\begin{document}") == 1 and tex.rstrip().endswith(r"\end{document}")
    md = files["report/report.md"].decode()
    assert md.count("![") == 3 and "Hidden units: 100" in md and "First paragraph with 100% & #1." in md


def test_tex_escape_leaves_no_special_character_active():
    assert export.tex_escape("50% & $x_1$ #{a}~^\\") == (r"50\% \& \$x\_1\$ \#\{a\}\textasciitilde{}"
                                                          r"\textasciicircum{}\textbackslash{}")
    assert export.tex_escape("λ → ∞ · é 日") == r"$\lambda$ $\rightarrow$ $\infty$ \textperiodcentered{} é ?"


def test_report_tex_compiles_with_pdflatex(col, tmp_path):
    if not shutil.which("pdflatex"):
        pytest.skip("pdflatex is not installed here: report.tex was only parsed (apt-get install texlive-latex-base)")
    add_curves(col, title="Loss {braces} ~ ^ \\ λ ≤ 日", notes="100% & $ # _ { } ~ ^ \\ → ∞")
    add_grid(col)
    add_heatmap(col)
    add_table(col)
    for per_row in (1, 2):
        out = tmp_path / f"out{per_row}"
        with zipfile.ZipFile(io.BytesIO(export.export(col, "Report & #1", per_row))) as z:
            z.extractall(out)
        for _ in range(2):  # twice: references resolved
            r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                               cwd=out / "report", capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stdout[-2000:]
        assert "undefined" not in r.stdout.lower()
        assert (out / "report" / "report.pdf").read_bytes().startswith(b"%PDF")


def test_page_estimate_against_a_hand_count():
    """Four figures of aspect 0.5, captions of 100 characters, no notes; A4 with 1 in margins: 6.27 x 9.69 in."""
    figs = [Figure("grid", "t" * 98, aspect=0.5) for _ in range(4)]
    assert all(len(f.full_caption()) == 99 for f in figs)
    line = 12 / 72
    one = 6.27 * 0.5 + 2 * line + 0.45  # image, two caption lines (99 > 84 characters), float space
    by_hand = (1.2 + 4 * (one + line)) / 9.69  # title block; each figure's source line
    assert export.estimate(figs, 1).pages == pytest.approx(by_hand)
    two = 6.27 * 0.48 * 0.5 + math.ceil(99 / (84 * 0.48)) * line + 0.45
    assert export.estimate(figs, 2).pages == pytest.approx((1.2 + 2 * (two + 2 * line)) / 9.69)
    assert export.estimate([], 1).pages == 0
    many = [Figure("grid", f"f{i}", aspect=0.6) for i in range(12)]
    assert export.estimate(many, 1).over(4) and not export.estimate(many[:3], 2).over(4)


# -- in the app --------------------------------------------------------------------------------------------------
def open_page(name: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=600)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def report_buttons(at) -> list:
    return [b for b in at.button if (b.key or "").startswith("report-")]


@pytest.mark.shared_cache
def test_the_collection_survives_a_rerun_and_a_new_session_and_the_report_page_edits_it():
    sid = "apptest-report-0001"
    at = open_page("transport_3_sinkhorn", {"report": sid})
    assert at.query_params["report"] == sid
    first = report_buttons(at)[0]
    first.click().run()
    assert not at.exception
    col = Collection(sid)
    assert len(col) == 1 and col.figures()[0].settings  # the page's settings came with it
    at.run()  # a rerun keeps it, and pressing again does not add a copy
    report_buttons(at)[0].click().run()
    report_buttons(at)[2].click().run()
    assert len(Collection(sid)) == 2
    page = open_page("report_1_report", {"report": sid})  # a new session with the same id
    text = "\n".join(m.value for m in page.markdown)
    titles = [f.title for f in Collection(sid).figures()]
    assert all(t in text for t in titles)
    assert any(d.key == "export" for d in page.get("download_button"))
    page.button(key=f"down-{Collection(sid).keys()[0]}").click().run()
    assert [f.title for f in Collection(sid).figures()] == titles[::-1]
    page.button(key=f"rm-{Collection(sid).keys()[0]}").click().run()
    assert [f.title for f in Collection(sid).figures()] == titles[:1]


@pytest.mark.shared_cache
def test_the_report_page_of_an_empty_collection_says_so_and_offers_no_zip():
    page = open_page("report_1_report", {"report": "apptest-empty-0001"})
    assert any(export.EMPTY in i.value for i in page.info)
    assert not [d for d in page.get("download_button") if d.key == "export"]


@pytest.mark.shared_cache
def test_a_bad_id_in_the_url_is_replaced_not_used():
    at = open_page("report_1_report", {"report": "../../etc"})
    assert at.query_params["report"] != "../../etc" and re.fullmatch(r"[0-9a-f]{32}", at.query_params["report"])
