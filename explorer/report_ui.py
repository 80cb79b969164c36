"""The report kit in the app: the "Add to report" button the shared plot helpers draw beside every figure, and
the Report page (the collected figures in order, notes, reorder, remove, the page estimate, Export).

A browser session's collection lives on disk (core.report.store), under an id kept in the URL (``?report=<id>``):
set once, put back on every page (navigation may drop query parameters; the session remembers it), and read
again after a reload (a reload is a new Streamlit session, the URL stays), so nothing collected is lost.
"""
from __future__ import annotations

import uuid
from typing import Callable
from urllib.parse import urlencode

import streamlit as st

from core.report import export
from core.report.figure import Figure, key_of
from core.report.store import Collection, check_id

PARAM = "report"  # the URL's query parameter holding the collection's id
SESSION = "gme.report"  # session state: the collection's id
PAGE = "gme.report_page"  # session state: (page title, exercise, Controls) of the page running now
OFFERED = "gme.report_offered"  # session state: [(button key, {element type: count})] drawn in this run


def session_id() -> str:
    """The collection's id: the URL's, else the session's, else a new one; written back to the URL when absent.
    An id in the URL that is not a valid id is replaced by a new one (never used as a path)."""
    sid = st.query_params.get(PARAM)
    try:
        sid = check_id(sid) if sid else None
    except ValueError:
        sid = None
    sid = sid or st.session_state.get(SESSION) or uuid.uuid4().hex
    st.session_state[SESSION] = sid
    if st.query_params.get(PARAM) != sid:
        st.query_params[PARAM] = sid
    return sid


def collection() -> Collection:
    return Collection(session_id())


def set_page(title: str, exercise: str | None, controls) -> None:
    """Called by shell.page: the page whose figures the buttons add, its exercise and its settings."""
    st.session_state[PAGE] = (title, exercise or "", controls)
    st.session_state[OFFERED] = []
    session_id()


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def settings() -> dict:
    """The page's settings recorded so far, {label: value as text}."""
    controls = st.session_state.get(PAGE, ("", "", None))[2]
    return {label: _fmt(v) for label, v in (controls.values.values() if controls is not None else [])}


def link() -> str:
    """The URL that reopens this view: the page's address with its query parameters, without the report's id."""
    params = {k: st.query_params.get_all(k) for k in st.query_params if k != PARAM}
    query = urlencode([(k, v) for k, vs in params.items() for v in vs])
    base = st.context.url or ""
    return base + (f"?{query}" if query else "")


def offer(key: str, title: str, render: Callable[[], tuple[str, dict, float]], caption: str = "",
          elements: dict | None = None) -> None:
    """The small "Add to report" button of one figure. `render()` -> (kind, files, aspect) runs only when it is
    pressed; the record gets the page, its settings, its exercise and the link. `elements`: what the helper drew
    ({"plotly_chart": 1}, {"image": 3}, ...), listed for the page tests."""
    page, exercise, _ = st.session_state.get(PAGE, ("", "", None))
    button = f"report-{key}"
    st.session_state.setdefault(OFFERED, []).append((button, dict(elements or {})))
    fig = Figure(kind="chart", title=title or key, page=page, caption=caption or "", settings=settings(),
                 exercise=exercise, link=link())
    col = collection()
    if st.session_state.get(button):  # pressed: add before drawing, so the button already shows it is in
        try:
            fig.kind, files, fig.aspect = render()
            col.add(fig, files)
            st.toast(f"Added to the report: {fig.title}", icon=":material/note_add:")
        except Exception as exc:  # noqa: BLE001 (a figure that cannot be drawn must not break the page)
            st.toast(f"This figure could not be added: {exc}", icon=":material/error:")
    inside = key_of(fig) in col
    st.button("Add to report", key=button, type="tertiary",
              icon=":material/check_circle:" if inside else ":material/note_add:",
              help=("In the report (press again to replace it with this view). " if inside else "")
              + "Adds this figure, its caption and the page's settings to the Report page.")


# -- the Report page ----------------------------------------------------------------------------------------
def _save_notes(col: Collection, key: str) -> None:
    col.set_notes(key, st.session_state.get(f"notes-{key}", ""))


def estimate_line(figs: list[Figure], per_row: int) -> None:
    est = export.estimate(figs, per_row)
    limit = export.PAGE_LIMIT
    text = f"≈ {est.pages:.1f} of {limit} pages for {len(figs)} figure{'s' * (len(figs) != 1)} and their notes"
    (st.warning if est.over(limit) else st.success)(text + (" (over the limit)" if est.over(limit) else ""),
                                                   icon=":material/description:")
    st.progress(min(est.pages / limit, 1.0))
    st.caption("How obtained: each figure's height at this width, its caption and notes at ~11 pt, on an A4 page "
               "with 1 in margins, plus a title block. LaTeX leaves gaps around floats that this does not count, "
               "so the real report is usually a little longer (the estimate errs low).")


def report_page(ctrl) -> None:
    """The collected figures in order, each with its caption, page, link and a notes box; reorder, remove; the
    page estimate at one or two figures per row; Export (a ZIP made when the button is pressed)."""
    col = collection()
    figs = col.figures()
    per_row = ctrl.select("Figures per row", "per_row", [1, 2], 2, labels={1: "one (full width)", 2: "two"},
                          horizontal=True)
    title = st.sidebar.text_input("Report title", "Report", key="report_title")
    if not figs:
        st.info(export.EMPTY, icon=":material/info:")
        st.caption("Your collection is kept on this server under the id in the address bar "
                   f"(report={col.session}): reloading or moving between pages keeps it.")
        return
    estimate_line(figs, int(per_row))
    st.download_button("Export the report (ZIP: report.tex, report.md, report.pdf, figures)",
                       lambda: export.export(col, title, int(per_row)), file_name=export.file_name(title),
                       mime="application/zip", key="export", type="primary", icon=":material/download:",
                       on_click="ignore")
    for i, f in enumerate(figs):
        with st.container(border=True):
            left, right = st.columns([3, 2])
            png = next((n for n in f.files if n == "figure.png"), None)
            if png:
                left.image(col.read(f, png), width="stretch")
            right.markdown(f"**Figure {i + 1}. {f.title}**")
            right.caption(f.full_caption())
            right.caption(f"From **{f.page or 'unknown page'}**" + (f" — {f.exercise}" if f.exercise else ""))
            if f.link:
                right.markdown(f"[Reopen this view]({f.link})")
            right.text_area("Notes (a paragraph of your own under the figure)", f.notes, key=f"notes-{f.key}",
                            on_change=_save_notes, args=(col, f.key), height=110)
            b = right.columns(3)
            b[0].button("Up", key=f"up-{f.key}", icon=":material/arrow_upward:", on_click=col.move,
                        args=(f.key, -1), disabled=i == 0, width="stretch")
            b[1].button("Down", key=f"down-{f.key}", icon=":material/arrow_downward:", on_click=col.move,
                        args=(f.key, 1), disabled=i == len(figs) - 1, width="stretch")
            b[2].button("Remove", key=f"rm-{f.key}", icon=":material/delete:", on_click=col.remove, args=(f.key,),
                        width="stretch")
