"""Threads and messages: create, retrieve, delete, and message paging over HTTP."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from emulator import DEMO_ASSISTANT_ID, EmulatorServer, Reply, ScriptedModel

from .conftest import error_message


def test_thread_create_with_messages_retrieve_and_delete(client: OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": "second"}]},
        ],
        metadata={"user": "u1"},
    )
    assert thread.id.startswith("thread_")
    assert thread.metadata == {"user": "u1"}
    assert client.beta.threads.retrieve(thread.id).id == thread.id

    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [(m.role, m.content[0].text.value) for m in messages if m.content[0].type == "text"] == [
        ("user", "first"),
        ("assistant", "second"),
    ]
    assert all(m.assistant_id is None and m.run_id is None for m in messages)

    deleted = client.beta.threads.delete(thread.id)
    assert (deleted.deleted, deleted.object) == (True, "thread.deleted")
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.threads.retrieve(thread.id)
    assert error_message(caught.value) == f"No thread found with id '{thread.id}'."
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.list(thread_id=thread.id)


def test_thread_update_replaces_metadata(client: OpenAI) -> None:
    thread = client.beta.threads.create(metadata={"a": "1"})
    updated = client.beta.threads.update(thread.id, metadata={"b": "2"})
    assert updated.metadata == {"b": "2"}


def test_message_create_and_retrieve(client: OpenAI) -> None:
    thread = client.beta.threads.create()
    message = client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content="hello", metadata={"k": "v"}
    )
    assert (message.status, message.role, message.thread_id) == ("completed", "user", thread.id)
    assert message.content[0].type == "text"
    assert message.content[0].text.value == "hello"
    assert message.content[0].text.annotations == []

    fetched = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert fetched.model_dump() == message.model_dump()
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.threads.messages.retrieve("msg_missing", thread_id=thread.id)
    assert error_message(caught.value) == "No message found with id 'msg_missing'."


def test_messages_list_default_order_is_newest_first_with_limit_after_before(
    client: OpenAI,
) -> None:
    thread = client.beta.threads.create()
    ids = [
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=f"m{i}").id
        for i in range(7)
    ]

    first = client.beta.threads.messages.list(thread_id=thread.id, limit=3)
    assert [m.id for m in first.data] == ids[::-1][:3]
    assert first.has_more is True

    after = client.beta.threads.messages.list(thread_id=thread.id, limit=3, after=ids[4])
    assert [m.id for m in after.data] == [ids[3], ids[2], ids[1]]
    assert after.has_more is True

    last = client.beta.threads.messages.list(thread_id=thread.id, limit=3, after=ids[1])
    assert [m.id for m in last.data] == [ids[0]]
    assert last.has_more is False

    before = client.beta.threads.messages.list(thread_id=thread.id, limit=2, before=ids[2])
    assert [m.id for m in before.data] == [ids[4], ids[3]]
    assert before.has_more is True

    asc_before = client.beta.threads.messages.list(
        thread_id=thread.id, order="asc", limit=10, before=ids[2]
    )
    assert [m.id for m in asc_before.data] == ids[:2]
    assert asc_before.has_more is False

    every = [m.id for m in client.beta.threads.messages.list(thread_id=thread.id, limit=2)]
    assert every == ids[::-1]


def test_messages_list_filters_by_run_id(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("answer one"), Reply("answer two")])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "q1"}])
    run_one = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, poll_interval_ms=10
    )
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="q2")
    run_two = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, poll_interval_ms=10
    )

    only_two = client.beta.threads.messages.list(thread_id=thread.id, run_id=run_two.id).data
    assert len(only_two) == 1
    assert only_two[0].content[0].type == "text"
    assert only_two[0].content[0].text.value == "answer two"
    assert (only_two[0].assistant_id, only_two[0].run_id) == (DEMO_ASSISTANT_ID, run_two.id)
    only_one = client.beta.threads.messages.list(thread_id=thread.id, run_id=run_one.id).data
    assert [m.run_id for m in only_one] == [run_one.id]
    assert len(client.beta.threads.messages.list(thread_id=thread.id).data) == 4


def test_messages_list_rejects_bad_order_and_unknown_cursor(client: OpenAI) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as order:
        client.beta.threads.messages.list(thread_id=thread.id, order="sideways")  # type: ignore[arg-type]
    assert order.value.param == "order"
    with pytest.raises(openai.BadRequestError) as cursor:
        client.beta.threads.messages.list(thread_id=thread.id, after="msg_nope")
    assert cursor.value.param == "after"
    with pytest.raises(openai.BadRequestError) as limit:
        client.beta.threads.messages.list(thread_id=thread.id, limit=101)
    assert limit.value.param == "limit"
