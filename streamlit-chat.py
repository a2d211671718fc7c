"""Chat with an assistant in the browser: `streamlit run streamlit-chat.py`.

One conversation per browser session: only its thread id and transcript live in
`st.session_state`; nothing is shared between sessions. Each prompt opens the conversation on a
fresh event loop, runs one exchange and closes it, so no loop-bound object outlives a rerun.
Each tool call appears once, as a "System" message in the compact form of
`conversation.tool_call_line`, with its full input and output in an expander; all of it is
plain text (tool input and output are untrusted). The run's states show live in a status box.

Each reply is followed by its tokens and cost, and the conversation's add up under the heading
("no price known" for a model the price table does not know, never a guessed figure).

The page keeps its conversation in the URL (`?conversation=ID`): reloading it, or opening the
link in another browser, rebuilds the transcript from the recorded history, and an exchange
whose process died before it ended (the journal says so) is finished live, tools already run
not run again.

A tool call that needs approval (`APPROVE_TOOLS`, or the tool's rule) stops the exchange where
it stands: it is left for later (`UserProxy.suspend`, pending in the journal, the run waiting on
the server) and the turn shows Approve / Reject buttons, the chat input disabled. Once every
call is answered the exchange is resumed with the answers, exactly as after a restart; a reload
while it waits asks again. The answers live in this session's state only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.elements.lib.mutable_status_container import StatusContainer

import conversation
from conversation import (
    ActionRequired,
    ApprovalRequested,
    MediatorEvent,
    MessageDelta,
    Spend,
    StateChanged,
    ToolCallDetail,
    ToolExecuted,
    UsageReported,
    call_summary,
    tool_call_detail,
    tool_call_line,
)
from persistence import TranscriptCall, TranscriptTurn
from tools import ToolCall, ToolResult

SYSTEM_AVATAR = ":material/build:"
OFFLINE_NOTE = "Offline demo: built-in emulator, simulated quotes"
NEW_CONVERSATION = "New conversation"
NEW_HELP = (
    "End this conversation and start a fresh one with the assistant ID above. Not needed to "
    "begin: your first message starts a conversation."
)
TITLE_LIMIT = 80
CONVERSATION_PARAM = "conversation"
NOT_RECORDED = (
    "Earlier messages of this conversation are not shown: recording is off (RECORD_EVENTS). "
    "New messages continue it."
)
NO_OUTCOME = "(no outcome recorded: the process running it stopped)"
NO_ASSISTANT = (
    "No assistant ID: set ASSISTANT_ID (in `.env` or the environment) or run "
    "`python assistant_setup.py --write-env`, or enter an ID in the sidebar."
)


# -- what a turn is, and how events become lines (no Streamlit here) -------------------------


@dataclass(frozen=True)
class ToolCallShown:
    """One tool call as the page shows it: the compact line, and the full form behind it."""

    line: str
    detail: ToolCallDetail


@dataclass(frozen=True)
class ApprovalShown:
    """A tool call waiting for this session's answer: its compact form and why it waits."""

    call_id: str
    line: str
    why: str


@dataclass
class Turn:
    """One prompt and everything its exchange produced, kept to redraw the page on rerun."""

    prompt: str
    tool_calls: list[ToolCallShown] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    reply: str | None = None
    error: str | None = None
    spend: Spend = field(default_factory=Spend)
    waiting: list[ApprovalShown] = field(default_factory=list)
    """Calls its exchange was left waiting for (it resumes once each is answered)."""


def shown_call(call: TranscriptCall) -> ToolCallShown:
    """A recorded tool call in the same form as one just executed."""
    request = ToolCall(call.call_id, call.name, call.arguments)
    result = ToolResult(
        call.call_id,
        call.name,
        call.output if call.output is not None else NO_OUTCOME,
        is_error=call.is_error,
        error_type=call.error_type,
        duration_s=call.duration_s,
    )
    line = tool_call_line(request, result if call.output is not None else None)
    return ToolCallShown(line, tool_call_detail(request, result))


def turn_from_record(recorded: TranscriptTurn) -> Turn:
    """A turn of the recorded history, as the page keeps it."""
    turn = Turn(recorded.prompt, [shown_call(call) for call in recorded.calls])
    turn.reply = recorded.reply
    turn.spend = recorded.spend
    if recorded.reply is None:
        turn.error = recorded.error or (
            "No reply was recorded" + (f" (run {recorded.status})." if recorded.status else ".")
        )
    return turn


def event_line(event: MediatorEvent, *, everything: bool) -> str | None:
    """The status line for `event`: state changes, or every event if asked.

    Tool calls never: each is shown once, as its System message.
    """
    if isinstance(event, MessageDelta | ToolExecuted | ActionRequired):
        return None
    if everything or isinstance(event, StateChanged):
        return str(event)
    return None


def ids_line(assistant_id: str) -> str:
    """Who and which conversation, and what the conversation has used so far."""
    thread_id = st.session_state.thread_id
    line = f"Assistant {assistant_id}" + (f" · conversation {thread_id}" if thread_id else "")
    spend = conversation_spend(st.session_state.turns)
    return line + (
        f" · {spend.usage.total_tokens:,} tokens, {spend.cost_text}" if spend.reports else ""
    )


def conversation_spend(turns: list[Turn]) -> Spend:
    return sum((turn.spend for turn in turns), start=Spend())


def spend_line(spend: Spend) -> str:
    """One exchange's usage, under its reply: ``Tokens: 580 in / 21 out · $0.000123``."""
    return f"Tokens: {spend.usage} · {spend.cost_text}"


def title_of(turns: list[Turn]) -> str:
    """The conversation's heading: its first message, on one line (as the history page)."""
    if not turns:
        return NEW_CONVERSATION
    first = " ".join(turns[0].prompt.split())
    return first if len(first) <= TITLE_LIMIT else first[: TITLE_LIMIT - 1] + "…"


def as_markdown(text: str) -> str:
    """Keep the reply's line breaks: a single newline is a hard break, not a space."""
    return text.replace("\n", "  \n")


def error_title(exc: conversation.ExchangeError) -> str:
    if isinstance(exc, conversation.ExchangeTimeoutError):
        return "The assistant did not answer in time"
    if isinstance(exc, conversation.ExchangeCancelledError):
        return "The exchange was cancelled"
    return "The assistant could not answer"


def status_label(turn: Turn) -> str:
    if turn.waiting:
        count = len(turn.waiting)
        return f"Waiting for your approval: {count} tool call{'' if count == 1 else 's'}"
    calls = len(turn.tool_calls)
    done = "Failed" if turn.error else "Completed"
    return f"{done}: {calls} tool call{'' if calls == 1 else 's'}"


def status_state(turn: Turn) -> Literal["running", "complete", "error"]:
    return "error" if turn.error else "running" if turn.waiting else "complete"


def run_stream(make: Callable[[], AsyncGenerator[str]]) -> Generator[str]:
    """Pull an async generator's chunks on one fresh event loop (what `asyncio.run` does).

    `st.write_stream` must pull the reply chunk by chunk, so the exchange cannot simply be
    `asyncio.run` to completion; `asyncio.Runner` is the machinery of `asyncio.run`, kept open
    while the chunks are pulled and closed (tasks cancelled, loop closed) at the end.
    """
    with asyncio.Runner() as runner:
        agen = make()

        async def step() -> str:
            return await anext(agen)

        try:
            while True:
                try:
                    chunk = runner.run(step())
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            runner.run(agen.aclose())


# -- the exchange ---------------------------------------------------------------------------


class LiveView:
    """Where one exchange is drawn while it runs: a status box and the System messages."""

    def __init__(
        self, turn: Turn, status: StatusContainer, tools_area: DeltaGenerator, everything: bool
    ) -> None:
        self.turn, self.status, self.tools_area = turn, status, tools_area
        self.everything = everything

    def show(self, event: MediatorEvent) -> None:
        if isinstance(event, UsageReported):
            self.turn.spend = self.turn.spend.plus(event.usage, event.cost_usd)
        shown_ids = {shown.detail.call_id for shown in self.turn.tool_calls}
        if isinstance(event, ToolExecuted) and event.call.id not in shown_ids:
            shown = ToolCallShown(
                tool_call_line(event.call, event.result), tool_call_detail(event.call, event.result)
            )
            self.turn.tool_calls.append(shown)
            with self.tools_area:
                show_tool_call(shown)
        if isinstance(event, StateChanged):
            self.status.update(label=f"Running: {event.state}")
        if (text := event_line(event, everything=self.everything)) is not None:
            self.turn.events.append(text)
            self.status.text(text)


async def follow(
    chat: conversation.UserProxy, reply: Awaitable[str], turn: Turn, view: LiveView
) -> AsyncGenerator[str]:
    """Await `reply` from `chat`; draw its events as they arrive and yield the reply's text.

    When tool calls wait for approval, the exchange is left for later (`suspend`) and the
    turn keeps them: awaiting the reply then raises `ExchangeSuspendedError`.
    """
    inbox: asyncio.Queue[MediatorEvent | None] = asyncio.Queue()
    streamed = False
    with chat.on_event(inbox.put_nowait):  # this conversation only, closed on exit
        asking = asyncio.ensure_future(reply)
        asking.add_done_callback(lambda _: inbox.put_nowait(None))
        try:
            while (event := await inbox.get()) is not None:
                if isinstance(event, ApprovalRequested) and not turn.waiting:
                    waiting = chat.pending_approvals  # the whole round, asked together
                    if any(r.call.id == event.call.id for r in waiting):
                        turn.waiting = [
                            ApprovalShown(r.call.id, call_summary(r.call), r.why) for r in waiting
                        ]
                        await chat.suspend()
                    view.show(event)
                elif isinstance(event, MessageDelta):
                    streamed = True
                    yield as_markdown(event.delta)
                else:
                    view.show(event)
            text = await asking  # raises the exchange's ExchangeError
        finally:  # a rerun or stop mid-exchange: stop waiting, leave no task behind
            asking.cancel()
            await asyncio.gather(asking, return_exceptions=True)
        while not inbox.empty():
            if (late := inbox.get_nowait()) is not None and not isinstance(late, MessageDelta):
                view.show(late)
    turn.reply = text
    if not streamed:
        yield as_markdown(text)


async def exchange(
    settings: conversation.Settings, assistant_id: str, turn: Turn, view: LiveView
) -> AsyncGenerator[str]:
    """Run one exchange in the session's conversation (opened first if it has none)."""
    thread_id = st.session_state.thread_id
    async with conversation.open_conversation(
        assistant_id, settings=settings, thread_id=thread_id
    ) as chat:
        st.session_state.thread_id = chat.conversation_id
        async for chunk in follow(chat, chat.ask(turn.prompt), turn, view):
            yield chunk


async def finish_interrupted(
    settings: conversation.Settings,
    conversation_id: str,
    turn: Turn,
    view: LiveView,
    answers: dict[str, bool] | None = None,
) -> AsyncGenerator[str]:
    """Finish the exchange an earlier process (or an earlier run of this page, waiting for
    approval) left unended, sending nothing twice; `answers` approve or reject its calls."""
    chat = conversation.resume_conversation(conversation_id, settings=settings)
    try:
        for call_id, approved in (answers or {}).items():
            # Answered meanwhile (another tab on the same conversation): nothing to do.
            with contextlib.suppress(conversation.ApprovalNotPendingError):
                if approved:
                    chat.approve(call_id)
                else:
                    chat.reject(call_id)
        async for chunk in follow(chat, chat.get_assistant_message(), turn, view):
            yield chunk
    finally:
        await chat.aclose()


async def open_thread(settings: conversation.Settings, assistant_id: str) -> str | None:
    async with conversation.open_conversation(assistant_id, settings=settings) as chat:
        return chat.conversation_id


# -- drawing --------------------------------------------------------------------------------


def show_tool_call(shown: ToolCallShown) -> None:
    """The System message of one call: its compact line; input and output one click away."""
    detail = shown.detail
    with st.chat_message("System", avatar=SYSTEM_AVATAR):
        st.text(shown.line)
        outcome = f"failed ({detail.error_type})" if detail.error_type else "output"
        with st.expander(f"Input and {outcome} · {detail.duration_s * 1000:.0f} ms"):
            st.caption(f"Arguments of {detail.name} (call {detail.call_id})")
            st.code(detail.arguments, language=None, wrap_lines=True)
            st.caption("Output")
            st.code(detail.output, language=None, wrap_lines=True)


def answer(call_id: str, approved: bool) -> None:
    """A button's callback: keep this session's answer (the exchange resumes on the rerun)."""
    st.session_state.answers[call_id] = approved


def show_approvals(turn: Turn) -> None:
    """Each call the turn waits for: Approve / Reject, or the answer already given."""
    answers: dict[str, bool] = st.session_state.answers
    for shown in turn.waiting:
        st.text(f"Approve {shown.line}?")
        st.caption(shown.why)
        if shown.call_id in answers:
            st.text("Approved" if answers[shown.call_id] else "Rejected")
            continue
        left, right, _ = st.columns([2, 2, 5])
        left.button(
            "Approve",
            key=f"approve-{shown.call_id}",
            icon=":material/check:",
            type="primary",
            on_click=answer,
            args=(shown.call_id, True),
        )
        right.button(
            "Reject",
            key=f"reject-{shown.call_id}",
            icon=":material/close:",
            on_click=answer,
            args=(shown.call_id, False),
        )


def show_turn(turn: Turn) -> None:
    """Redraw a finished turn from the session's transcript."""
    with st.chat_message("user"):
        st.markdown(turn.prompt)
    for shown in turn.tool_calls:
        show_tool_call(shown)
    with st.chat_message("assistant"):
        with st.status(status_label(turn), state=status_state(turn)):
            for line in turn.events:
                st.text(line)
        if turn.reply is not None:
            st.markdown(as_markdown(turn.reply))
        if turn.error is not None:
            st.error(turn.error)
        if turn.spend.reports:
            st.caption(spend_line(turn.spend))
        if turn.waiting:
            show_approvals(turn)


Produce = Callable[[Turn, "LiveView"], AsyncGenerator[str]]


def run_turn(prompt: str, produce: Produce, earlier: list[ToolCallShown] | None = None) -> None:
    """Draw one exchange live as `produce` runs it, then keep it in the transcript; `earlier`
    are its tool calls already shown (before it waited for approval)."""
    turn = Turn(prompt, list(earlier or []))
    with st.chat_message("user"):
        st.markdown(prompt)
    for shown in turn.tool_calls:
        show_tool_call(shown)
    tools_area = st.container()
    try:
        with st.chat_message("assistant"):
            everything = bool(st.session_state.get("live", False))
            status = st.status("Running: ready", expanded=everything)
            view = LiveView(turn, status, tools_area, everything)
            stream = run_stream(lambda: produce(turn, view))
            try:
                with contextlib.closing(stream):
                    st.write_stream(stream)
            except conversation.ExchangeSuspendedError:
                pass  # it waits for this session's answers: `turn.waiting` says for what
            except conversation.ExchangeError as exc:
                turn.error = f"{error_title(exc)}: {exc}"
            except Exception as exc:  # the page must survive an unexpected backend error
                turn.error = f"Something went wrong ({type(exc).__name__}): {exc}"
            if turn.error is not None:
                st.error(turn.error)
            if turn.spend.reports:
                st.caption(spend_line(turn.spend))
            status.update(
                label=status_label(turn),
                state=status_state(turn),
                expanded=False,
            )
            if turn.waiting:
                show_approvals(turn)
    finally:  # also on rerun/stop (BaseException): the prompt stays in the transcript
        if turn.reply is None and turn.error is None and not turn.waiting:
            turn.error = "Interrupted before the reply arrived."
        st.session_state.turns.append(turn)


def start_new(settings: conversation.Settings, assistant_id: str) -> None:
    st.session_state.turns = []
    st.session_state.thread_id = None
    st.session_state.assistant_id = assistant_id
    try:
        st.session_state.thread_id = asyncio.run(open_thread(settings, assistant_id))
    except Exception as exc:
        st.session_state.start_error = (
            f"Could not start a conversation ({type(exc).__name__}): {exc}"
        )


def reopen(settings: conversation.Settings, conversation_id: str) -> None:
    """Make `conversation_id` (from the URL) this session's conversation, its history redrawn."""
    st.session_state.turns = []
    st.session_state.thread_id = None
    st.session_state.pending = None
    try:
        transcript = conversation.recorded_transcript(conversation_id, settings)
        pending = conversation.interrupted_exchange(conversation_id, settings)
    except conversation.ToolkitError as exc:
        st.session_state.start_error = f"Could not reopen conversation {conversation_id}: {exc}"
        return
    if transcript is None and pending is None and settings.record_events:
        st.session_state.start_error = (
            f"No recorded conversation {conversation_id}: type a message to start a new one."
        )
        return
    st.session_state.thread_id = conversation_id
    recorded = transcript.turns if transcript is not None else ()
    st.session_state.turns = [
        turn_from_record(t)
        for t in recorded
        if pending is None or t.exchange_id != pending.exchange_id
    ]
    assistant = (transcript.assistant_id if transcript else None) or (
        pending.assistant_id if pending else None
    )
    if assistant:
        st.session_state.assistant_id = assistant
    st.session_state.pending = pending
    if transcript is None:
        st.session_state.start_error = NOT_RECORDED


def follow_url(settings: conversation.Settings) -> None:
    """Reopen the conversation the URL names, unless it is already this session's."""
    wanted = st.query_params.get(CONVERSATION_PARAM)
    if wanted and wanted != st.session_state.thread_id:
        reopen(settings, wanted)


def sync_url() -> None:
    """Name the session's conversation in the URL, so a reload or a shared link reopens it."""
    thread_id = st.session_state.thread_id
    if thread_id and st.query_params.get(CONVERSATION_PARAM) != thread_id:
        st.query_params[CONVERSATION_PARAM] = thread_id
    elif not thread_id and CONVERSATION_PARAM in st.query_params:
        del st.query_params[CONVERSATION_PARAM]


def sidebar(settings: conversation.Settings) -> str:
    """The assistant id field, New conversation, and the live toggle; returns the field."""
    with st.sidebar:
        st.title("Assistant chat")
        default = settings.assistant_id or (
            conversation.DEMO_ASSISTANT_ID if settings.keyless else ""
        )
        assistant_id = st.text_input("Assistant ID", value=default, key="asst_id").strip()
        if st.button(
            NEW_CONVERSATION,
            key="new_conversation",
            icon=":material/add_comment:",
            help=NEW_HELP,
            disabled=not assistant_id,
        ):
            start_new(settings, assistant_id)
        st.toggle("show every event live", key="live")
        if settings.offline:
            st.caption(OFFLINE_NOTE)
    return assistant_id


@st.cache_resource(show_spinner=False)
def tracing() -> str | None:
    """OpenTelemetry as the OTEL_* variables ask, once per server process (it owns it)."""
    return conversation.configure_tracing()


def answered_turn() -> tuple[Turn, dict[str, bool]] | None:
    """The last turn and its answers, taken out of the transcript, once every call it waits
    for is answered: its exchange is resumed (and the turn redrawn whole) with them."""
    turns: list[Turn] = st.session_state.turns
    answers: dict[str, bool] = st.session_state.answers
    if not turns or not turns[-1].waiting:
        return None
    if any(shown.call_id not in answers for shown in turns[-1].waiting):
        return None
    waited = turns.pop()
    return waited, {shown.call_id: answers.pop(shown.call_id) for shown in waited.waiting}


def finish_left_exchanges(
    settings: conversation.Settings, answered: tuple[Turn, dict[str, bool]] | None
) -> bool:
    """Finish, live, an exchange a dead process left (from the URL) or one that waited for
    the approvals just answered; True if one ran."""
    thread_id = st.session_state.thread_id
    if pending := st.session_state.pop("pending", None):
        run_turn(
            pending.text, lambda turn, view: finish_interrupted(settings, thread_id, turn, view)
        )
        return True
    if answered is not None:
        waited, given = answered
        run_turn(
            waited.prompt,
            lambda turn, view: finish_interrupted(settings, thread_id, turn, view, given),
            waited.tool_calls,
        )
        return True
    return False


def main() -> None:
    st.set_page_config(page_title="Assistant chat", page_icon="💬")
    if problem := tracing():
        st.warning(problem)
    st.session_state.setdefault("turns", [])
    st.session_state.setdefault("thread_id", None)
    st.session_state.setdefault("answers", {})
    try:
        settings = conversation.load_settings()
    except conversation.SettingsError as exc:
        st.error(f"Configuration error: {exc}")
        st.stop()
    follow_url(settings)
    field_id = sidebar(settings)
    assistant_id = st.session_state.get("assistant_id") or field_id
    header = st.empty()  # redrawn once the first prompt has given the conversation a title
    header.header(title_of(st.session_state.turns), anchor=False)
    if error := st.session_state.pop("start_error", None):
        st.error(error)
    ids = st.empty()  # like the header: the conversation id exists after the first prompt
    if not assistant_id:
        st.warning(NO_ASSISTANT)
    else:
        ids.caption(ids_line(assistant_id))
    answered = answered_turn()
    for turn in st.session_state.turns:
        show_turn(turn)
    if finish_left_exchanges(settings, answered):
        header.header(title_of(st.session_state.turns), anchor=False)
        if assistant_id:
            ids.caption(ids_line(assistant_id))
    waiting = any(turn.waiting for turn in st.session_state.turns)
    prompt = st.chat_input(
        "Answer the approval above first" if waiting else "Ask the assistant",
        submit_mode="disable",
        disabled=not assistant_id or waiting,
        key="prompt",
    )
    if prompt and prompt.strip() and assistant_id:
        st.session_state.assistant_id = assistant_id
        run_turn(prompt.strip(), lambda turn, view: exchange(settings, assistant_id, turn, view))
        header.header(title_of(st.session_state.turns), anchor=False)
        ids.caption(ids_line(assistant_id))
        if st.session_state.turns[-1].waiting:  # drawn above the input: draw the page again,
            sync_url()  # with the input disabled until the approval is answered
            st.rerun()
    sync_url()


main()
