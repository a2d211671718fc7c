"""The two proxies: the User Proxy (acts for the user, runs tools) and the Assistant Proxy
(the only code that calls the remote API, through a `backends.base.Backend`)."""

from __future__ import annotations

from proxies.assistant_proxy import AssistantProxy
from proxies.policy import ExchangePolicy
from proxies.user_proxy import ConversationBusyError, UserProxy

__all__ = ["AssistantProxy", "ConversationBusyError", "ExchangePolicy", "UserProxy"]
