"""Page discovery: every ``pages/<section>_<n>_<name>.py`` is a page.

A page file's docstring gives its title (first line) and a one-line summary (the next paragraph),
read without importing the file. The section is the file name's first word.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from explorer import ROOT

PAGES_DIR = ROOT / "pages"
SECTIONS = {  # file prefix -> (section title, icon)
    "rbm": ("Boltzmann machines", ":material/grid_on:"),
    "bm": ("Boltzmann machines", ":material/grid_on:"),
    "dbm": ("Boltzmann machines", ":material/layers:"),
    "gan": ("GANs", ":material/compare_arrows:"),
    "ot": ("Optimal transport", ":material/local_shipping:"),
    "inpaint": ("Inpainting", ":material/healing:"),
}


@dataclass(frozen=True)
class PageInfo:
    path: Path
    title: str
    summary: str
    section: str
    icon: str

    @property
    def url_path(self) -> str:
        return self.path.stem


def _doc(path: Path) -> tuple[str, str]:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or path.stem
    paras = [p.strip().replace("\n", " ") for p in doc.split("\n\n") if p.strip()]
    return paras[0], (paras[1] if len(paras) > 1 else "")


def _order(path: Path) -> tuple:
    """Sections in SECTIONS' order, then the page number of <section>_<n>_<name>.py."""
    parts = path.stem.split("_")
    section = SECTIONS.get(parts[0], ("",))[0]
    first = next((i for i, (title, _) in enumerate(SECTIONS.values()) if title == section), len(SECTIONS))
    number = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 99
    return first, number, path.stem


def discover(pages_dir: Path = PAGES_DIR) -> list[PageInfo]:
    out = []
    for path in sorted(pages_dir.glob("*.py"), key=_order):
        prefix = path.stem.split("_")[0]
        if prefix not in SECTIONS:
            continue
        title, summary = _doc(path)
        section, icon = SECTIONS[prefix]
        out.append(PageInfo(path, title, summary, section, icon))
    return out
