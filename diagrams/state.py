"""The state diagram, drawn from the interaction script (`mediator.script.SCRIPT`) and nothing else.

Two renderings of the same edges: Graphviz (`state_graph`, rendered to `state.svg`) and Mermaid
`stateDiagram-v2` text (`state_mermaid`, for the README). A row whose sources are every
non-terminal state (`failed`, `cancelled`) is drawn once, from a box around those states, instead
of as seven arrows; the seed's shortcuts (`DOTTED`) are dotted in Graphviz and labelled
"(skips running)" in Mermaid, which cannot dot a state transition.

`transitions.extensions.GraphMachine` is not used: `transitions` may be imported only by
`mediator/state_machine.py` (the boundary test), and reading `SCRIPT` directly draws the same
table without building a machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import graphviz

from mediator.script import DOTTED, SCRIPT, TERMINAL_STATES, State, Trigger

NON_TERMINAL = frozenset(State) - TERMINAL_STATES
CLUSTER_LABEL = "any non-terminal state"
SHORTCUT_NOTE = "skips running"
FONT = "Helvetica"


@dataclass(frozen=True, slots=True)
class Edge:
    """One arrow: `source` None means "from every non-terminal state" (the box)."""

    source: State | None
    trigger: Trigger
    dest: State
    dotted: bool = False


def edges() -> list[Edge]:
    """Every arrow of the diagram, in the script's row order, sources in state order."""
    found: list[Edge] = []
    for row in SCRIPT:
        if row.sources == NON_TERMINAL:
            found.append(Edge(None, row.trigger, row.dest))
            continue
        for source in State:
            if source in row.sources:
                dotted = (source, row.trigger) in DOTTED
                found.append(Edge(source, row.trigger, row.dest, dotted))
    return found


def state_graph() -> graphviz.Digraph:
    """The Graphviz picture of the script."""
    graph = graphviz.Digraph("interaction_script")
    graph.attr(rankdir="TB", compound="true", nodesep="0.5", ranksep="0.45", newrank="true")
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="#eef3fb", fontname=FONT)
    graph.attr("node", fontsize="12", color="#4a6fa5")
    graph.attr("edge", fontname=FONT, fontsize="10", color="#555555", fontcolor="#333333")
    graph.node("start", "", shape="point", width="0.15", fillcolor="black", color="black")
    with graph.subgraph(name="cluster_active") as box:
        box.attr(label=CLUSTER_LABEL, style="dashed,rounded", color="#999999", fontname=FONT)
        box.attr(fontsize="10", fontcolor="#666666")
        for state in State:
            if state in NON_TERMINAL:
                box.node(state.value)
    for state in State:
        if state in TERMINAL_STATES:
            graph.node(state.value, fillcolor="#e8f5e9" if state is State.COMPLETED else "#fdecea")
    graph.edge("start", State.NEW.value)
    anchor = State.TOOL_OUTPUTS_SUBMITTED.value  # a node inside the box to hang its edges on
    for edge in edges():
        attrs = {"label": f" {edge.trigger.value} "}
        if edge.dotted:
            attrs["style"] = "dotted"
        if edge.source is None:
            attrs |= {"ltail": "cluster_active", "color": "#b0413e", "fontcolor": "#b0413e"}
            graph.edge(anchor, edge.dest.value, **attrs)
        else:
            graph.edge(edge.source.value, edge.dest.value, **attrs)
    return graph


def state_mermaid() -> str:
    """The same diagram as Mermaid `stateDiagram-v2` text."""
    lines = ["stateDiagram-v2", "    direction TB", f"    [*] --> {State.NEW.value}"]
    inner = [e for e in edges() if e.source in NON_TERMINAL and e.dest in NON_TERMINAL]
    lines.append(f'    state "{CLUSTER_LABEL}" as active {{')
    lines += [f"        {state.value}" for state in State if state in NON_TERMINAL]
    lines += [f"        {_mermaid_edge(e)}" for e in inner]
    lines.append("    }")
    lines += [f"    {_mermaid_edge(e)}" for e in edges() if e not in inner]
    return "\n".join(lines) + "\n"


def _mermaid_edge(edge: Edge) -> str:
    source = "active" if edge.source is None else edge.source.value
    note = f" ({SHORTCUT_NOTE})" if edge.dotted else ""
    return f"{source} --> {edge.dest.value}: {edge.trigger.value}{note}"
