"""Page setup and the widgets every lab shares (dataset choice with honest offline fallback)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import streamlit as st

from core import data as datasets
from core.device import describe, pick_device
from explorer import report_ui
from explorer.widgets import Controls

APP_TITLE = "Generative Models Explorer"
PAGE = "gme.page"  # session state: the title of the page that ran last
PAGE_SCOPED = "gme.page_scoped"  # session state: {key: page title} of state kept only while that page is open


@dataclass
class Page:
    controls: Controls


def page(title: str, exercise: str | None = None, intro: str | None = None) -> Page:
    """Title, the exercise being answered (collapsed), and the sidebar's Controls.

    `title` may be the page file's docstring (``shell.page(__doc__)``): its first line is the title, and a
    paragraph that starts with "Exercise:" is the exercise (the second paragraph stays the home page's summary)."""
    if "\n" in title:
        paras = [" ".join(p.split()) for p in title.strip().split("\n\n") if p.strip()]
        title = paras[0]
        exercise = exercise or next((p[len("Exercise:"):].strip() for p in paras if p.startswith("Exercise:")), None)
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon="🧲", layout="wide")
    enter(title)
    st.title(title)
    if intro:
        st.markdown(intro)
    if exercise:
        with st.expander("The exercise", expanded=False):
            st.markdown(f"> {exercise}")
    st.sidebar.caption(f"Device: {describe(pick_device())}")
    pg = Page(Controls())
    report_ui.set_page(title, exercise, pg.controls)  # what "Add to report" records with a figure
    return pg


def enter(title: str) -> None:
    """The session is on page `title` now: drop what other pages kept only while open (`page_scoped`). Every page
    calls it through `page`; a page that does not (the app's home) calls it itself."""
    scoped = st.session_state.setdefault(PAGE_SCOPED, {})
    for key in [k for k, owner in scoped.items() if owner != title]:  # another page's state: drop it
        st.session_state.pop(key, None)
        del scoped[key]
    st.session_state[PAGE] = title


def page_scoped(key: str) -> None:
    """Keep st.session_state[key] only while the current page stays open: the next `page` of another page drops it
    (e.g. a model copy held for single steps), so a session holds no such state for pages it has left."""
    st.session_state.setdefault(PAGE_SCOPED, {})[key] = st.session_state.get(PAGE)


@st.cache_resource(show_spinner="Loading the dataset…")
def _load(name: str) -> datasets.ImageData:
    return datasets.load(name)


def load_dataset(name: str) -> datasets.ImageData:
    """Cached load (shared by every session: never modify the arrays it returns)."""
    return _load(name)


def clear_datasets() -> None:
    """Forget the datasets every session shares (the next `load_dataset` calls core.data.load again)."""
    _load.clear()


def dataset(ctrl: Controls, allowed: Sequence[str] = ("mnist", "fashion_mnist", "digits"),
            default: str = "mnist", label: str = "Dataset", fallback: Sequence[str] = ("digits",),
            mark_missing: bool = False, instead: str = "", help: str | None = None) -> datasets.ImageData:
    """A dataset selector. When the choice cannot be had (absent, or present but unreadable), say so and use
    the first of `fallback` that is on this machine (the bundled 8x8 digits always are); the settings caption
    then says which data was used instead. mark_missing labels the choices whose files are not here (a file
    check: only the chosen dataset is loaded); `instead` is added to the fallback's name (e.g. " padded to 32x32")."""
    labels = dict(datasets.DATASETS)
    if mark_missing:
        labels.update({n: labels[n] + " (not on this machine)" for n in allowed if not datasets.on_disk(n)})
    name = ctrl.select(label, "data", list(allowed), default, labels=labels, help=help)
    try:
        data = load_dataset(name)
    except (datasets.DatasetUnavailable, ValueError, OSError) as exc:
        use = next(n for n in (*fallback, "digits") if n == "digits" or datasets.on_disk(n))
        extra = instead if use != "digits" else ""
        st.warning(f"**{datasets.DATASETS[name]} is not available.** {exc} This page now uses "
                   f"**{datasets.DATASETS[use]}**{extra} instead.", icon=":material/cloud_off:")
        data = load_dataset(use)
        ctrl.note("data", label, f"{data.title} (instead of {datasets.DATASETS[name]})")
    if data.note:
        st.caption(f"Data: {data.title} — {data.note}")
    return data


def trained_or_stop(train: Callable[[], Any], unit: str = "epoch") -> Any:
    """`train()`'s result, or stop the page with one line: settings that cannot train (its ValueError), or a run
    stopped before its first `unit` finished (nothing to show yet)."""
    try:
        res = train()
    except ValueError as exc:
        st.error(f"These settings cannot train: {exc}", icon=":material/error:")
        st.stop()
    if res is None:
        st.info(f"Training was stopped before the first {unit} finished: press Resume above.")
        st.stop()
    return res


def require_shape(data: datasets.ImageData, shape: tuple[int, int, int], what: str) -> None:
    """Stop the page with a one-line error when the data's images are not of `shape` (what the page needs them for)."""
    if tuple(data.shape) != tuple(shape):
        st.error(f"{what} needs {shape[1]}x{shape[2]} images; {data.title} has {data.shape[1]}x{data.shape[2]}.",
                 icon=":material/error:")
        st.stop()


def what_to_look_for(text: str) -> None:
    st.info(text, icon=":material/search:")


def tabs(labels: list[str], key: str = "view"):
    """Tabs whose choice is in the URL (?view=...). Only the open one is computed: every page writes

        with tab:
            if tab.open:
                ...

    so that a hidden tab costs nothing on a rerun."""
    return st.tabs(labels, key=key, bind="query-params")
