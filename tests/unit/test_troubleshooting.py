"""The README's troubleshooting table quotes what the package really prints.

Each "you see" cell quotes an error or a warning. The quote must match a message written in
the package's source, with the README's stand-ins (``N``, ``n``, ``'x'``, numbers, ``...``)
matching whatever the code fills in there; a few come from the server or grpc instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "scintirete_integrations"
#: Quoted in the README but worded by the server or grpc, which the package passes on.
FROM_THE_SERVER = {"authentication required", "invalid credentials", "failed to connect"}
_FILLED = "\0"
_STAND_IN = re.compile(r"'[^']*'|\b[Nn]\b|\b\d+\b")


def package_messages() -> list[str]:
    """Every string the package's code holds, with each filled-in part as ``_FILLED``."""
    messages = []
    for path in PACKAGE.rglob("*.py"):
        if "_proto" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                parts = [v.value if isinstance(v, ast.Constant) else _FILLED for v in node.values]
                messages.append("".join(str(p) for p in parts))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                messages.append(re.sub(r"%[-0-9.]*[sdrfg]", _FILLED, node.value))
    return messages


def quoted_messages() -> list[str]:
    """The first quoted text of each row of the README's troubleshooting table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    quotes = []
    for line in table.splitlines():
        found = re.match(r"\| (?:warning: )?`([^`]+)`", line)
        if found:
            quotes.append(re.sub(r"^\w+Error: ", "", found.group(1)).replace("[n, ...]", "N"))
    return quotes


def pattern(piece: str) -> re.Pattern[str]:
    """A README fragment as a regex: its stand-ins match what the code fills in, or a literal."""
    out, at = [], 0
    for stand_in in _STAND_IN.finditer(piece):
        out += [re.escape(piece[at : stand_in.start()]), r"(?:.+?)"]
        at = stand_in.end()
    out.append(re.escape(piece[at:]))
    return re.compile("".join(out))


def test_every_troubleshooting_quote_is_a_message_the_package_prints() -> None:
    messages = package_messages()
    quotes = quoted_messages()
    assert len(quotes) >= 10
    unmatched = []
    for quote in quotes:
        for piece in (p.strip(" :") for p in quote.split("...")):
            if len(piece) < 12 or piece in FROM_THE_SERVER:
                continue
            if not any(pattern(piece).search(message) for message in messages):
                unmatched.append(piece)
    assert unmatched == []


def test_a_misquoted_message_is_caught() -> None:
    messages = package_messages()
    assert any(pattern("voiding N page number(s) of 'x'").search(m) for m in messages)
    assert not any(pattern("voiding N pages of 'x'").search(m) for m in messages)
