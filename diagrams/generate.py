"""Regenerate everything in `diagrams/`: `python diagrams/generate.py` (or `-m diagrams.generate`).

- `state.svg`, `state.mmd`: the interaction script, drawn from `mediator.script.SCRIPT`;
- `seq.svg`, `seq.mmd`: one real offline exchange with tool calls, from its recorded events;
- `arch.svg`: the architecture picture, rendered from its source `arch.dot` (edit that file).

Output is deterministic (no dates, ids replaced by placeholders), so a test can compare the
committed files with a fresh run. Needs Graphviz's `dot` (`apt install graphviz`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graphviz

from diagrams.sequence import record_trace, sequence_mermaid, sequence_svg, trace_rows
from diagrams.state import state_graph, state_mermaid

HERE = Path(__file__).resolve().parent


def render_svg(graph: graphviz.Source | graphviz.Digraph) -> str:
    """Graphviz's SVG, as `dot` writes it (its first comment names the Graphviz version)."""
    return str(graph.pipe(format="svg", encoding="utf-8"))


def arch_svg() -> str:
    return render_svg(graphviz.Source((HERE / "arch.dot").read_text(), filename="arch"))


def state_files() -> dict[str, str]:
    return {"state.svg": render_svg(state_graph()), "state.mmd": state_mermaid()}


def sequence_files() -> dict[str, str]:
    """Record a real exchange now and draw it."""
    rows = trace_rows(asyncio.run(record_trace()))
    return {"seq.mmd": sequence_mermaid(rows), "seq.svg": sequence_svg(rows)}


def generate(out: Path = HERE) -> dict[str, str]:
    files = {**state_files(), **sequence_files(), "arch.svg": arch_svg()}
    for name, content in files.items():
        (out / name).write_text(content, encoding="utf-8")
    return files


def main() -> int:
    os.environ["QUOTE_SOURCE"] = "simulated"  # the recorded exchange never uses the network
    files = generate()
    print("\n".join(f"wrote diagrams/{name}" for name in files))
    print("\nstate.mmd (for the README):\n")
    print("```mermaid")
    print(files["state.mmd"], end="")
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
