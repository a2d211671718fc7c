"""The Responses store finds a conversation's responses through its index: what locks one
conversation, and who wrote the items a turn sees, never depend on the others."""

from __future__ import annotations

from emulator.responses.objects import response_object
from emulator.responses.store import ResponseBook, ResponsesStore


def _response(store: ResponsesStore, conversation_id: str | None, status: str) -> dict:
    response = response_object(
        {"model": "m"}, tools=[], conversation_id=conversation_id, background=True, store=True
    )
    response["status"] = status
    response["output"] = [{"id": f"msg_{response['id']}", "type": "message"}]
    return store.add_response(response, ResponseBook(deadline=0.0))


def test_the_lock_and_the_writers_are_per_conversation_and_survive_a_reload() -> None:
    store = ResponsesStore()
    for conversation_id in ("conv_a", "conv_b"):
        store.add_conversation({"id": conversation_id})
    done_a = _response(store, "conv_a", "completed")
    running_b = _response(store, "conv_b", "in_progress")
    assert store.active_on("conv_a") is None
    assert store.active_on("conv_b") is running_b
    assert store.producers(done_a) == {f"msg_{done_a['id']}": done_a["id"]}
    running_b["status"] = "completed"  # statuses change in place: the index holds ids only
    assert store.active_on("conv_b") is None

    again = ResponsesStore.from_data(store.to_data())
    running_a = _response(again, "conv_a", "queued")
    assert again.active_on("conv_a") == running_a
    assert set(again.producers(running_a).values()) == {done_a["id"], running_a["id"]}
    again.drop_response(running_a["id"])
    assert again.active_on("conv_a") is None


def test_a_chain_without_conversation_sees_its_own_writers() -> None:
    store = ResponsesStore()
    first = _response(store, None, "completed")
    second = _response(store, None, "in_progress")
    second["previous_response_id"] = first["id"]
    _response(store, None, "completed")  # another chain
    assert set(store.producers(second).values()) == {first["id"], second["id"]}
