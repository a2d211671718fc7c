"""The sequence diagram, generated from the events of a real exchange (never drawn by hand).

`record_trace` runs one offline exchange with tool calls against the embedded emulator and keeps
every event the Mediator published for it. `trace_rows` turns that trace into diagram rows: each
state change, with the events published right after it, becomes the calls that led to it. Only
what is the same on every run is kept, so the output is stable: ids become placeholders
(`conv_1`, `exch_1`), tool arguments and outputs show their keys, not their (dated, simulated)
values, and the polls that found a run still queued or in progress, whose number depends on
timing, are folded into one `loop` block before each status the Assistant Proxy acted on.

`sequence_mermaid` writes Mermaid `sequenceDiagram` text; `sequence_svg` draws the same rows as
SVG directly, since Graphviz has no sequence layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import conversation
from mediator.events import (
    ActionRequired,
    ExchangeCancelled,
    ExchangeFailed,
    MediatorEvent,
    MessageDelta,
    MessageRetrieved,
    MessageSent,
    StateChanged,
    ToolExecuted,
    ToolOutputsSubmitted,
)
from mediator.script import Trigger

PROMPT = "Should I buy MSFT?"
#: The recorded exchange: offline, polling, the enforcing mediator, no database written.
TRACE_SETTINGS = {
    "ASSISTANT_BACKEND": "offline",
    "DELIVERY": "poll",
    "MEDIATOR_TYPE": "stateMachine",
    "RECORD_EVENTS": "false",
}
PARTICIPANTS: tuple[tuple[str, str], ...] = (
    ("User", "User / app"),
    ("Tools", "Function tools"),
    ("UP", "User Proxy"),
    ("Med", "Mediator"),
    ("AP", "Assistant Proxy"),
    ("API", "Assistant API (emulator)"),
)
POLL_LABEL = "poll until the run needs action or ends"
# Remote ids by their prefix, and the mediator's exchange ids (32 hex digits, no prefix).
_ID = re.compile(r"\b(?:(thread|conv|run|exch|resp|call|fc|msg|step)_[0-9A-Za-z]+|[0-9a-f]{32})\b")


@dataclass(frozen=True, slots=True)
class Message:
    source: str
    target: str
    text: str
    reply: bool = False


@dataclass(frozen=True, slots=True)
class Note:
    over: str
    text: str


@dataclass(frozen=True, slots=True)
class Loop:
    label: str
    rows: tuple[Message, ...]


Row = Message | Note | Loop


async def record_trace(prompt: str = PROMPT) -> list[MediatorEvent]:
    """Every event of one real offline exchange, in publication order."""
    settings = conversation.load_settings(TRACE_SETTINGS, dotenv_path=None)
    events: list[MediatorEvent] = []
    async with conversation.open_conversation(settings=settings) as chat:
        with chat.on_event(events.append):
            await chat.ask(prompt)
    return events


@dataclass
class _Ids:
    """Stable placeholders for remote ids: the first `exch_...` seen becomes `exch_1`."""

    seen: dict[str, str] = field(default_factory=dict)

    def __call__(self, text: str) -> str:
        def placeholder(match: re.Match[str]) -> str:
            kind = match.group(1) or "exch"
            if match.group(0) not in self.seen:
                count = sum(1 for v in self.seen.values() if v.startswith(f"{kind}_"))
                self.seen[match.group(0)] = f"{kind}_{count + 1}"
            return self.seen[match.group(0)]

        return _ID.sub(placeholder, text)


def _keys(payload: str) -> str:
    """`{"symbol": "MSFT", "price": 1.5}` -> `symbol, price`: the shape, not the values."""
    try:
        value = json.loads(payload)
    except ValueError:
        return "text"
    return ", ".join(value) if isinstance(value, dict) else type(value).__name__


def _groups(events: Iterable[MediatorEvent]) -> list[tuple[StateChanged, list[MediatorEvent]]]:
    """Each state change with the events published after it, up to the next change."""
    groups: list[tuple[StateChanged, list[MediatorEvent]]] = []
    for event in events:
        if isinstance(event, StateChanged):
            groups.append((event, []))
        elif groups:
            groups[-1][1].append(event)
    return groups


def _poll(run: str, outcome: str) -> Loop:
    return Loop(
        POLL_LABEL,
        (Message("AP", "API", f"retrieve {run}"), Message("API", "AP", outcome, reply=True)),
    )


def _before(trigger: Trigger, run: str, details: list[MediatorEvent], streamed: bool) -> list[Row]:
    """The calls that lead to `trigger`, drawn before the Mediator hears of it."""
    if trigger is Trigger.SET_USER_MESSAGE:
        sent = next((e for e in details if isinstance(e, MessageSent)), None)
        text = f'"{sent.text}"' if sent else "a message"
        return [Message("User", "UP", f"send_user_message({text})")]
    if trigger is Trigger.STARTED:
        return [Message("AP", "API", "start a run"), Message("API", "AP", f"{run}: queued", True)]
    if trigger is Trigger.ACTION_REQUIRED:
        return [_poll(run, "requires_action + tool calls")]
    if trigger is Trigger.TOOLS_EXECUTED:
        rows: list[Row] = []
        for e in details:
            if isinstance(e, ToolExecuted):
                rows.append(Message("UP", "Tools", f"{e.call.name}({_keys(e.call.arguments)})"))
                rows.append(Message("Tools", "UP", f"{{{_keys(e.result.output)}}}", reply=True))
        return rows
    if trigger is Trigger.TOOL_OUTPUTS_SUBMITTED:
        count = sum(len(e.results) for e in details if isinstance(e, ToolOutputsSubmitted))
        return [
            Message("Med", "AP", "submit the outputs"),
            Message("AP", "API", f"submit {count} tool output{'s' * (count != 1)}"),
            Message("API", "AP", f"{run}: queued", reply=True),
        ]
    if trigger is Trigger.ASSISTANT_MESSAGE_RETRIEVED:
        rows = [
            _poll(run, "completed"),
            Message("AP", "API", "fetch the reply"),
            Message("API", "AP", "message", reply=True),
        ]
        if streamed:  # polling hands the whole reply over as one delta, streaming as many
            rows.append(Message("AP", "Med", "message_delta (the reply text)"))
        return rows
    return []


def _after(details: list[MediatorEvent]) -> list[Row]:
    """What the Mediator does once in the new state."""
    rows: list[Row] = []
    for e in details:
        if isinstance(e, MessageSent):
            rows.append(Message("Med", "AP", "start the exchange"))
        elif isinstance(e, ActionRequired):
            calls = ", ".join(f"{c.name}({_keys(c.arguments)})" for c in e.tool_calls)
            rows.append(Message("Med", "UP", f"execute_tools: {calls}"))
        elif isinstance(e, MessageRetrieved):
            rows.append(Message("Med", "UP", "deliver_reply"))
            rows.append(Message("UP", "User", "the reply", reply=True))
        elif isinstance(e, ExchangeFailed | ExchangeCancelled):
            rows.append(Message("Med", "UP", "deliver_error"))
            rows.append(Message("UP", "User", f"{type(e).__name__}Error", reply=True))
    return rows


_FIRED_BY_USER_PROXY = (Trigger.SET_USER_MESSAGE, Trigger.TOOLS_EXECUTED)


def trace_rows(events: Sequence[MediatorEvent]) -> list[Row]:
    """The diagram rows for a recorded exchange."""
    ids = _Ids()
    rows: list[Row] = []
    streamed = False
    for change, details in _groups(events):
        streamed = streamed or any(isinstance(e, MessageDelta) for e in details)
        if change.trigger is Trigger.HEARTBEAT:
            continue  # a poll that found the run active: part of the next poll loop
        run = ids(change.run_id) if change.run_id else "the run"
        rows += _before(change.trigger, run, details, streamed)
        source = "UP" if change.trigger in _FIRED_BY_USER_PROXY else "AP"
        rows.append(Message(source, "Med", change.trigger.value))
        rows.append(Note("Med", change.state.value))
        rows += _after(details)
    return rows


# -- rendering ------------------------------------------------------------------------------


def sequence_mermaid(rows: Sequence[Row]) -> str:
    lines = ["sequenceDiagram"]
    lines += [f"    participant {pid} as {label}" for pid, label in PARTICIPANTS]

    def message(m: Message, indent: str) -> str:
        return f"{indent}{m.source}{'-->>' if m.reply else '->>'}{m.target}: {m.text}"

    for row in rows:
        if isinstance(row, Message):
            lines.append(message(row, "    "))
        elif isinstance(row, Note):
            lines.append(f"    Note over {row.over}: {row.text}")
        else:
            lines.append(f"    loop {row.label}")
            lines += [message(m, "        ") for m in row.rows]
            lines.append("    end")
    return "\n".join(lines) + "\n"


COLUMN = 200
ROW = 30
MARGIN = 20
HEAD = 40
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def sequence_svg(rows: Sequence[Row]) -> str:
    """Draw the rows as an SVG sequence diagram (lifelines, arrows, notes, loop boxes)."""
    x = {pid: MARGIN + COLUMN // 2 + i * COLUMN for i, (pid, _) in enumerate(PARTICIPANTS)}
    width = 2 * MARGIN + COLUMN * len(PARTICIPANTS)
    body: list[str] = []
    y = MARGIN + HEAD + 20

    def text(tx: float, ty: float, value: str, extra: str = "") -> str:
        return f'<text x="{tx:g}" y="{ty:g}" {FONT} font-size="12" {extra}>{escape(value)}</text>'

    def arrow(m: Message, at: int) -> None:
        x1, x2 = x[m.source], x[m.target]
        dash = ' stroke-dasharray="6 4"' if m.reply else ""
        marker = "open" if m.reply else "solid"
        body.append(
            f'<line x1="{x1}" y1="{at}" x2="{x2}" y2="{at}" stroke="#333"{dash} '
            f'marker-end="url(#{marker})"/>'
        )
        body.append(text((x1 + x2) / 2, at - 6, m.text, 'text-anchor="middle"'))

    for row in rows:
        if isinstance(row, Message):
            y += ROW
            arrow(row, y)
        elif isinstance(row, Note):
            y += ROW
            w = 16 + 7 * len(row.text)
            body.append(
                f'<rect x="{x[row.over] - w / 2:g}" y="{y - 17}" width="{w}" height="24" '
                f'fill="#fff8c4" stroke="#c9b458"/>'
            )
            body.append(text(x[row.over], y, row.text, 'text-anchor="middle"'))
        else:
            top = y + 8
            y += 10  # room for the loop's label
            for m in row.rows:
                y += ROW
                arrow(m, y + 14)
            y += 24
            left, right = x["AP"] - 70, x["API"] + 70
            body.append(
                f'<rect x="{left}" y="{top}" width="{right - left}" height="{y - top}" '
                f'fill="none" stroke="#7a7a7a"/>'
            )
            body.append(text(left + 6, top + 14, f"loop [{row.label}]", 'font-weight="bold"'))
    bottom = y + 30
    height = bottom + HEAD + MARGIN
    heads: list[str] = []
    for pid, label in PARTICIPANTS:
        for top in (MARGIN, bottom):
            heads.append(
                f'<rect x="{x[pid] - 85}" y="{top}" width="170" height="{HEAD}" rx="4" '
                f'fill="#eef3fb" stroke="#4a6fa5"/>'
            )
            heads.append(text(x[pid], top + HEAD / 2 + 4, label, 'text-anchor="middle"'))
        heads.append(
            f'<line x1="{x[pid]}" y1="{MARGIN + HEAD}" x2="{x[pid]}" y2="{bottom}" '
            f'stroke="#999" stroke-dasharray="4 4"/>'
        )
    defs = (
        "<defs>"
        '<marker id="solid" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker>'
        '<marker id="open" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10" fill="none" '
        'stroke="#333"/></marker>'
        "</defs>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n{defs}\n'
        + "\n".join(heads + body)
        + "\n</svg>\n"
    )
