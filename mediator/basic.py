"""`MediatorBasic`: the interaction script as a plain dict, with no precondition checks.

Every trigger in `SCRIPT` has exactly one destination, so the dict maps trigger -> state and the
mediator moves there whatever the current state is. A trigger the script does not allow in the
current state is accepted all the same (logged at debug level as "off script"): the seed's
basic mediator trusted its callers, and this one keeps that contract. Where a trigger *is*
allowed, the move is the script's own, so on every valid sequence this mediator and
`MediatorStateMachine` agree state for state and event for event.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Final

from mediator.base import Mediator
from mediator.script import SCRIPT, State, Trigger, next_state

__all__ = ["MediatorBasic"]

_logger = logging.getLogger(__name__)

_DESTINATIONS: Final[dict[Trigger, State]] = {row.trigger: row.dest for row in SCRIPT}


class MediatorBasic(Mediator):
    """A mediator that follows the script without enforcing it (any trigger, any state)."""

    kind: ClassVar[str] = "basic"

    def __init__(self, *, conversation_id: str | None = None) -> None:
        super().__init__(conversation_id=conversation_id)
        self._state = State.NEW

    @property
    def state(self) -> State:
        return self._state

    def _apply(self, trigger: Trigger) -> None:
        if next_state(self._state, trigger) is None:
            _logger.debug("off script: %s in state %s accepted", trigger, self._state)
        self._state = _DESTINATIONS[trigger]
