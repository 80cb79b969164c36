"""One browser session's collection of figures, on disk so that it survives reloads and page changes.

Layout: ``<cache_dir>/reports/<session id>/index.json`` (the figures' records in order, written atomically:
temporary file + rename, under a lock) and one folder per figure, ``<figure key>/``, with its rendered files.
A session id is 8 to 64 letters, digits, '-' or '_' (a UUID fits): anything else, '../../etc' included, is
refused with ValueError, so no path leaves the reports folder.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from core.cache import cache_dir
from core.report.figure import Figure, key_of

ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # a session id
KEY = re.compile(r"[0-9a-f]{16}")  # a figure key (core.report.figure.key_of)
FILE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # a rendered file's name


def reports_dir() -> Path:
    return cache_dir() / "reports"


def check_id(session: str) -> str:
    """The session id itself, or ValueError when it is not 8 to 64 letters, digits, '-' or '_'."""
    if not isinstance(session, str) or not ID.fullmatch(session):
        raise ValueError(f"not a report id: {session!r}")
    return session


class Collection:
    """The figures of one session, in order. Every change rereads the index under a lock and writes it back
    atomically, so two tabs of one session never lose each other's figures."""

    def __init__(self, session: str, root: Path | None = None):
        self.session = check_id(session)
        base = (root or reports_dir()).resolve()
        self.folder = (base / self.session).resolve()
        if self.folder.parent != base:
            raise ValueError(f"not a report id: {session!r}")
        self.index = self.folder / "index.json"

    # -- reading ---------------------------------------------------------------------------------------------
    def figures(self) -> list[Figure]:
        """The records in their order (empty when nothing was added or the index cannot be read)."""
        try:
            raw = json.loads(self.index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [Figure.from_dict(d) for d in raw.get("figures", []) if KEY.fullmatch(str(d.get("key", "")))]

    def keys(self) -> list[str]:
        return [f.key for f in self.figures()]

    def __len__(self) -> int:
        return len(self.figures())

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def path(self, fig: Figure, name: str) -> Path:
        """A rendered file of a figure (names checked: inside the figure's folder)."""
        if not KEY.fullmatch(fig.key) or not FILE.fullmatch(name):
            raise ValueError(f"not a figure file: {fig.key}/{name}")
        return self.folder / fig.key / name

    def read(self, fig: Figure, name: str) -> bytes:
        return self.path(fig, name).read_bytes()

    # -- changing --------------------------------------------------------------------------------------------
    @contextmanager
    def _edit(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            figs = self.figures()
            yield figs
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".index-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"figures": [g.to_dict() for g in figs]}, f, indent=1)
            os.replace(tmp, self.index)

    def add(self, fig: Figure, files: dict[str, bytes]) -> Figure:
        """Store the figure and its files. The same figure again (same page, title and settings) replaces its files
        and record in place, keeping its position and the student's notes."""
        fig.key = key_of(fig)
        fig.files = list(files)
        folder = self.folder / fig.key
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=".new-"))
        try:
            for name, data in files.items():
                self.path(fig, name)  # checks the name
                (tmp / name).write_bytes(data)
            with self._edit() as figs:
                old = next((i for i, g in enumerate(figs) if g.key == fig.key), None)
                if folder.exists():
                    shutil.rmtree(folder)
                os.replace(tmp, folder)
                if old is None:
                    figs.append(fig)
                else:
                    fig.notes = fig.notes or figs[old].notes
                    figs[old] = fig
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return fig

    def remove(self, key: str) -> None:
        with self._edit() as figs:
            figs[:] = [g for g in figs if g.key != key]
        if KEY.fullmatch(key):
            shutil.rmtree(self.folder / key, ignore_errors=True)

    def move(self, key: str, step: int) -> None:
        """Move a figure `step` places (negative: earlier), stopping at either end."""
        with self._edit() as figs:
            i = next((i for i, g in enumerate(figs) if g.key == key), None)
            if i is None:
                return
            j = min(max(i + step, 0), len(figs) - 1)
            figs.insert(j, figs.pop(i))

    def reorder(self, keys: list[str]) -> None:
        """Put the figures in the order of `keys` (figures not listed keep their order, after them)."""
        with self._edit() as figs:
            rank = {k: i for i, k in enumerate(keys)}
            figs.sort(key=lambda g: rank.get(g.key, len(rank)))

    def set_notes(self, key: str, notes: str) -> None:
        with self._edit() as figs:
            for g in figs:
                if g.key == key:
                    g.notes = notes

    def clear(self) -> None:
        with self._edit() as figs:
            keys = [g.key for g in figs]
            figs.clear()
        for k in keys:
            shutil.rmtree(self.folder / k, ignore_errors=True)
