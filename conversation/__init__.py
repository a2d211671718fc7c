"""Public API: start a mediated conversation with an assistant.

Every error the toolkit raises on purpose is a `ToolkitError`: settings (`SettingsError`), the
exchange (`ExchangeError` and its kinds), the remote API outside an exchange (`BackendError`,
e.g. from `open_conversation`), the database (`PersistenceError`).

import conversation
user_proxy = conversation.start_conversation(assistant_id)
user_proxy.send_user_message("What is the price of AAPL?")
print(await user_proxy.get_assistant_message())
"""

from __future__ import annotations

from conversation.api import (
    open_conversation,
    resume_conversation,
    start_conversation,
    unfinished_conversations,
)
from conversation.demo import DEMO_ASSISTANT_ID
from conversation.environment import expose_dotenv
from conversation.settings import Settings, SettingsError, load_settings
from conversation.tracing import configure_tracing
from conversation.transcripts import interrupted_exchange, recorded_transcript
from mediator.approvals import ApprovalDecision, ApprovalRequest
from mediator.errors import (
    ApprovalNotPendingError,
    ExchangeCancelledError,
    ExchangeError,
    ExchangeFailedError,
    ExchangeSuspendedError,
    ExchangeTimeoutError,
    ToolkitError,
)
from mediator.events import (
    ActionRequired,
    ApprovalGiven,
    ApprovalRejected,
    ApprovalRequested,
    ConversationBound,
    ExchangeCancelled,
    ExchangeFailed,
    MediatorEvent,
    MessageDelta,
    MessageRetrieved,
    MessageSent,
    Reconciled,
    RunStarted,
    RunStatusChecked,
    StateChanged,
    ToolExecuted,
    ToolOutputsSubmitted,
    UsageReported,
)
from mediator.script import State
from mediator.usage import Spend, Usage, format_usd
from persistence.errors import PersistenceError
from proxies.errors import BackendError
from proxies.policy import ExchangePolicy
from proxies.user_proxy import ConversationBusyError, UserProxy
from tools.formatting import (
    ToolCallDetail,
    call_summary,
    pretty_json,
    tool_call_detail,
    tool_call_line,
)

expose_dotenv()  # the seed's snippet reads os.environ["ASSISTANT_ID"] kept in .env

__all__ = [
    "DEMO_ASSISTANT_ID",
    "ActionRequired",
    "ApprovalDecision",
    "ApprovalGiven",
    "ApprovalNotPendingError",
    "ApprovalRejected",
    "ApprovalRequest",
    "ApprovalRequested",
    "BackendError",
    "ConversationBound",
    "ConversationBusyError",
    "ExchangeCancelled",
    "ExchangeCancelledError",
    "ExchangeError",
    "ExchangeFailed",
    "ExchangeFailedError",
    "ExchangeSuspendedError",
    "ExchangePolicy",
    "ExchangeTimeoutError",
    "MediatorEvent",
    "MessageDelta",
    "MessageRetrieved",
    "MessageSent",
    "PersistenceError",
    "Reconciled",
    "RunStarted",
    "RunStatusChecked",
    "Settings",
    "SettingsError",
    "Spend",
    "State",
    "StateChanged",
    "ToolCallDetail",
    "ToolExecuted",
    "ToolOutputsSubmitted",
    "ToolkitError",
    "Usage",
    "UsageReported",
    "UserProxy",
    "call_summary",
    "interrupted_exchange",
    "configure_tracing",
    "format_usd",
    "load_settings",
    "open_conversation",
    "pretty_json",
    "recorded_transcript",
    "resume_conversation",
    "start_conversation",
    "tool_call_detail",
    "tool_call_line",
    "unfinished_conversations",
]
