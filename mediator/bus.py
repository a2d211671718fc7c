"""Publishing mediator events on pypubsub, and subscribing to them safely.

Every topic in `ALL_TOPICS` carries one message argument, ``event`` (a `MediatorEvent`); topics
are defined with that message data specification before first use, so pypubsub checks every
send and every subscription against it.

pypubsub holds listeners weakly. `subscribe` therefore wraps the listener in a callable that
the returned `Subscription` holds strongly: the subscription is live exactly as long as you keep
the `Subscription` (or until `close()`). The wrapper also filters by conversation id and
shields the publisher from failing listeners: an exception is logged and the next listener
runs.

Publishing works from any thread; listeners run in the publishing thread, synchronously, in
subscription order. A listener must be quick and must not fire mediator triggers.

A subscription dropped without `close()` may sit in a reference cycle: the garbage collector can
then free it in the middle of a send, after pypubsub copied the topic's listeners, and pypubsub
calls the dead listener ("Dead Listener called, still subscribed!"). The bus installs a listener
exception handler (unless the application set its own) that skips such a listener, and logs any
other failure of a listener subscribed to pypubsub directly, so a send always reaches the rest.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Final, TypeAlias

from pubsub import pub
from pubsub.core.listener import IListenerExcHandler

from mediator.errors import MediatorError
from mediator.events import ALL_TOPICS, MediatorEvent

__all__ = ["Listener", "Subscription", "define_topics", "publish", "subscribe"]

_logger = logging.getLogger(__name__)

Listener: TypeAlias = Callable[[MediatorEvent], None]
"""A callable that receives every matching event."""

_MESSAGE_ARGS: Final = ("event",)
_topic_lock = threading.Lock()


def _message_data_spec(event: MediatorEvent) -> None:
    """Prototype listener: defines each topic's message data as the single argument ``event``."""


class _ListenerFailures(IListenerExcHandler):
    """pypubsub's listener exception handler: skip a listener collected mid-send (it was
    dropped), log any other failure (of a listener subscribed to pypubsub directly; the bus's
    own contain theirs), and let the send go on."""

    def __call__(self, listener_id: str, topic: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, RuntimeError) and "Dead Listener" in str(error):
            return
        _logger.error(
            "pypubsub listener %s failed on %s; continuing",
            listener_id,
            topic.getName(),
            exc_info=error,
        )


def _handle_listener_failures() -> None:
    """Install `_ListenerFailures` unless the application handles listener errors itself."""
    if pub.getListenerExcHandler() is None:
        pub.setListenerExcHandler(_ListenerFailures())


def define_topics(topics: Iterable[str] = ALL_TOPICS) -> None:
    """Create `topics` in pypubsub's default tree with the ``event`` message data spec.

    Idempotent, thread-safe, and called by `publish` and `subscribe`; call it yourself only to
    subscribe with pypubsub directly. Raises `MediatorError` if a topic already exists with a
    different specification (someone else defined it first).
    """
    manager = pub.getDefaultTopicMgr()
    with _topic_lock:
        _handle_listener_failures()
        for name in topics:
            # pypubsub's own annotations name a placeholder Topic class; the real one is untyped.
            topic: Any = manager.getOrCreateTopic(name, _message_data_spec)
            required, optional = topic.getArgs()
            if tuple(required) != _MESSAGE_ARGS or tuple(optional):
                raise MediatorError(
                    f"pypubsub topic {name!r} is defined with arguments "
                    f"{tuple(required) + tuple(optional)}, expected {_MESSAGE_ARGS}"
                )


def publish(event: MediatorEvent) -> None:
    """Send `event` on its topic to every subscribed listener, in the calling thread."""
    define_topics((event.topic,))
    pub.sendMessage(event.topic, event=event)


def _check_topics(topics: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(topics))
    if not chosen:
        raise ValueError("subscribe needs at least one topic")
    unknown = [t for t in chosen if t not in ALL_TOPICS]
    if unknown:
        raise ValueError(f"unknown topics {unknown}; choose from {list(ALL_TOPICS)}")
    return chosen


def _make_wrapper(listener: Listener, conversation_id: str | None) -> Listener:
    """The callable pypubsub sees: filters by conversation and contains listener errors.

    It must not reference its `Subscription`, so that dropping the subscription frees the
    wrapper at once and pypubsub forgets it.
    """

    def deliver(event: MediatorEvent) -> None:
        if conversation_id is not None and event.conversation_id != conversation_id:
            return
        try:
            listener(event)
        except Exception:
            _logger.exception(
                "listener %r failed on %s (%s); continuing",
                listener,
                type(event).__name__,
                event.topic,
            )

    return deliver


class Subscription:
    """A live subscription of one listener to some topics; close it (or leave its `with`).

    Keep a reference to it: pypubsub holds the listener weakly, and the subscription is what
    keeps it alive.
    """

    def __init__(
        self, listener: Listener, topics: tuple[str, ...], conversation_id: str | None
    ) -> None:
        self._listener = listener
        self._topics = topics
        self._conversation_id = conversation_id
        wrapper = _make_wrapper(listener, conversation_id)
        self._wrapper: Listener | None = wrapper
        define_topics(topics)
        try:
            for name in topics:
                pub.subscribe(wrapper, name)
        except BaseException:
            self.close()
            raise

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscription listens to."""
        return self._topics

    @property
    def conversation_id(self) -> str | None:
        """Only events of this conversation are delivered; None means every conversation."""
        return self._conversation_id

    @property
    def active(self) -> bool:
        """True until `close()`."""
        return self._wrapper is not None

    def close(self) -> None:
        """Unsubscribe from every topic. Safe to call more than once."""
        wrapper, self._wrapper = self._wrapper, None
        if wrapper is None:
            return
        manager = pub.getDefaultTopicMgr()
        for name in self._topics:
            topic: Any = manager.getTopic(name, okIfNone=True)
            if topic is not None:
                topic.unsubscribe(wrapper)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "active" if self.active else "closed"
        return (
            f"<Subscription {state} listener={self._listener!r} topics={list(self._topics)} "
            f"conversation_id={self._conversation_id!r}>"
        )


def subscribe(
    listener: Listener,
    *,
    topics: Iterable[str] = ALL_TOPICS,
    conversation_id: str | None = None,
) -> Subscription:
    """Deliver events on `topics` (all by default) to `listener`.

    With `conversation_id`, only that conversation's events are delivered (events of a mediator
    not yet bound to a conversation have no id and are not delivered then). Returns the
    `Subscription`; keep it, and close it when done.
    """
    return Subscription(listener, _check_topics(topics), conversation_id)
