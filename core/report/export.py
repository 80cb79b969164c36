"""A collection exported as one ZIP: the figures' files, report.tex, report.md and report.pdf.

report.tex is a complete article (pdflatex, standard packages only): one ``figure`` environment per figure
with its caption (title, the page's caption, the settings) and a unique label (two figures per row: one
environment per row, two minipages with a caption and a label each); after it, a paragraph naming the page and
the exercise with the link in a footnote, then the student's notes. report.md has the same content, and
report.pdf is drawn with matplotlib's PDF backend (no LaTeX needed).

The page estimate: each figure at the chosen width on an A4 page with 1 inch margins (6.27 x 9.69 in of text),
its image height width x aspect, its caption at ~84 characters per line of 12 pt, the notes at ~95 characters
per line, `FLOAT_SEP` between floats and a title block on the first page. LaTeX's float placement leaves gaps
that this does not count, so a real report is usually a little longer (the estimate errs low).
"""
from __future__ import annotations

import io
import math
import textwrap
import zipfile
from dataclasses import dataclass

import numpy as np

from core.report.figure import Figure, slug
from core.report.store import Collection

TEXT_W, TEXT_H = 8.27 - 2, 11.69 - 2  # inches of text on an A4 page with 1 in margins
LINE = 12 / 72  # inches per line of 10-11 pt text
CAPTION_CHARS = 84  # caption characters per line at the full text width
NOTE_CHARS = 95  # body text characters per line
FLOAT_SEP = 0.45  # inches around a float (LaTeX's \textfloatsep, \abovecaptionskip and the caption's label)
TITLE_BLOCK = 1.2  # inches of title, author and date on the first page
PAGE_LIMIT = 4  # the course's limit
PER_ROW_WIDTH = {1: 1.0, 2: 0.48}  # fraction of the text width of one figure
EMPTY = "The report is empty: press “Add to report” beside any figure, then export."


class EmptyReport(ValueError):
    """Exporting a collection without a figure."""


@dataclass
class Estimate:
    pages: float  # estimated pages, figures and notes together
    inches: float  # estimated height of the figures and notes, inches of text
    per_row: int  # figures per row

    def over(self, limit: int = PAGE_LIMIT) -> bool:
        return self.pages > limit


def _caption_lines(text: str, width_frac: float) -> int:
    return max(1, math.ceil(len(text) / (CAPTION_CHARS * width_frac)))


def figure_height(fig: Figure, per_row: int) -> float:
    """Inches one figure takes at `per_row` figures per row: the image, its caption, the space around it."""
    w = PER_ROW_WIDTH[per_row]
    return TEXT_W * w * fig.aspect + _caption_lines(fig.full_caption(), w) * LINE + FLOAT_SEP


def notes_height(fig: Figure) -> float:
    """Inches of the paragraph naming the page (one line) and the notes (one line break per paragraph)."""
    paras = [p for p in fig.notes.split("\n\n") if p.strip()]
    return LINE * (1 + sum(max(1, math.ceil(len(p) / NOTE_CHARS)) for p in paras)) + (LINE if paras else 0)


def estimate(figs: list[Figure], per_row: int = 1) -> Estimate:
    """Pages the figures and notes take (see the module's docstring for what is counted)."""
    if per_row not in PER_ROW_WIDTH:
        raise ValueError(f"per_row must be 1 or 2, not {per_row}")
    inches = TITLE_BLOCK if figs else 0.0
    for i in range(0, len(figs), per_row):
        row = figs[i:i + per_row]
        inches += max(figure_height(f, per_row) for f in row) + sum(notes_height(f) for f in row)
    return Estimate(inches / TEXT_H, inches, per_row)


# -- LaTeX ---------------------------------------------------------------------------------------------------
TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
               "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
               ">": r"\textgreater{}", "|": r"\textbar{}"}
TEX_UNICODE = {"·": r"\textperiodcentered{}", "→": r"$\rightarrow$", "←": r"$\leftarrow$", "↔": r"$\leftrightarrow$",
               "−": "-", "–": "--", "—": "---", "…": r"\dots{}", "≤": r"$\leq$", "≥": r"$\geq$", "≈": r"$\approx$",
               "×": r"$\times$", "±": r"$\pm$", "∞": r"$\infty$", "√": r"$\surd$", "′": "'", "″": "''",
               "‘": "`", "’": "'", "“": "``", "”": "''", "°": r"$^\circ$", "∈": r"$\in$", "∑": r"$\sum$",
               "∫": r"$\int$", "≠": r"$\neq$", "⁻": r"$^{-}$", "¹": r"$^1$", "²": r"$^2$", "³": r"$^3$",
               "½": r"$\frac12$", "✓": "yes", "⬇": "", "ⁿ": r"$^n$", "₀": r"$_0$", "₁": r"$_1$", "₂": r"$_2$",
               "ᵀ": r"$^\top$", "∼": r"$\sim$", "∝": r"$\propto$", "∂": r"$\partial$", "∇": r"$\nabla$",
               "ℓ": r"$\ell$", "‖": r"$\|$", "⊙": r"$\odot$", "∘": r"$\circ$", "★": r"$\star$", "*": "*"}
GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
         "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
         "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
         "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma", "Φ": "Phi",
         "Ψ": "Psi", "Ω": "Omega"}


def tex_escape(text: str) -> str:
    """Plain text as LaTeX: the ten special characters escaped, common symbols and Greek letters as commands,
    Latin-1 letters kept (T1 + utf8 input), anything else replaced by '?' (pdflatex would stop on it)."""
    out = []
    for ch in str(text):
        if ch in TEX_SPECIAL:
            out.append(TEX_SPECIAL[ch])
        elif ch in TEX_UNICODE:
            out.append(TEX_UNICODE[ch])
        elif ch in GREEK:
            out.append(f"$\\{GREEK[ch]}$")
        elif ch == "\n":
            out.append(" ")
        elif ord(ch) < 128 or 160 <= ord(ch) < 256:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


def tex_url(url: str) -> str:
    """A link for \\url{...} inside a footnote: '%' and '#' escaped, characters that would break the argument
    (braces, backslash, ~, ^, spaces, non-ASCII) percent-encoded as \\%XX."""
    def one(c):
        if c == "%":
            return r"\%"
        if c == "#":
            return r"\#"
        if c.isascii() and c not in "{}\\^~ " and c.isprintable():
            return c
        return "".join(f"\\%{b:02X}" for b in c.encode())
    return "".join(one(c) for c in url)


@dataclass
class Item:
    """A figure as exported: its record, the number, the label and the file names inside the ZIP."""

    fig: Figure
    number: int
    label: str
    image: str  # the file report.tex includes (a vector PDF when there is one)
    png: str  # the PNG (report.md and report.pdf use it)
    files: dict  # name in the ZIP -> name in the figure's folder


def items(figs: list[Figure]) -> list[Item]:
    out, seen = [], set()
    for n, f in enumerate(figs, 1):
        base = f"{n:02d}-{slug(f.title, 32)}"
        label = f"fig:{base}"
        assert label not in seen
        seen.add(label)
        files = {f"figures/{base}{name[name.index('.'):] if name.startswith('figure.') else '-' + name}": name
                 for name in f.files}
        png = next(k for k, v in files.items() if v == "figure.png")
        vec = next((k for k, v in files.items() if v == "figure.pdf" and f.kind in ("curves", "chart", "heatmap")),
                   png)
        out.append(Item(f, n, label, vec, png, files))
    return out


def _tex_figure(it: Item, width: str) -> str:
    return (f"\\includegraphics[width={width}]{{{it.image}}}\n"
            f"\\caption{{{tex_escape(it.fig.full_caption())}}}\n\\label{{{it.label}}}\n")


def _tex_text(it: Item) -> str:
    f = it.fig
    where = f"Figure~\\ref{{{it.label}}} comes from the page \\emph{{{tex_escape(f.page or 'unknown')}}}"
    if f.exercise:
        where += f", which answers: \\emph{{{tex_escape(f.exercise)}}}"
    where += "" if where.endswith(("?}", "!}", ".}")) else "."
    if f.link:
        where += f"\\footnote{{Reopen this view: \\url{{{tex_url(f.link)}}}}}"
    paras = [tex_escape(p.strip()) for p in f.notes.split("\n\n") if p.strip()]
    return "\n\n".join([where] + paras) + "\n"


def latex(figs: list[Figure], title: str = "Report", per_row: int = 1) -> str:
    """report.tex: a compilable article (pdflatex; graphicx, geometry, hyperref, url)."""
    its = items(figs)
    body = []
    for i in range(0, len(its), per_row):
        row = its[i:i + per_row]
        if len(row) == 1 and per_row == 1:
            body.append("\\begin{figure}[htbp]\n\\centering\n" + _tex_figure(row[0], "\\linewidth") + "\\end{figure}\n")
        else:
            mini = "\\hfill\n".join("\\begin{minipage}[t]{0.48\\linewidth}\n\\centering\n"
                                    + _tex_figure(it, "\\linewidth") + "\\end{minipage}\n" for it in row)
            body.append("\\begin{figure}[htbp]\n\\centering\n" + mini + "\\end{figure}\n")
        body += [_tex_text(it) for it in row]
    return ("\\documentclass[11pt,a4paper]{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
            "\\IfFileExists{lmodern.sty}{\\usepackage{lmodern}}{}\n\\usepackage[margin=1in]{geometry}\n"
            "\\usepackage{graphicx}\n\\usepackage{url}\n"
            "\\usepackage[hidelinks]{hyperref}\n"
            f"\\title{{{tex_escape(title)}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n\n"
            + "\n".join(body) + "\n\\end{document}\n")


def markdown(figs: list[Figure], title: str = "Report") -> str:
    """report.md: the same content (PNG images, the link as a link)."""
    out = [f"# {title}\n"]
    for it in items(figs):
        f = it.fig
        out.append(f"## Figure {it.number}: {f.title}\n")
        out.append(f"![{f.title}]({it.png})\n")
        out.append(f"*Figure {it.number}.* {f.full_caption()}\n")
        src = f"From the page **{f.page or 'unknown'}**"
        if f.exercise:
            src += f", which answers: *{f.exercise}*"
        out.append(src + (f" ([reopen this view]({f.link}))" if f.link else "") + "\n")
        out += [p.strip() + "\n" for p in f.notes.split("\n\n") if p.strip()]
    return "\n".join(out)


def pdf(col: Collection, figs: list[Figure], title: str = "Report") -> bytes:
    """report.pdf drawn with matplotlib (A4, one figure per row, the PNG at the text width, caption and notes
    below it, a new page when the next one does not fit)."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure as MplFigure
    from PIL import Image

    W, H, M = 8.27, 11.69, 1.0
    buf = io.BytesIO()
    with matplotlib.rc_context({"font.size": 9}), \
            PdfPages(buf, metadata={"Title": title, "CreationDate": None}) as pages:
        page, y = None, 0.0

        def new_page():
            p = MplFigure(figsize=(W, H))
            return p, H - M

        page, y = new_page()
        page.text(M / W, y / H, title, fontsize=16, weight="bold", va="top", parse_math=False)
        y -= 0.6
        for it in items(figs):
            f = it.fig
            img = np.asarray(Image.open(io.BytesIO(col.read(f, it.files[it.png]))).convert("RGB"))
            w = TEXT_W
            h = min(w * img.shape[0] / img.shape[1], H - 2 * M - 1.5)
            w = h * img.shape[1] / img.shape[0]
            cap = textwrap.wrap(f"Figure {it.number}. {f.full_caption()}", 100)
            src = f"From the page “{f.page or 'unknown'}”" + (f", which answers: {f.exercise}" if f.exercise
                                                               else "")
            text = cap + textwrap.wrap(src, 105) + ([f"Link: {f.link}"] if f.link else [])
            notes = [line for p in f.notes.split("\n\n") if p.strip() for line in textwrap.wrap(p.strip(), 105) + [""]]
            need = h + LINE * (len(text) + len(notes) + 1) + 0.3
            if y - need < M and y < H - M - 0.1:
                pages.savefig(page)
                page, y = new_page()
            ax = page.add_axes([(W - w) / 2 / W, (y - h) / H, w / W, h / H])
            ax.imshow(img, interpolation="nearest" if f.kind == "grid" else "antialiased")
            ax.axis("off")
            y -= h + 0.12
            for line in text:
                page.text(M / W, y / H, line, fontsize=8, va="top", color="#1f2430" if line in cap else "#495057",
                          style="italic" if line.startswith("Link:") else "normal", parse_math=False)
                y -= LINE
            y -= 0.05
            for line in notes:
                page.text(M / W, y / H, line, fontsize=9, va="top", parse_math=False)
                y -= LINE
            y -= 0.3
        pages.savefig(page)
    return buf.getvalue()


def export(col: Collection, title: str = "Report", per_row: int = 1) -> bytes:
    """The ZIP of the collection (report/...: report.tex, report.md, report.pdf, figures/...). EmptyReport
    (a ValueError saying what to do) when there is no figure."""
    figs = col.figures()
    if not figs:
        raise EmptyReport(EMPTY)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for it in items(figs):
            for name, own in it.files.items():
                data = col.read(it.fig, own)
                z.writestr(f"report/{name}", data, compress_type=zipfile.ZIP_STORED
                           if name.endswith((".png", ".gif")) else zipfile.ZIP_DEFLATED)
        z.writestr("report/report.tex", latex(figs, title, per_row))
        z.writestr("report/report.md", markdown(figs, title))
        z.writestr("report/report.pdf", pdf(col, figs, title))
    return buf.getvalue()


def file_name(title: str) -> str:
    return f"{slug(title) or 'report'}.zip"
