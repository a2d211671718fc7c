"""`MediatorStateMachine`: the interaction script enforced by `transitions.Machine`.

The only module that imports `transitions`. The machine is built from `SCRIPT` with
``queued=True`` (a trigger fired while another is being processed runs after it, never nested),
``auto_transitions=False`` (no ``to_<state>()`` side doors) and ``ignore_invalid_triggers=False``:
a trigger the script forbids raises `InvalidTransitionError(state, trigger)`, translated from
`transitions.MachineError`, and leaves the state unchanged. It is never a silent no-op.

The machine drives a private model object rather than the mediator itself, so the methods
`transitions` generates (one per trigger, ``is_<state>``, ``may_<trigger>``) cannot shadow the
mediator's own trigger methods. No callbacks are registered on the machine: publishing and
routing live in `Mediator`, shared with `MediatorBasic`, and nothing awaits or polls inside a
transition.
"""

from __future__ import annotations

from typing import Any, ClassVar

from transitions import Machine, MachineError

from mediator.base import Mediator
from mediator.errors import InvalidTransitionError, MediatorError
from mediator.script import SCRIPT, State, Trigger, next_state

__all__ = ["MediatorStateMachine"]


class _Model:
    """The object `transitions` keeps the state on (attribute ``state``)."""

    state: State


def _machine_transitions() -> list[dict[str, Any]]:
    return [
        {"trigger": row.trigger.value, "source": sorted(row.sources), "dest": row.dest}
        for row in SCRIPT
    ]


class MediatorStateMachine(Mediator):
    """A mediator that refuses any trigger the interaction script does not allow."""

    kind: ClassVar[str] = "stateMachine"

    def __init__(self, *, conversation_id: str | None = None) -> None:
        super().__init__(conversation_id=conversation_id)
        self._model = _Model()
        self._model.state = State.NEW
        self._built: Machine | None = None

    @property
    def _machine(self) -> Machine:
        """The machine, built at the first trigger rather than with the conversation: it
        costs about 3 ms of CPU, which a burst of new conversations would otherwise pay all
        at once, before any of them could be served (see proxies/admission.py)."""
        if self._built is None:
            self._built = Machine(
                model=self._model,
                states=State,
                transitions=_machine_transitions(),
                initial=self._model.state,
                auto_transitions=False,
                queued=True,
                ignore_invalid_triggers=False,
            )
        return self._built

    @property
    def state(self) -> State:
        state = self._model.state
        if not isinstance(state, State):  # pragma: no cover - guards a transitions change
            raise MediatorError(f"state machine reached an undeclared state {state!r}")
        return state

    def _apply(self, trigger: Trigger) -> None:
        state = self.state
        self._machine  # noqa: B018 (built on first use: it gives the model its triggers)
        try:
            self._model.trigger(trigger.value)  # type: ignore[attr-defined]
        except MachineError as err:
            raise InvalidTransitionError(state, trigger) from err
        # Belt and braces: a trigger the machine swallowed (or sent elsewhere) must not pass
        # silently, whatever `transitions` is configured or upgraded to do.
        expected = next_state(state, trigger)
        if expected is None:
            raise InvalidTransitionError(state, trigger)
        if self.state is not expected:  # pragma: no cover - would be a transitions bug
            raise MediatorError(f"state machine went to {self.state}, the script says {expected}")
