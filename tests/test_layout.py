"""The code's layout: one package per topic in every layer, no import cycle, the science only in core."""
import ast
import re
import tempfile
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


STEP_METHODS = {"step", "backward", "zero_grad", "iteration"}  # what an optimiser step is called, or made of
PLAIN_WORDS = {"step", "iteration"}  # also plain attributes (a record's step number): counted only when called


def _steps_name(name: str) -> bool:
    return name in STEP_METHODS or name.endswith("_step")


def optimiser_steps(source: str) -> list[tuple[int, str]]:
    """(line, name) of everything in `source` that steps an optimiser or a trainer, however it is spelled: a call of
    a method named step, backward, zero_grad or iteration on anything; any attribute ending in `_step` (d_step,
    g_step, train_step, ...) or named backward or zero_grad, called or not (a bound method kept and called later);
    a function of such a name; and getattr(x, "<such a name>")."""
    tree = ast.parse(source)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _steps_name(node.attr) and (
                node.attr not in PLAIN_WORDS or id(node) in called):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if _steps_name(node.func.id):
                found.append((node.lineno, node.func.id))
            elif node.func.id == "getattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and isinstance(node.args[1].value, str) and _steps_name(node.args[1].value):
                found.append((node.lineno, node.args[1].value))
    return found


def test_the_optimiser_step_check_catches_every_spelling():
    spelled = ["opt.step()", "loss.backward()", "self.opt_d.zero_grad(set_to_none=True)", "tr.d_step()",
               "tr.g_step()", "state['trainer'].iteration()", "trainer.train_step(x)", "f = tr.d_step\nf()",
               "getattr(tr, 'g_step')()", "d_step()"]
    for code in spelled:
        assert optimiser_steps(code), code
    for code in ["st.select_slider('step', [1, 2])", "steps.take('D step')", "x = rec.step", "plots.show_grid(a)"]:
        assert not optimiser_steps(code), code
    old = (  # the GAN step panel as it was in explorer/gan_ui.py (the regex of the next test missed it)
        'if c[0].button("D step", key=f"{key}-d", type="primary"):\n    tr.d_step()\n    action = "D step"\n'
        'if c[1].button("G step", key=f"{key}-g", type="primary"):\n    tr.g_step()\n    action = "G step"\n'
        'if c[2].button("D+G iteration", key=f"{key}-it"):\n    tr.iteration()\n    action = "iteration"\n')
    assert [n for _, n in sorted(optimiser_steps(old))] == ["d_step", "g_step", "iteration"]


def test_no_optimiser_step_in_the_app_layers():
    """Training steps live in core; the app calls core (e.g. core.gan.single_steps), never an optimiser."""
    for layer in ("explorer", "pages"):
        for p in sorted((ROOT / layer).glob("*.py")):
            calls = optimiser_steps(p.read_text(encoding="utf-8"))
            assert not calls, f"{p.relative_to(ROOT)}: optimiser steps at {calls}"


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


def private_names_used(path: Path, known: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, "module._name") of every private name of one of our modules that `path` uses: `from m import _x`, or
    `alias._x` where alias is one of our modules imported (`import m as alias`, `from pkg import m`). Dunders
    (__init__, __name__, ...) are not private."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    private = lambda n: n.startswith("_") and not n.endswith("__")  # noqa: E731
    aliases, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in known:
                    aliases[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if full in known:
                    aliases[a.asname or a.name] = full
                elif node.module in known and private(a.name):
                    found.append((node.lineno, full))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases:
            found.append((node.lineno, f"{aliases[node.value.id]}.{node.attr}"))
    return found


OUR_FILES = ["core/**/*.py", "explorer/*.py", "pages/*.py", "tests/*.py", "tests/benchmarks/*.py"]


def test_no_private_name_of_one_module_is_used_from_another():
    known = _modules()
    files = sorted({p for pattern in OUR_FILES for p in ROOT.glob(pattern)})
    assert len(files) > 150
    for p in files:
        used = private_names_used(p, known)
        assert not used, f"{p.relative_to(ROOT)} uses private names of other modules: {used}"
    text = ("from core.gan import images as gi\nfrom core.gan.trainer import _x\n"
            "with gi._eval_batch_stats(D):\n    pass\n")
    tree_path = Path(tempfile.mkdtemp()) / "probe.py"
    tree_path.write_text(text, encoding="utf-8")
    assert [n for _, n in private_names_used(tree_path, known)] == ["core.gan.trainer._x",
                                                                    "core.gan.images._eval_batch_stats"]
