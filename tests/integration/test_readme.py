"""Every code block of README.md runs as written (against a Lite server where it names a real one)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.DOTALL)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
BASH = [code.strip() for lang, code in BLOCKS if lang == "bash"]
BIN = Path(sys.executable).parent


def test_readme_has_the_expected_blocks() -> None:
    assert len(PYTHON) >= 5 and len(BASH) >= 3
    assert {lang for lang, _ in BLOCKS} <= {"python", "bash"}


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_block_runs(
    code: str, address: str, password: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The "real server" example names localhost:9090; point it at the test's Lite server.
    code = code.replace('"localhost:9090"', repr(address)).replace('"my-password"', repr(password))
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    for line in code.splitlines():
        expected = re.search(r"print\(.*\)\s*# ([^\s:(]+)", line)
        if expected:
            assert expected.group(1) in printed, f"{line.strip()} printed {printed!r}"


def test_the_test_command_is_what_ci_runs() -> None:
    test_command = next(cmd for cmd in BASH if "pytest" in cmd)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_demo_command_runs() -> None:
    demo_command = next(cmd for cmd in BASH if " demo" in cmd)
    run = demo_command.split("&&")[-1].strip()  # the install is what this environment already did
    argv = shlex.split(run.replace(".venv/bin/", f"{BIN}/"))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "passages" in result.stdout


def test_the_lite_command_runs() -> None:
    command = next(cmd for cmd in BASH if "scintirete-lite" in cmd)
    argv = shlex.split(command.replace(".venv/bin/", f"{BIN}/"))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "--data-dir" in result.stdout


def test_the_benchmark_command_names_a_working_script() -> None:
    # The full run takes minutes and the peer stores' extra; here its script must start and explain itself.
    command = next(cmd for cmd in BASH if "benchmarks/run.py" in cmd)
    script = command.split("&&")[-1].split()[1]
    result = subprocess.run(
        [sys.executable, str(ROOT / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and "--n" in result.stdout
