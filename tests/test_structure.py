"""The structure DESIGN.md promises, checked on the code itself: four floors with imports only
downward, a library that names no orchestrator, no import circles, names that say one thing, and
docs generated from the step list that cannot drift from it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import grimp
import pytest

from forge_core.clean.pipeline import RULES, CleanConfig, rules_markdown

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("forge", "flows", "tasks", "forge_core")
ABOVE_THE_LIBRARY = {"prefect", "flows", "tasks", "forge"}


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module a file imports, wherever the import sits (top level, function, try block),
    and every module named as a string to importlib.import_module or __import__."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def test_forge_core_source_names_no_layer_above_it():
    """Not only at import time: a lazy import inside a function counts too."""
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in python_files("forge_core")
        for line, name in imported_names(ast.parse(path.read_text(encoding="utf-8")))
        if name.split(".")[0] in ABOVE_THE_LIBRARY
    ]
    assert not bad, "forge_core imports a floor above it:\n" + "\n".join(bad)


def test_no_floor_imports_one_above_it():
    rank = {floor: i for i, floor in enumerate(FLOORS)}
    bad = []
    for floor in FLOORS:
        for path in python_files(floor):
            for line, name in imported_names(ast.parse(path.read_text(encoding="utf-8"))):
                top = name.split(".")[0]
                if top in rank and rank[top] < rank[floor]:
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not bad, "imports that run back up (forge -> flows -> tasks -> forge_core):\n" + "\n".join(bad)


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Tarjan's algorithm over the module graph: every group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v) & modules:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return groups


def test_forge_core_has_no_import_circles():
    """Between modules, counting imports inside functions (grimp reads them all). Circles between
    sibling packages are import-linter's acyclic_siblings contract (make lint)."""
    graph = grimp.build_graph("forge_core")
    circles = strongly_connected(graph, set(graph.modules))
    assert not circles, "import circles in forge_core:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout), result.stdout[-2000:]


def test_no_two_library_modules_share_a_name():
    """A name says one thing: forge_core and the shell have one module per basename. tasks/ mirrors
    the stage it wraps (tasks/tokenize.py runs forge_core/tokenize.py), which is the same meaning."""
    seen: dict[str, list[str]] = defaultdict(list)
    for package in ("forge", "forge_core"):
        for path in python_files(package):
            if path.name not in ("__init__.py", "__main__.py"):
                seen[path.stem].append(str(path.relative_to(ROOT)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, clashes


# The step list is the source of truth for the rules, their config and their reasons ----------------
def test_clean_config_has_one_section_per_rule_in_pipeline_order():
    fields = [name for name in CleanConfig.model_fields if name not in ("profile", "quality_languages")]
    assert fields == [rule.name for rule in RULES]
    for rule in RULES:
        assert CleanConfig.model_fields[rule.name].annotation is rule.config, rule.name


def declared(reason: str) -> bool:
    patterns = [
        re.escape(r).replace("<n>", r"\d+").replace("<type>", r"[a-z_]+") for rule in RULES for r in rule.reasons
    ]
    return any(re.fullmatch(p, reason) for p in patterns)


REASON_LIKE = re.compile(r"\b(?:gopher|c4|fineweb|pii)_[a-z0-9_]+\b|\btoo_(?:short|long)\b|\blanguage_not_allowed\b")
REASON_SHAPE = re.compile(r"(?:gopher|c4|fineweb|pii)_[a-z0-9_*]+|too_(?:short|long)|language_not_allowed")


def template(reason: str) -> str:
    """A reason with its variable parts as '*': gopher_top_<n>_gram -> gopher_top_*_gram."""
    return re.sub(r"<[a-z]+>", "*", reason)


def test_every_reason_the_rule_modules_can_emit_is_declared():
    """Every string literal in a rule's module that is shaped like a reason (a whole string such as
    "c4_curly_bracket", or an f-string such as f"gopher_top_{n}_gram") is a reason it declares."""
    modules: dict[str, set[str]] = defaultdict(set)  # gopher.py holds two rules
    for rule in RULES:
        modules[sys.modules[rule.apply.__module__].__file__] |= {template(r) for r in rule.reasons}
    undeclared = []
    for file, templates in modules.items():
        path = Path(file)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        pieces = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in pieces:
                text = node.value
            elif isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
            else:
                continue
            if REASON_SHAPE.fullmatch(text) and text not in templates:
                undeclared.append(f"{path.name}: {text}")
    assert not undeclared, undeclared


def test_config_help_names_only_reasons_the_code_emits():
    """`forge init` writes the config's descriptions into users' files: a reason named there must exist."""
    from forge_core.config import default_config_yaml

    comments = "\n".join(line for line in default_config_yaml().splitlines() if line.lstrip().startswith("#"))
    rule_names = {rule.name for rule in RULES}
    stale = [w for w in REASON_LIKE.findall(comments) if not declared(w) and w not in rule_names]
    assert not stale, stale


def test_forge_init_says_where_every_filter_threshold_comes_from():
    """Each rule that can drop a document carries a Numbers note naming, for each of its thresholds,
    a paper, a recipe, the labelled set or a choice with its reason; `forge init` prints it."""
    from forge_core.config import default_config_yaml

    written = default_config_yaml()
    for rule in RULES:
        if not rule.reasons or rule.config is None:
            continue  # normalization never drops
        numbers = getattr(rule.config, "NUMBERS", None)
        assert numbers, f"{rule.config.__name__} has no NUMBERS note"
        assert f"# Numbers: {numbers}" in written, rule.name
        thresholds = [n for n, f in rule.config.model_fields.items() if f.annotation in (int, float)]
        named = {n for n in thresholds if re.search(rf"\b{n}\b", numbers)}
        assert set(thresholds) <= named or "et al." in numbers, (rule.name, set(thresholds) - named)


def test_cleaning_records_only_declared_reasons():
    from documents import doc_frame

    from forge_core.clean.pipeline import clean_frame

    texts = [
        "short",
        "lorem ipsum dolor sit amet " * 20,
        "def f(x): { return x }\n" * 30,
        ("Spam spam spam. " * 200),
        "\n".join(f"- item {i}" for i in range(60)),
        "word " * 300_000,
        "The quarterly report shows revenue grew. " * 10,
        "Contact jane.doe@example.com or call +1 415 555 0100 about the invoice. " * 5,
    ]
    cfg = CleanConfig.model_validate({"pii": {"email": "drop"}, "quality_languages": []})
    out = clean_frame(doc_frame(texts, [f"file:///d/{i}" for i in range(len(texts))], stage="ingested"), cfg)
    reasons = set(out.ledger["reason"].to_list())
    assert len(reasons) >= 4  # the sample does exercise several rules
    assert all(declared(r) for r in reasons), reasons


def test_readme_table_of_rules_is_generated_from_the_step_list():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- rules: python -m forge_core.clean.pipeline -->\n", "<!-- end rules -->"
    assert start in readme and end in readme, "README.md lost its generated table of rules"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == rules_markdown(), "README's table of rules is stale: run `python -m forge_core.clean.pipeline`"


# The command line -----------------------------------------------------------------------------------
def command_paths() -> list[list[str]]:
    import typer.main

    from forge.cli import app

    group = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(group, [])
    return paths


def test_the_command_list_is_complete():
    """The shell's commands, as `forge --help` lists them; a new command is found by the test below."""
    top = {path[0] for path in command_paths()}
    assert {"curate", "run", "train", "eval", "size", "ui", "server", "schedule", "worker", "dataset"} <= top


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p))
def test_every_command_answers_help(path):
    from typer.testing import CliRunner

    from forge.cli import app

    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "usage" in result.output.lower()
    if path[:1] != ["train"]:  # train's help is argparse's, which lists options rather than a docstring
        assert len(result.output.splitlines()) > 3


def test_forge_help_from_the_installed_executable():
    forge = Path(sys.executable).parent / "forge"
    for args in (["--help"], ["train", "--help"]):
        result = subprocess.run([str(forge), *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "usage" in result.stdout.lower()
