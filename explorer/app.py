"""Generative Models Explorer: the Streamlit entry point.

    streamlit run explorer/app.py

Navigation is built from the files in pages/ (see explorer.registry); the home page lists them.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` adds only explorer/

import core  # noqa: E402,F401  (before anything loads OpenMP: see core/__init__.py)

import streamlit as st  # noqa: E402

from explorer.registry import OLD_URLS, discover  # noqa: E402
from explorer import shell  # noqa: E402
from explorer.shell import APP_TITLE  # noqa: E402

PAGES = discover()
CANONICAL = {p.url_path: st.Page(str(p.path), title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES}


def home() -> None:
    st.set_page_config(page_title=APP_TITLE, page_icon="🧲", layout="wide")
    shell.enter("Home")  # what another page held while open (a trainer of single steps) is dropped here too
    st.title(APP_TITLE)
    st.markdown(
        "Interactive labs on classic generative models: restricted, deep and conditional Boltzmann machines, "
        "GANs (minimax, DCGAN, WGAN, conditional, CycleGAN), optimal transport, inpainting, mixture density "
        "networks, autoencoders and VAEs. Move a slider, watch the model train, compare settings, "
        "and export any figure (PNG) or curve (CSV) for your report. Every view's settings are in the "
        "address bar: copy the link to come back to exactly this view.")
    sections: dict[str, list] = {}
    for p in PAGES:
        sections.setdefault(p.section, []).append(p)
    cols = st.columns(2)
    for i, (section, pages) in enumerate(sections.items()):
        with cols[i % 2].container(border=True):
            st.subheader(section)
            for p in pages:
                st.page_link(CANONICAL[p.url_path], label=p.title, icon=p.icon)
                if p.summary:
                    st.caption(p.summary)


def _redirect(page: st.Page):
    """A page under an old URL: open the page it became, with the same query parameters."""
    def go() -> None:
        st.switch_page(page, query_params=st.query_params.to_dict())
    return go


def navigation() -> dict:
    nav = {"": [st.Page(home, title="Home", icon=":material/home:", default=True)]}
    for p in PAGES:
        nav.setdefault(p.section, []).append(CANONICAL[p.url_path])
    for old, stem in OLD_URLS.items():  # old links open the same page (hidden from the menu)
        if stem in CANONICAL:
            nav[""].append(st.Page(_redirect(CANONICAL[stem]), title=CANONICAL[stem].title, url_path=old,
                                   visibility="hidden"))
    return nav


st.navigation(navigation()).run()
