"""The code's layout: one package per topic in every layer, no import cycle, the science only in core."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "explorer", "pages")


def _modules() -> dict[str, Path]:
    out = {}
    for layer in LAYERS:
        for p in (ROOT / layer).rglob("*.py"):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Our modules that `path` imports anywhere in it (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            while n and n not in known:
                n = n.rpartition(".")[0]
            if n:
                found.add(n)
    return found


def test_core_never_imports_the_app_and_the_import_graph_has_no_cycle():
    mods = _modules()
    graph = {m: _imports(p, mods) - {m} for m, p in mods.items()}
    for m, deps in graph.items():
        if m.startswith("core"):
            assert not {d for d in deps if d.split(".")[0] in ("explorer", "pages")}, m
            assert not re.search(r"^\s*(import|from) streamlit", mods[m].read_text(encoding="utf-8"), re.M), m
    # a package's __init__ is imported with its submodules: only real edges between modules count
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph.get(m, ()):
            if d == m.rpartition(".")[0]:
                continue  # a module importing its own package's __init__
            assert state.get(d) != 1, "import cycle: " + " -> ".join(stack + [m, d])
            if d not in state:
                visit(d, stack + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_no_training_or_sampling_in_the_app_layers():
    pattern = re.compile(r"\.backward\(|optim\.[A-Z]|torch\.bernoulli|\.step\(\)|torch\.rand|np\.random\.|"
                         r"default_rng\(|st\.tabs\(")
    for layer in ("explorer", "pages"):
        for p in (ROOT / layer).glob("*.py"):
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line) and not (p.name == "shell.py" and "st.tabs(" in line):
                    raise AssertionError(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")


def test_every_tab_computes_only_when_open():
    """Each `with tab:` block of a page starts with `if tab.open:` (or skips a closed tab): hidden tabs cost nothing."""
    for p in list((ROOT / "pages").glob("*.py")) + list((ROOT / "explorer").glob("*_ui.py")):
        lines = p.read_text(encoding="utf-8").splitlines()
        tab_names = set()
        for line in lines:
            m = re.match(r"\s*(.+?)\s*=\s*shell\.tabs\(", line)
            if m:
                tab_names |= {n.strip() for n in m.group(1).split(",")}
        for i, line in enumerate(lines):
            m = re.match(r"(\s*)with (\w+(?:\[\d+\])?):\s*$", line)
            if not m or (m.group(2) not in tab_names and not m.group(2).startswith(("tabs[", "tab"))):
                continue
            nxt = next(x for x in lines[i + 1:] if x.strip())
            assert re.match(rf"\s*if (not )?{re.escape(m.group(2))}\.open:", nxt) or "if not tab.open" in nxt, \
                f"{p.relative_to(ROOT)}:{i + 1}: the tab's body runs even when the tab is closed"


def test_topics_are_mirrored_in_every_layer():
    from explorer.registry import SECTIONS

    for topic in SECTIONS:
        assert (ROOT / "core" / topic / "__init__.py").is_file(), topic
        assert (ROOT / "explorer" / f"{topic}_ui.py").is_file(), topic
        assert list((ROOT / "pages").glob(f"{topic}_*.py")), topic
