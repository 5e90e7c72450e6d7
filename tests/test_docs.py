"""The documentation: API reference coverage, docstrings, code blocks and the Sphinx build."""

import dataclasses
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

MODULES = [
    "sklearn_ser",
    "sklearn_ser.features",
    "sklearn_ser.augmentation",
    "sklearn_ser.models",
    "sklearn_ser.datasets",
    "sklearn_ser.model_selection",
    "sklearn_ser.evaluation",
    "sklearn_ser.recipes",
    "sklearn_ser.plotting",
    "sklearn_ser.reports",
    "sklearn_ser.paper",
    "sklearn_ser.persistence",
    "sklearn_ser.timeline",
    "sklearn_ser.serve",
]


def public_names(module_name):
    return list(importlib.import_module(module_name).__all__)


PUBLIC = [(module, name) for module in MODULES for name in public_names(module)]
CALLABLES = [
    (module, name)
    for module, name in PUBLIC
    if inspect.isclass(getattr(importlib.import_module(module), name))
    or inspect.isfunction(getattr(importlib.import_module(module), name))
]


def documented_names():
    """``(module, name)`` of every entry of the API reference's autosummary tables and py directives."""
    documented = set()
    for source in sorted((DOCS / "api").glob("*.rst")):
        module, in_autosummary = None, False
        for line in source.read_text(encoding="utf-8").splitlines():
            if match := re.match(r"\.\. currentmodule:: (\S+)", line):
                module, in_autosummary = match.group(1), False
            elif line.startswith(".. autosummary::"):
                in_autosummary = True
            elif match := re.match(r"\.\. (?:py:)?(?:data|function|class|exception|auto\w+):: ([\w.]+)", line):
                name = match.group(1)
                documented.add(tuple(name.rsplit(".", 1)) if "." in name else (module, name))
                in_autosummary = False
            elif in_autosummary and (match := re.fullmatch(r"\s+(~?[\w.]+)", line)):
                documented.add((module, match.group(1).lstrip("~")))
            elif in_autosummary and line and not line[0].isspace():
                in_autosummary = False
    return documented


@pytest.mark.parametrize(("module", "name"), PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_public_name_in_api_reference(module, name):
    assert (module, name) in documented_names(), f"{module}.{name} is missing from docs/api/"


def _parameters(obj):
    if inspect.isclass(obj) and "__init__" not in vars(obj) and not dataclasses.is_dataclass(obj):
        if all(base.__module__ == "builtins" for base in obj.__mro__[1:]):
            return []  # e.g. an exception class: no parameters of its own
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _documented(section):
    return {part.strip().lstrip("*") for item in section for part in item.name.split(",")}


@pytest.mark.parametrize(("module", "name"), CALLABLES, ids=[f"{module}.{name}" for module, name in CALLABLES])
def test_public_docstring(module, name):
    from numpydoc.docscrape import NumpyDocString

    obj = getattr(importlib.import_module(module), name)
    docstring = inspect.getdoc(obj)
    assert docstring, f"{module}.{name} has no docstring"
    parameters = _parameters(obj)
    if not parameters:
        return
    parsed = NumpyDocString(docstring)
    documented = _documented(parsed["Parameters"])
    if dataclasses.is_dataclass(obj):
        # A result container: its fields are documented as attributes.
        documented |= _documented(parsed["Attributes"])
    else:
        assert parsed["Parameters"], f"{module}.{name} takes {parameters} but has no Parameters section"
    missing = [p for p in parameters if p not in documented]
    assert not missing, f"{module}.{name}: parameters {missing} are not documented"


# -- code blocks of the user guide ---------------------------------------------------------------

_CODE_BLOCK = re.compile(r"^(\s*)\.\. code-block:: python\s*$")


def python_blocks(path):
    """The ``.. code-block:: python`` bodies of a page, except those with ``:class: no-test``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _CODE_BLOCK.match(lines[i])
        i += 1
        if not match:
            continue
        indent, options, body = len(match.group(1)), [], []
        while i < len(lines) and re.match(r"\s+:\w[\w-]*:", lines[i]):
            options.append(lines[i].strip())
            i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        if not any(option.startswith(":class:") and "no-test" in option for option in options):
            blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
    return blocks


PAGES = sorted(p for p in [*DOCS.glob("*.rst"), *(DOCS / "user_guide").glob("*.rst")] if python_blocks(p))

# Runs every page's blocks in one interpreter (imports are paid once), each page
# in a fresh namespace and a fresh working folder, as a reader would run them.
_RUNNER = """
import json, os, sys, tempfile, traceback
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
results = {}
for name, script in json.load(open(sys.argv[1])).items():
    os.chdir(tempfile.mkdtemp(dir=sys.argv[3]))
    try:
        exec(compile(open(script).read(), script, "exec"), {"__name__": "__main__"})
        results[name] = None
    except BaseException:
        results[name] = traceback.format_exc()
    plt.close("all")
json.dump(results, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def page_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    scripts = {}
    for page in PAGES:
        name = str(page.relative_to(DOCS))
        script = folder / (name.replace("/", "__") + ".py")
        script.write_text("\n\n".join(python_blocks(page)) + "\n")
        scripts[name] = str(script)
    (folder / "pages.json").write_text(json.dumps(scripts))
    (folder / "runner.py").write_text(_RUNNER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    run = subprocess.run(
        [sys.executable, *(str(folder / name) for name in ("runner.py", "pages.json", "results.json")), str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if run.returncode != 0:
        pytest.fail(f"the code blocks' interpreter failed:\n{run.stderr[-4000:]}")
    return json.loads((folder / "results.json").read_text())


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_code_blocks_run(page, page_results):
    """A page's Python blocks run in order, as they stand."""
    error = page_results[str(page.relative_to(DOCS))]
    assert error is None, f"{page.relative_to(DOCS)}:\n{error[-4000:]}"


# -- the Sphinx build ------------------------------------------------------------------------------


def test_sphinx_build(tmp_path):
    """The HTML build succeeds with warnings treated as errors, reading nothing from the network."""
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("myst_parser")
    out = tmp_path / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html"]
    command += ["-d", str(tmp_path / "doctrees"), str(DOCS), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-6000:]
    for page in ["index", "getting_started", "user_guide/protocols", "api/index", "auto_examples/index"]:
        assert (out / f"{page}.html").is_file(), page
    assert (out / "api" / "generated" / "sklearn_ser.features.MelSpectrogram.html").is_file()
    assert (out / "paper_reproduction.html").is_file()
