"""The package's shape, enforced: layers import downwards, no file imports itself around a loop.

The layers are folders of ``src/tuneforge`` (docs/architecture.md lists them with what each may
import). Imports inside functions count like imports at the top of a file: hiding an import in a
function does not change which way the code depends.
"""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "tuneforge"

# top to bottom; a module may import its own layer (without tying two folders into a loop) and any layer below
LAYERS = [
    ("entry", {"__init__", "cli", "cli_usage", "api", "discover", "listing_cache", "plugins"}),
    ("modes", {"modes", "continual", "search", "federated"}),
    ("one run", {"runs"}),
    ("after a run", {"analysis", "artefacts", "report"}),
    ("training", {"training", "privacy", "regularisers"}),
    ("plug-ins", {"strategies", "tasks", "head", "prefix_cache"}),
    ("models and metrics", {"models", "evaluation"}),
    ("data", {"data"}),
    ("foundation", {"recipe", "registry", "errors", "extras", "terminal"}),
]
MAX_UPWARD = 5          # each marked on its line with a comment starting "# up:" that says why
MAX_INSIDE_FUNCTIONS = 40


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")


FILES = {p: _module(p) for p in sorted(ROOT.rglob("*.py"))}
MODULES = {m: p for p, m in FILES.items()}


def _target(mod: str, path: Path, module, level: int, name=None):
    if level:
        parts = mod.split(".")
        base = parts[: len(parts) - level + (1 if path.name == "__init__.py" else 0)]
        full = ".".join(base + ([module] if module else []))
    else:
        full = module or ""
    for cand in ([f"{full}.{name}"] if name else []) + [full]:
        if cand in MODULES:
            return MODULES[cand]
    return None


def _imports():
    """(importer, imported, line number, inside a function) for every import of the package's own modules."""
    out = []
    for path, mod in FILES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("tuneforge")):
                targets = {_target(mod, path, node.module, node.level, a.name) for a in node.names}
            elif isinstance(node, ast.Import):
                targets = {MODULES.get(a.name) for a in node.names if a.name.startswith("tuneforge")}
            else:
                continue
            for t in targets - {None, path}:
                out.append((path, t, node.lineno, id(node) in inside))
    return out


IMPORTS = _imports()


def _folder(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _layer(path: Path) -> int:
    folder = _folder(path)
    for i, (_, members) in enumerate(LAYERS):
        if folder in members:
            return i
    raise AssertionError(f"{path.relative_to(ROOT)}: its folder {folder!r} is in no layer of tests/test_architecture.py "
                         "(add it there and to docs/architecture.md)")


def _cycles(edges):
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        index[root] = low[root] = counter[0]; counter[0] += 1; stack.append(root); on.add(root)
        work = [(root, iter(sorted(edges[root])))]
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]; counter[0] += 1; stack.append(nxt); on.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return comps


def test_every_folder_has_a_layer():
    for path in FILES:
        _layer(path)


def test_no_file_imports_itself_around_a_loop():
    edges = {}
    for a, b, _, _ in IMPORTS:
        edges.setdefault(a, set()).add(b)
        edges.setdefault(b, set())
    circles = [[str(p.relative_to(ROOT)) for p in c] for c in _cycles(edges)]
    assert circles == []


def test_no_two_folders_import_each_other():
    edges = {}
    for a, b, n, _ in IMPORTS:
        if _folder(a) != _folder(b) and "# up:" not in _line(a, n):
            edges.setdefault(_folder(a), set()).add(_folder(b))
    assert _cycles(edges) == []


def _line(path: Path, lineno: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[lineno - 1]


def test_imports_run_downwards_and_each_upward_one_says_why():
    upward = [(a, b, n) for a, b, n, _ in IMPORTS if _layer(b) < _layer(a)]
    unexplained = [f"{a.relative_to(ROOT)}:{n} imports {b.relative_to(ROOT)} ({LAYERS[_layer(b)][0]} is above "
                   f"{LAYERS[_layer(a)][0]})" for a, b, n in upward if "# up:" not in _line(a, n)]
    assert unexplained == []
    assert len({(a, n) for a, _, n in upward}) <= MAX_UPWARD


def test_few_of_the_package_s_own_imports_hide_inside_functions():
    inside = sorted({(str(a.relative_to(ROOT)), n) for a, _, n, lazy in IMPORTS if lazy})
    assert len(inside) <= MAX_INSIDE_FUNCTIONS, "\n".join(f"{f}:{n}" for f, n in inside)


def test_only_the_entry_layer_imports_inside_functions():
    """The command line and the API defer their imports so that ``--help`` and ``list`` start without torch;
    everywhere else an import inside a function would only hide which way the code depends."""
    below = sorted({f"{a.relative_to(ROOT)}:{n}" for a, _, n, lazy in IMPORTS if lazy and _layer(a) > 0})
    assert below == []


def test_the_trainer_knows_no_subsystem():
    text = (ROOT / "training" / "trainer.py").read_text(encoding="utf-8").lower()
    for word in ("privacy", "private", "search", "continual", "federated", "opacus"):
        assert not re.search(rf"\b{word}", text), word


def test_one_run_imports_none_of_the_modes():
    modes = LAYERS[1][1]
    for a, b, n, _ in IMPORTS:
        if _folder(a) == "runs":
            assert _folder(b) not in modes, f"{a.relative_to(ROOT)}:{n} imports {b.relative_to(ROOT)}"
