"""The record of one collected figure and the key that keeps a figure added twice only once."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

KINDS = ("curves", "chart", "heatmap", "grid", "table")  # what a record holds; see core.report.render


@dataclass
class Figure:
    """One figure of a report. `settings` are the page's widget values as shown ({label: value}); `link` reopens
    exactly this view (the page's URL with its query parameters); `files` are the rendered files' names, the first
    being the image the report includes; `aspect` is the image's height / width (for the page estimate)."""

    kind: str  # one of KINDS
    title: str  # the figure's own title
    page: str = ""  # the title of the page it was added from
    caption: str = ""  # what the page says under the figure (without the settings)
    settings: dict = field(default_factory=dict)  # {label: value as text}
    exercise: str = ""  # the exercise the page answers
    link: str = ""  # the URL that reopens this view
    notes: str = ""  # the student's own text (edited on the Report page)
    files: list = field(default_factory=list)  # rendered files, the included image first
    aspect: float = 0.6  # image height / width
    key: str = ""  # set by `key_of` when stored

    def settings_text(self) -> str:
        """'label: value · label: value' (empty when the page recorded no setting)."""
        return " · ".join(f"{k}: {v}" for k, v in self.settings.items())

    def full_caption(self) -> str:
        """Title, the page's caption and the settings, as one caption."""
        parts = [self.title.rstrip(".") + "."]
        if self.caption:
            parts.append(self.caption.strip())
        if self.settings:
            parts.append(f"Settings: {self.settings_text()}.")
        return " ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Figure":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


def key_of(fig: Figure) -> str:
    """The same figure of the same page at the same settings has the same key (16 hex digits), so adding it again
    replaces it instead of adding a copy."""
    blob = json.dumps({"page": fig.page, "title": fig.title, "settings": {str(k): str(v) for k, v in
                                                                          fig.settings.items()}}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def slug(text: str, n: int = 40) -> str:
    """A file name's part: lower case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:n].strip("-") or "figure"
