"""Page discovery: every ``pages/<topic>_<n>_<name>.py`` is a page.

A page file's docstring gives its title (first line) and a one-line summary (the next paragraph),
read without importing the file. The topic is the file name's first word, the same word as the page's
`core/<topic>/` package and `explorer/<topic>_ui.py` module.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from explorer import ROOT

PAGES_DIR = ROOT / "pages"
SECTIONS = {  # topic (file prefix) -> (section title, icon)
    "boltzmann": ("Boltzmann machines", ":material/grid_on:"),
    "gan": ("GANs", ":material/compare_arrows:"),
    "transport": ("Optimal transport", ":material/local_shipping:"),
    "inpainting": ("Inpainting", ":material/healing:"),
    "mdn": ("Mixture density networks", ":material/scatter_plot:"),
    "autoencoders": ("Autoencoders and VAEs", ":material/compress:"),
    "pixelcnn": ("PixelCNN", ":material/grain:"),
    "gmmn": ("Moment matching (GMMN)", ":material/functions:"),
    "scoreboard": ("Scoreboard", ":material/leaderboard:"),
    "report": ("Report", ":material/description:"),
}
OLD_URLS = {  # URLs of pages before they were named by topic -> the page's file stem today (links keep working)
    "rbm_1_learn": "boltzmann_1_learn", "rbm_2_inpainting": "boltzmann_2_inpainting",
    "bm_3_algorithms": "boltzmann_3_algorithms", "dbm_4_deep": "boltzmann_4_deep",
    "ot_1_transport_1d": "transport_1_transport_1d", "ot_2_assignment": "transport_2_assignment",
    "ot_3_sinkhorn": "transport_3_sinkhorn", "ot_4_color_transfer": "transport_4_color_transfer",
    "inpaint_1_pca_vs_ebm": "inpainting_1_pca_vs_ebm",
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
    first = list(SECTIONS).index(parts[0]) if parts[0] in SECTIONS else len(SECTIONS)
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
