"""Conversations API over the real SDK: objects, items, and ``last_id`` auto-paging."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from .conftest import error_message


def _messages(count: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"m{index}"} for index in range(count)]


def _texts(items: list[object]) -> list[str]:
    texts = []
    for item in items:
        assert getattr(item, "type", None) == "message"
        texts.append(item.content[0].text)  # type: ignore[attr-defined]
    return texts


def test_create_retrieve_update_delete(client: OpenAI) -> None:
    conversation = client.conversations.create(
        items=[{"role": "user", "content": "hello"}], metadata={"topic": "stocks"}
    )
    assert conversation.object == "conversation"
    assert conversation.metadata == {"topic": "stocks"}
    assert client.conversations.retrieve(conversation.id).id == conversation.id

    updated = client.conversations.update(conversation.id, metadata={"topic": "weather"})
    assert updated.metadata == {"topic": "weather"}

    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (
        conversation.id,
        True,
        "conversation.deleted",
    )
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.retrieve(conversation.id)
    assert error_message(caught.value) == f"Conversation with id '{conversation.id}' not found."


def test_empty_conversation_has_empty_metadata(client: OpenAI) -> None:
    conversation = client.conversations.create()
    assert conversation.metadata == {}
    page = client.conversations.items.list(conversation.id)
    assert page.data == []
    assert page.has_more is False


def test_items_auto_page_by_last_id_newest_first(client: OpenAI) -> None:
    conversation = client.conversations.create(items=_messages(7))  # type: ignore[arg-type]
    newest_first = client.conversations.items.list(conversation.id, limit=3)
    assert _texts(newest_first.data) == ["m6", "m5", "m4"]
    assert newest_first.has_more is True
    assert newest_first.last_id == newest_first.data[-1].id
    assert _texts(list(newest_first)) == [f"m{i}" for i in range(6, -1, -1)]

    oldest_first = client.conversations.items.list(conversation.id, limit=2, order="asc")
    assert _texts(list(oldest_first)) == [f"m{i}" for i in range(7)]
    after = client.conversations.items.list(
        conversation.id, order="asc", after=oldest_first.data[-1].id
    )
    assert _texts(after.data) == [f"m{i}" for i in range(2, 7)]


async def test_items_auto_page_async(async_client: AsyncOpenAI) -> None:
    conversation = await async_client.conversations.create(
        items=_messages(5)  # type: ignore[arg-type]
    )
    texts = [
        item.content[0].text  # type: ignore[union-attr]
        async for item in async_client.conversations.items.list(
            conversation.id, limit=2, order="asc"
        )
    ]
    assert texts == ["m0", "m1", "m2", "m3", "m4"]


def test_items_create_retrieve_delete(client: OpenAI) -> None:
    conversation = client.conversations.create()
    created = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"role": "assistant", "content": "a"},
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ],
    )
    assert [item.type for item in created.data] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]
    assert created.first_id == created.data[0].id
    assert created.last_id == created.data[-1].id

    answer = client.conversations.items.retrieve(
        created.data[1].id, conversation_id=conversation.id
    )
    assert answer.type == "message"
    assert answer.role == "assistant"
    assert answer.content[0].type == "output_text"

    after = client.conversations.items.delete(created.data[0].id, conversation_id=conversation.id)
    assert after.id == conversation.id
    remaining = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.id for item in remaining] == [item.id for item in created.data[1:]]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(created.data[0].id, conversation_id=conversation.id)


def test_item_errors(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list("conv_nope")
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.items.list(conversation.id, extra_query={"before": "x"})
    assert caught.value.param == "before"
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.items.create(conversation.id, items=[])
    assert caught.value.param == "items"
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.create(items=_messages(21))  # type: ignore[arg-type]
    assert caught.value.param == "items"
