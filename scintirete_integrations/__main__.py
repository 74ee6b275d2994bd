"""``scintirete-integrations`` and ``python -m scintirete_integrations``: the demo command.

::

    scintirete-integrations demo                       # Scintirete Lite in this process, in memory
    scintirete-integrations demo --data-dir ./data     # keep the data; re-running adds no duplicates
    scintirete-integrations demo --address db:9090     # a real server ($SCINTIRETE_ADDRESS works too)
    scintirete-integrations demo --query "..."         # your own question (needs the model extra)
    python -m scintirete_integrations                  # no arguments: the demo

The demo itself lives in :mod:`scintirete_integrations.demo`; it needs the ``demo`` extra.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from . import __version__

__all__ = ["build_parser", "main"]

DEMO_INSTALL_HINT = "pip install 'scintirete-integrations[demo]'"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line: one ``demo`` subcommand, the default when no argument is given."""
    parser = argparse.ArgumentParser(
        prog="scintirete-integrations",
        description="Scintirete for Python: gRPC client, Scintirete Lite, LangChain and LlamaIndex stores.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="store the bundled passages and answer questions with LangChain and LlamaIndex",
        description=(
            "Start Scintirete Lite in this process (or use --address), store 160 bundled passages and "
            "answer the bundled questions with a LangChain retriever and a LlamaIndex retriever."
        ),
    )
    demo.add_argument(
        "--query", type=_non_empty, help="your own question (embedding it needs the 'model' extra)"
    )
    demo.add_argument(
        "--data-dir", metavar="DIR", help="keep Scintirete Lite's data in DIR (default: in memory)"
    )
    demo.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="use this Scintirete server instead of Lite (default: $SCINTIRETE_ADDRESS, unless --data-dir)",
    )
    demo.add_argument(
        "--password", help="the server's password (default: $SCINTIRETE_PASSWORD, which keeps it out of ps)"
    )
    demo.add_argument(
        "--top-k", type=_positive, default=3, metavar="K", help="passages per question (default: 3)"
    )
    demo.add_argument(
        "--collection",
        type=_non_empty,
        default="scintirete_demo",
        metavar="NAME",
        help="collection for LangChain; LlamaIndex uses NAME_llama_index (default: scintirete_demo)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the command; returns the exit status."""
    started = time.perf_counter()  # the demo's reported total includes importing the frameworks
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(arguments or ["demo"])
    if args.command != "demo":
        parser.print_help()
        return 2
    if args.address and args.data_dir:
        parser.error("--data-dir is for the embedded Scintirete Lite; it cannot be combined with --address")
    address = args.address or (None if args.data_dir else os.environ.get("SCINTIRETE_ADDRESS") or None)
    password = args.password or os.environ.get("SCINTIRETE_PASSWORD") or None
    try:
        from .demo import DemoOptions, run
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("langchain_core", "llama_index"):
            raise
        print(
            f"scintirete-integrations demo needs LangChain and LlamaIndex ({exc.name} is missing). "
            f"Install them with:\n    {DEMO_INSTALL_HINT}",
            file=sys.stderr,
        )
        return 1
    options = DemoOptions(
        query=args.query,
        data_dir=args.data_dir,
        address=address,
        password=password,
        top_k=args.top_k,
        collection=args.collection,
    )
    try:
        return run(options, started=started)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # piped into `head` and the like: stop quietly (see Python's "Note on SIGPIPE")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
