"""Assistants CRUD and paging, the demo seed, and the wire basics (errors, headers) over HTTP."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

from emulator import DEMO_ASSISTANT_ID, EmulatorServer

from .conftest import error_message, make_client

BETA = {"OpenAI-Beta": "assistants=v2"}


def test_demo_assistant_is_seeded_with_both_stock_tools(client: OpenAI) -> None:
    assistant = client.beta.assistants.retrieve(DEMO_ASSISTANT_ID)

    assert assistant.name == "Stock demo assistant"
    assert assistant.model == "offline-demo"
    assert assistant.instructions
    assert "stock" in assistant.instructions.lower()
    functions = {
        tool.function.name: tool.function for tool in assistant.tools if tool.type == "function"
    }
    assert set(functions) == {"get_stock_price", "buy_or_sell"}
    parameters = functions["buy_or_sell"].parameters
    assert parameters is not None
    assert parameters["properties"] == {
        "symbol": {"type": "string", "description": "The ticker symbol, for example AAPL or MSFT."},
        "price": {
            "type": "number",
            "description": "The current price, as returned by get_stock_price.",
        },
    }


def test_assistant_create_retrieve_update_delete(client: OpenAI) -> None:
    created = client.beta.assistants.create(
        model="gpt-test",
        name="Helper",
        instructions="Be brief.",
        tools=[
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
        ],
        metadata={"team": "qa"},
    )
    assert created.id.startswith("asst_")
    assert created.object == "assistant"
    assert created.metadata == {"team": "qa"}

    fetched = client.beta.assistants.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()

    updated = client.beta.assistants.update(created.id, name="Renamed", instructions="Be verbose.")
    assert (updated.name, updated.instructions, updated.model) == (
        "Renamed",
        "Be verbose.",
        "gpt-test",
    )
    assert client.beta.assistants.retrieve(created.id).name == "Renamed"

    deleted = client.beta.assistants.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "assistant.deleted")
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.assistants.retrieve(created.id)
    assert error_message(caught.value) == f"No assistant found with id '{created.id}'."


def test_assistant_objects_write_out_every_nullable_field(server: EmulatorServer) -> None:
    created = httpx.post(f"{server.base_url}/assistants", headers=BETA, json={"model": "m"}).json()

    for key in ("name", "description", "instructions", "temperature", "top_p"):
        assert key in created
    assert created["name"] is None
    assert created["tools"] == []
    assert created["metadata"] == {}
    assert created["response_format"] == "auto"


def test_assistants_list_pages_by_insertion_order(client: OpenAI) -> None:
    ids = [client.beta.assistants.create(model="m", name=f"paging-{i}").id for i in range(5)]

    newest_first = client.beta.assistants.list(limit=2)
    assert [a.id for a in newest_first.data] == ids[::-1][:2]
    assert newest_first.has_more is True
    envelope = newest_first.model_dump()
    assert (envelope["first_id"], envelope["last_id"]) == (ids[4], ids[3])

    oldest = client.beta.assistants.list(order="asc", after=ids[1], limit=2)
    assert [a.id for a in oldest.data] == ids[2:4]
    assert oldest.has_more is True

    every = [a.id for a in client.beta.assistants.list(order="asc", limit=2) if a.id in ids]
    assert every == ids

    before = client.beta.assistants.list(order="asc", before=ids[3], limit=2)
    assert [a.id for a in before.data] == ids[1:3]


def test_empty_list_still_has_paging_fields(client: OpenAI) -> None:
    thread = client.beta.threads.create()
    page = client.beta.threads.runs.list(thread_id=thread.id)
    assert page.data == []
    assert page.has_more is False
    raw = client.beta.threads.runs.with_raw_response.list(thread_id=thread.id).http_response.json()
    assert raw == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_missing_beta_header_is_a_400_invalid_beta(server: EmulatorServer) -> None:
    answer = httpx.get(f"{server.base_url}/assistants")

    assert answer.status_code == 400
    assert answer.headers["x-request-id"].startswith("req_")
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_beta"
    assert error["type"] == "invalid_request_error"
    assert "OpenAI-Beta: assistants=v2" in error["message"]


def test_every_answer_has_a_request_id(client: OpenAI) -> None:
    ok = client.beta.assistants.with_raw_response.retrieve(DEMO_ASSISTANT_ID)
    assert ok.headers["x-request-id"].startswith("req_")
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.assistants.retrieve("asst_missing")
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")


def test_bad_body_is_a_400_naming_the_field_never_422(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.assistants.create(model="m", temperature=7)
    assert caught.value.status_code == 400
    assert caught.value.param == "temperature"

    with pytest.raises(openai.BadRequestError) as missing:
        client.beta.assistants.create(model="m", extra_body={"model": None})
    assert missing.value.param == "model"

    with pytest.raises(openai.BadRequestError) as unknown:
        client.beta.assistants.create(model="m", extra_body={"colour": "red"})
    assert unknown.value.param == "colour"
    assert unknown.value.code == "unknown_parameter"


def test_nested_validation_error_names_the_nested_field(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.create(messages=[{"role": "robot", "content": "hi"}])  # type: ignore[typeddict-item]
    assert caught.value.param == "messages[0].role"

    with pytest.raises(openai.BadRequestError) as content:
        client.beta.threads.create(
            messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]  # type: ignore[typeddict-item]
        )
    assert content.value.param == "messages[0].content[0].text"


def test_invalid_json_and_unknown_routes_use_the_envelope(server: EmulatorServer) -> None:
    broken = httpx.post(
        f"{server.base_url}/assistants",
        headers={**BETA, "content-type": "application/json"},
        content=b"{not json",
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request_error"

    nowhere = httpx.get(f"{server.base_url}/nowhere", headers=BETA)
    assert nowhere.status_code == 404
    assert set(nowhere.json()["error"]) == {"message", "type", "param", "code"}


def test_limit_above_100_is_a_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.assistants.list(limit=101)
    assert caught.value.param == "limit"
    assert caught.value.code == "integer_above_max_value"
    with pytest.raises(openai.BadRequestError):
        client.beta.assistants.list(limit=0)


def test_a_fresh_server_without_seed_has_no_assistants() -> None:
    with EmulatorServer(seed_assistants=False) as bare, make_client(bare) as sdk:
        assert sdk.beta.assistants.list().data == []
        with pytest.raises(openai.NotFoundError):
            sdk.beta.assistants.retrieve(DEMO_ASSISTANT_ID)
