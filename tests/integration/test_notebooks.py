"""The committed tutorial notebooks run top to bottom, and their outputs are fit to commit.

Each notebook is executed afresh with nbclient in a python3 kernel of this interpreter. A probe
cell appended at the end collects the passwords of the Lite servers the notebook started, so
that the test can check that none of them (nor any password literal of the notebook) appears
in an output. scripts/build_notebooks.py writes the notebooks; its ``problems()`` is the check
for paths, object addresses, stderr output and errors.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 120
PROBE = """
import gc, json
from scintirete_integrations.lite import LiteServer
print(json.dumps(sorted({o.password for o in gc.get_objects() if isinstance(o, LiteServer)})))
"""


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_notebooks", module)
    spec.loader.exec_module(module)
    return module


BUILDER = _load_builder()


@pytest.fixture(scope="module")
def this_python_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A ``python3`` kernelspec running this interpreter, found before any user-level one."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec_dir = jupyter / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(jupyter))
        patch.setenv("JUPYTER_PLATFORM_DIRS", "1")
        yield


def test_every_generated_notebook_is_committed() -> None:
    assert {path.stem for path in NOTEBOOKS} == set(BUILDER.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_committed_notebook_matches_its_generator_and_has_outputs(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    generated = BUILDER.build(path.stem)
    assert [(c.id, c.cell_type, c.source) for c in committed.cells] == [
        (c.id, c.cell_type, c.source) for c in generated.cells
    ], f"{path.name} is stale: run scripts/build_notebooks.py"
    code_cells = [cell for cell in committed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells), f"{path.name} was committed without running"
    assert BUILDER.problems(committed) == []


def _password_literals(notebook: Any) -> set[str]:
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    return {value for value in re.findall(r"password=\"([^\"]+)\"", sources) if len(value) >= 8}


@pytest.mark.usefixtures("this_python_kernel")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_offline_without_leaking(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    fresh = copy.deepcopy(notebook)
    fresh.cells.append(nbformat.v4.new_code_cell(PROBE.strip(), id="probe"))
    NotebookClient(
        fresh,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()  # raises CellExecutionError, naming the cell, if any cell fails
    probe = fresh.cells.pop()
    passwords = set(json.loads(probe.outputs[0]["text"]))
    assert passwords or path.stem != "client_and_server", "the probe should have found the Lite servers"
    secrets = sorted(passwords | _password_literals(notebook))
    assert BUILDER.problems(fresh, secrets) == []
    # The committed outputs are what a fresh run prints: a stale one misleads the reader.
    assert _printed(fresh) == _printed(notebook), (
        f"{path.name} has stale outputs: run scripts/build_notebooks.py"
    )


def _printed(notebook: Any) -> list[tuple[str, list[str]]]:
    return [
        (
            cell.id,
            [output.get("text") or output.get("data", {}).get("text/plain", "") for output in cell.outputs],
        )
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def _extra_closure(extra: str, extras: dict[str, list[str]]) -> set[str]:
    """Every requirement name an extra brings, following the project's own extras."""
    names: set[str] = set()
    for line in extras[extra]:
        name, _, rest = re.split(r"[\s<>=!~;]", line, maxsplit=1)[0].partition("[")
        if name == "scintirete-integrations":
            for inner in rest.rstrip("]").split(","):
                names |= _extra_closure(inner.strip(), extras)
        else:
            names.add(name)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_each_notebook_says_what_to_install_including_a_kernel(path: Path) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    intro = "\n".join(
        cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"
    )
    named = re.findall(r"pip install '?scintirete-integrations\[([\w-]+)\]", intro)
    assert named, f"{path.name} does not say what to install"
    assert all("ipykernel" in _extra_closure(extra, extras) for extra in named), named
