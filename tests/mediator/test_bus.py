"""The pypubsub bus: topic specs, filtering, failing listeners, lifetime, threads."""

from __future__ import annotations

import gc
import logging
import threading
import uuid
from typing import Any

import pytest
from pubsub import pub
from pubsub.core.callables import ListenerMismatchError

from mediator import bus
from mediator.errors import MediatorError
from mediator.events import ALL_TOPICS, MediatorEvent, MessageDelta, MessageSent
from mediator.script import State


def _conv() -> str:
    return f"conv_{uuid.uuid4().hex}"


def _delta(conversation_id: str | None, text: str = "x") -> MessageDelta:
    return MessageDelta(
        conversation_id=conversation_id, run_id="run_1", state=State.RUNNING, delta=text
    )


def _listener_count(topic: str) -> int:
    topic_obj: Any = pub.getDefaultTopicMgr().getTopic(topic)
    return int(topic_obj.getNumListeners())


def test_every_topic_takes_exactly_one_event_argument() -> None:
    bus.define_topics()
    manager = pub.getDefaultTopicMgr()
    for name in ALL_TOPICS:
        topic: Any = manager.getTopic(name)
        assert topic.hasMDS()
        assert topic.getArgs() == (("event",), ())


def test_pypubsub_rejects_a_listener_that_does_not_take_event() -> None:
    bus.define_topics()

    def wrong(message: object) -> None:
        raise AssertionError("never called")

    with pytest.raises(ListenerMismatchError):
        pub.subscribe(wrong, "error")


def test_a_topic_defined_elsewhere_with_other_arguments_is_reported() -> None:
    name = f"foreign{uuid.uuid4().hex}"

    def proto(payload: object) -> None:
        raise AssertionError("never called")

    pub.getDefaultTopicMgr().getOrCreateTopic(name, proto)
    with pytest.raises(MediatorError, match="expected \\('event',\\)"):
        bus.define_topics([name])


def test_subscribe_rejects_unknown_or_no_topics() -> None:
    with pytest.raises(ValueError, match="unknown topics"):
        bus.subscribe(print, topics=["sentMessage", "nope"])
    with pytest.raises(ValueError, match="at least one topic"):
        bus.subscribe(print, topics=[])


def test_listener_sees_only_its_topics() -> None:
    conv = _conv()
    seen: list[MediatorEvent] = []
    with bus.subscribe(seen.append, topics=["sentMessage"], conversation_id=conv):
        bus.publish(_delta(conv))
        sent = MessageSent(conversation_id=conv, run_id=None, state=State.READY, text="hi")
        bus.publish(sent)
    assert seen == [sent]


def test_each_listener_sees_only_its_own_conversation() -> None:
    first, second = _conv(), _conv()
    seen_first: list[MediatorEvent] = []
    seen_second: list[MediatorEvent] = []
    seen_all: list[MediatorEvent] = []
    with (
        bus.subscribe(seen_first.append, conversation_id=first),
        bus.subscribe(seen_second.append, conversation_id=second),
        bus.subscribe(seen_all.append),
    ):
        events = [_delta(first, "a"), _delta(second, "b"), _delta(None, "c"), _delta(first, "d")]
        for event in events:
            bus.publish(event)
    assert [e.delta for e in seen_first] == ["a", "d"]  # type: ignore[attr-defined]
    assert [e.delta for e in seen_second] == ["b"]  # type: ignore[attr-defined]
    assert [e for e in seen_all if e in events] == events


def test_a_raising_listener_is_logged_and_others_still_receive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conv = _conv()
    before: list[MediatorEvent] = []
    after: list[MediatorEvent] = []

    def explode(event: MediatorEvent) -> None:
        raise RuntimeError("listener bug")

    with (
        caplog.at_level(logging.ERROR, logger="mediator.bus"),
        bus.subscribe(before.append, conversation_id=conv),
        bus.subscribe(explode, conversation_id=conv),
        bus.subscribe(after.append, conversation_id=conv),
    ):
        event = _delta(conv)
        bus.publish(event)  # does not raise
        bus.publish(event)
    assert before == after == [event, event]
    failures = [r for r in caplog.records if r.name == "mediator.bus"]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert "MessageDelta" in failures[0].getMessage()


def test_close_unsubscribes_from_every_topic_and_is_idempotent() -> None:
    bus.define_topics()
    counts = {t: _listener_count(t) for t in ALL_TOPICS}
    seen: list[MediatorEvent] = []
    conv = _conv()
    subscription = bus.subscribe(seen.append, conversation_id=conv)
    assert subscription.active
    assert {t: _listener_count(t) for t in ALL_TOPICS} == {t: n + 1 for t, n in counts.items()}
    subscription.close()
    subscription.close()
    assert not subscription.active
    assert {t: _listener_count(t) for t in ALL_TOPICS} == counts
    bus.publish(_delta(conv))
    assert seen == []


def test_context_manager_closes_on_exit_even_after_an_error() -> None:
    bus.define_topics()
    count = _listener_count("error")
    subscriptions = []

    def use_and_fail() -> None:
        with bus.subscribe(print, topics=["error"]) as subscription:
            subscriptions.append(subscription)
            assert _listener_count("error") == count + 1
            raise KeyError("boom")

    with pytest.raises(KeyError):
        use_and_fail()
    (subscription,) = subscriptions
    assert not subscription.active
    assert _listener_count("error") == count


def test_subscription_keeps_a_throwaway_listener_alive_until_dropped() -> None:
    conv = _conv()
    seen: list[MediatorEvent] = []
    subscription = bus.subscribe(lambda e: seen.append(e), conversation_id=conv)
    bus.publish(_delta(conv))
    assert len(seen) == 1
    count = _listener_count("messageDelta")
    del subscription  # pypubsub holds listeners weakly: dropping the subscription ends it
    assert _listener_count("messageDelta") == count - 1
    bus.publish(_delta(conv))
    assert len(seen) == 1


def test_publishing_from_another_thread_reaches_listeners_in_that_thread() -> None:
    conv = _conv()
    seen: list[tuple[str, MediatorEvent]] = []

    def record(event: MediatorEvent) -> None:
        seen.append((threading.current_thread().name, event))

    event = _delta(conv)
    with bus.subscribe(record, conversation_id=conv):
        worker = threading.Thread(target=bus.publish, args=(event,), name="publisher")
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive()
    assert seen == [("publisher", event)]


def test_many_threads_publish_concurrently_without_losing_events() -> None:
    conv = _conv()
    seen: list[MediatorEvent] = []
    lock = threading.Lock()

    def record(event: MediatorEvent) -> None:
        with lock:
            seen.append(event)

    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        barrier.wait(timeout=10)
        for i in range(50):
            bus.publish(_delta(conv, f"{n}-{i}"))

    with bus.subscribe(record, conversation_id=conv):
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
    assert len(seen) == 8 * 50
    assert len({e.delta for e in seen}) == 8 * 50  # type: ignore[attr-defined]


def test_repr_shows_state_and_filter() -> None:
    subscription = bus.subscribe(print, topics=["error"], conversation_id="thread_9")
    assert "active" in repr(subscription)
    assert subscription.topics == ("error",)
    assert subscription.conversation_id == "thread_9"
    subscription.close()
    assert "closed" in repr(subscription)


def test_a_subscription_collected_in_the_middle_of_a_send_is_skipped() -> None:
    """A dropped subscription in a reference cycle, freed by the garbage collector after
    pypubsub copied the topic's listeners: the send goes on to the others, nothing raises."""
    conv = _conv()
    doomed_seen: list[MediatorEvent] = []
    last_seen: list[MediatorEvent] = []

    class Holder:
        """Keeps a subscription in a cycle, as an object of an app would."""

        def __init__(self) -> None:
            self.itself = self
            self.subscription = bus.subscribe(doomed_seen.append, conversation_id=conv)

    holder: Holder | None = None

    def collect_the_holder(event: MediatorEvent) -> None:
        nonlocal holder
        holder = None
        gc.collect()

    with bus.subscribe(collect_the_holder, conversation_id=conv):
        holder = Holder()
        with bus.subscribe(last_seen.append, conversation_id=conv):
            event = _delta(conv)
            bus.publish(event)  # does not raise
            assert doomed_seen == []
            assert last_seen == [event]


def test_a_failing_listener_subscribed_to_pypubsub_directly_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conv = _conv()
    seen: list[MediatorEvent] = []

    def explode(event: MediatorEvent) -> None:
        raise ValueError("direct listener bug")

    bus.define_topics()
    pub.subscribe(explode, "messageDelta")
    try:
        with (
            caplog.at_level(logging.ERROR, logger="mediator.bus"),
            bus.subscribe(seen.append, conversation_id=conv),
        ):
            event = _delta(conv)
            bus.publish(event)  # does not raise
    finally:
        pub.unsubscribe(explode, "messageDelta")
    assert seen == [event]
    failures = [r for r in caplog.records if "direct listener" in str(r.exc_info)]
    assert len(failures) == 1
