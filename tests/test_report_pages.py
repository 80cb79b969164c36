"""Every figure on every page has its "Add to report" button, because every page draws its figures through the
shared helpers of explorer/plots.py.

Two checks: (1) every page opened at its defaults in AppTest draws exactly as many figures (plotly charts, images,
tables) as the helpers announced with their buttons (explorer.report_ui keeps, for each button drawn in the run,
what its helper drew), and as many buttons as announcements; (2) no page or UI module calls a drawing function of
Streamlit itself (st.plotly_chart, st.image, st.dataframe, ...), found by reading their source, so a figure that
the defaults do not reach (a later tab, a pressed button) cannot escape the helpers either.
"""
import ast
import re
from collections import Counter
from pathlib import Path

import pytest

from explorer.registry import discover
from apptests import open_page  # tests/apptests.py

ROOT = Path(__file__).resolve().parent.parent
PAGES = discover()
FIGURES = ("plotly_chart", "image", "dataframe", "table", "vega_lite_chart", "graphviz_chart",
           "deck_gl_json_chart")  # the AppTest element types of a figure (st.pyplot draws an image)
DRAWING = {"plotly_chart", "image", "dataframe", "table", "pyplot", "line_chart", "bar_chart", "area_chart",
           "scatter_chart", "altair_chart", "vega_lite_chart", "graphviz_chart", "pydeck_chart",
           "bokeh_chart"}  # Streamlit's calls that draw a figure (not st.map: `.map` is also pandas')
ALLOWED = {("explorer/plots.py", None),  # the helpers themselves
           ("explorer/live.py", "plotly_chart"),  # the live training chart: a placeholder redrawn while training
           ("explorer/report_ui.py", "image")}  # the Report page's preview of a collected figure


def figures_drawn(node) -> Counter:
    """How many figures of each kind a page drew (every element of the tree: tabs, columns, expanders). A
    st.data_editor is an input, not a figure: its dataframe has an editing mode (0 is read-only)."""
    counts = Counter(dict.fromkeys(FIGURES, 0))
    stack = [node]
    while stack:
        n = stack.pop()
        kind = getattr(n, "type", None)
        if kind in FIGURES and not (kind == "dataframe" and n.proto.editing_mode):
            counts[kind] += 1
        children = getattr(n, "children", None)
        if isinstance(children, dict):
            stack.extend(children.values())
    return counts


def check_buttons(at) -> Counter:
    """Every figure the page drew came with its button: returns the figures drawn."""
    offered = at.session_state["gme.report_offered"]
    buttons = [b for b in at.button if (b.key or "").startswith("report-")]
    assert sorted(b.key for b in buttons) == sorted(key for key, _ in offered)
    assert all(b.label == "Add to report" for b in buttons)
    announced = Counter(dict.fromkeys(FIGURES, 0))
    for _, elements in offered:
        announced.update(elements)
    drawn = figures_drawn(at.main)
    assert drawn == announced, f"figures drawn {dict(drawn)}, by the helpers with a button {dict(announced)}"
    return drawn


@pytest.mark.shared_cache
@pytest.mark.parametrize("page", PAGES, ids=[p.path.stem for p in PAGES])
def test_every_figure_on_the_page_has_its_button(page):
    """The page at its defaults (its first tab: a tab is computed only when open)."""
    at = open_page(page.path, {})
    assert re.fullmatch(r"[0-9a-f]{32}", at.query_params["report"])  # the collection's id was put in the URL
    drawn = check_buttons(at)
    if page.path.stem != "report_1_report":  # the Report page of an empty collection draws no figure
        assert sum(drawn.values()) > 0


@pytest.mark.shared_cache
@pytest.mark.parametrize("stem, view", [
    ("autoencoders_1_vae", "Log-likelihood"), ("autoencoders_2_denoising", "Sample quality"),
    ("autoencoders_3_stacks", "Log-likelihood"), ("autoencoders_3_stacks", "Stacked autoencoders"),
    ("boltzmann_4_deep", "Log-likelihood"), ("boltzmann_5_conditional_rbm", "p(y|x)"),
    ("boltzmann_5_conditional_rbm", "Derivations"), ("gan_3_minimax_vs_wgan", "Wasserstein estimate and quality"),
    ("gan_4_conditional", "Against the one-class DCGAN"), ("inpainting_1_pca_vs_ebm", "Compare all"),
    ("mdn_1_mixture_density_networks", "Held-out NLL"), ("mdn_1_mixture_density_networks", "Derivations"),
    ("pixelcnn_1_pixelcnn", "Receptive field"), ("transport_4_color_transfer", "Histograms and distances")])
def test_the_tables_and_single_images_of_later_tabs_have_their_buttons(stem, view):
    """The later tabs that draw tables (show_table) or single pictures (show_image), at the page's defaults (each
    opens in under ~8 s once the defaults are cached); the other tabs draw through the same helpers (the source
    check below)."""
    at = open_page(ROOT / "pages" / f"{stem}.py", {"view": view})
    drawn = check_buttons(at)
    assert drawn["dataframe"] + drawn["image"] > 0


def drawing_calls(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every call `<anything>.<drawing function>(...)` in a file (st.image, col.image, ...)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.lineno, n.func.attr) for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in DRAWING]


def test_no_page_draws_a_figure_outside_the_helpers():
    files = sorted(ROOT.glob("pages/*.py")) + sorted(ROOT.glob("explorer/*.py"))
    found = {}
    for f in files:
        rel = f.relative_to(ROOT).as_posix()
        if (rel, None) in ALLOWED:
            continue
        calls = [(line, name) for line, name in drawing_calls(f) if (rel, name) not in ALLOWED]
        if calls:
            found[rel] = calls
    assert not found, f"figures drawn without the plot helpers (so without 'Add to report'): {found}"
    for rel, name in ALLOWED - {("explorer/plots.py", None)}:  # each exception is still needed
        assert any(n == name for _, n in drawing_calls(ROOT / rel)), (rel, name)


def test_the_static_check_finds_a_direct_call(tmp_path):
    f = tmp_path / "page.py"
    f.write_text("import streamlit as st\ncol = st.columns(2)[0]\ncol.image(x)\nst.dataframe(df)\nst.write(1)\n")
    assert drawing_calls(f) == [(3, "image"), (4, "dataframe")]
