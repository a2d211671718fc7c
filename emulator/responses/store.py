"""In-memory state of the Responses and Conversations APIs, as wire dicts.

Conversations hold their items in insertion order (the sequence items lists page over).
Responses are kept with a `ResponseBook` that is not on the wire: the request's input items,
which a ``previous_response_id`` chain and ``GET /responses/{id}/input_items`` need, and the
deadline. A response created with ``store: false`` is kept only while it runs and is invisible to
lookups. Like `Store`, this is touched only from the server's event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..common.errors import ApiError, bad_request
from ..common.wire import JsonObj
from .objects import ACTIVE_RESPONSE_STATUSES

__all__ = ["ResponseBook", "ResponsesStore"]


@dataclass(slots=True)
class ResponseBook:
    """What a response keeps off the wire: its input items, deadline and stream flag."""

    deadline: float
    input: list[JsonObj] = field(default_factory=list)
    stream: bool = False


def conversation_not_found(conversation_id: str) -> ApiError:
    return ApiError(404, f"Conversation with id '{conversation_id}' not found.")


def response_not_found(response_id: str) -> ApiError:
    return ApiError(404, f"Response with id '{response_id}' not found.")


class ResponsesStore:
    def __init__(self) -> None:
        self.conversations: dict[str, JsonObj] = {}
        self.items: dict[str, dict[str, JsonObj]] = {}  # conversation id -> item id -> item
        self.responses: dict[str, JsonObj] = {}
        self.books: dict[str, ResponseBook] = {}  # response id -> bookkeeping
        # conversation id -> its responses' ids, oldest first: what a request on one
        # conversation looks at, without scanning every response the server holds.
        self._by_conversation: dict[str, list[str]] = {}

    # -- lookups (404 when missing) -------------------------------------------------------
    def conversation(self, conversation_id: str) -> JsonObj:
        try:
            return self.conversations[conversation_id]
        except KeyError:
            raise conversation_not_found(conversation_id) from None

    def conversation_items(self, conversation_id: str) -> list[JsonObj]:
        self.conversation(conversation_id)
        return list(self.items[conversation_id].values())

    def item(self, conversation_id: str, item_id: str) -> JsonObj:
        self.conversation(conversation_id)
        try:
            return self.items[conversation_id][item_id]
        except KeyError:
            raise ApiError(404, f"Item with id '{item_id}' not found.") from None

    def response(self, response_id: str) -> JsonObj:
        """A stored response (``store: false`` ones are not found once created)."""
        response = self.responses.get(response_id)
        if response is None or not response["store"]:
            raise response_not_found(response_id)
        return response

    def previous(self, response_id: str) -> JsonObj:
        """The response a ``previous_response_id`` names: stored and no longer running."""
        response = self.responses.get(response_id)
        if response is None or not response["store"]:
            raise bad_request(
                f"Previous response with id '{response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        if response["status"] in ACTIVE_RESPONSE_STATUSES:
            raise bad_request(
                f"Previous response with id '{response_id}' is still in progress.",
                param="previous_response_id",
            )
        return response

    def active_on(self, conversation_id: str) -> JsonObj | None:
        """The response that locks a conversation, if any."""
        for response in self._responses_on(conversation_id):
            if response["status"] in ACTIVE_RESPONSE_STATUSES:
                return response
        return None

    def _responses_on(self, conversation_id: str) -> list[JsonObj]:
        ids = self._by_conversation.get(conversation_id, ())
        return [self.responses[i] for i in ids if i in self.responses]

    def chain(self, response: JsonObj) -> list[JsonObj]:
        """Every item of a ``previous_response_id`` chain up to and including `response`:
        each response's input, then its output, oldest response first. A response that ran in
        a conversation brings the conversation as it stood after it."""
        links: list[JsonObj] = []
        current: JsonObj | None = response
        while current is not None:
            links.append(current)
            previous_id = current["previous_response_id"]
            current = self.responses.get(previous_id) if previous_id else None
        items: list[JsonObj] = []
        for link in reversed(links):
            own = [*self.books[link["id"]].input, *link["output"]]
            items = self._conversation_prefix(link, own) or [*items, *own]
        return items

    def _conversation_prefix(self, response: JsonObj, own: list[JsonObj]) -> list[JsonObj]:
        """The conversation of `response` up to its last item there, or [] if not found."""
        conversation = response["conversation"]
        bucket = self.items.get(conversation["id"]) if conversation else None
        if not bucket or not own or own[-1]["id"] not in bucket:
            return []
        ids = list(bucket)
        return [bucket[item_id] for item_id in ids[: ids.index(own[-1]["id"]) + 1]]

    def producers(self, response: JsonObj) -> dict[str, str]:
        """Output item id -> id of the response that wrote it, for the items `response` can
        see: its conversation's responses, or its ``previous_response_id`` chain."""
        conversation = response["conversation"]
        if conversation is not None:
            writers = self._responses_on(conversation["id"])
        else:
            writers = []
            current: JsonObj | None = response
            while current is not None:
                writers.append(current)
                previous_id = current["previous_response_id"]
                current = self.responses.get(previous_id) if previous_id else None
        return {item["id"]: writer["id"] for writer in writers for item in writer["output"]}

    def find_item(self, item_id: str) -> JsonObj | None:
        """Any known item by id (conversations, then responses' inputs and outputs)."""
        for items in self.items.values():
            found = items.get(item_id)
            if found is not None:
                return found
        for response in self.responses.values():
            book = self.books.get(response["id"])
            candidates: list[JsonObj] = [*(book.input if book else []), *response["output"]]
            for item in candidates:
                if item["id"] == item_id:
                    return item
        return None

    # -- mutations --------------------------------------------------------------------------
    def add_conversation(self, conversation: JsonObj) -> JsonObj:
        self.conversations[conversation["id"]] = conversation
        self.items[conversation["id"]] = {}
        return conversation

    def add_items(self, conversation_id: str, items: list[JsonObj]) -> list[JsonObj]:
        """Append items to a conversation (ignored when it was deleted meanwhile)."""
        bucket = self.items.get(conversation_id)
        if bucket is not None:
            for item in items:
                bucket[item["id"]] = item
        return items

    def delete_conversation(self, conversation_id: str) -> None:
        self.conversation(conversation_id)
        del self.conversations[conversation_id]
        self.items.pop(conversation_id, None)

    def add_response(self, response: JsonObj, book: ResponseBook) -> JsonObj:
        self.responses[response["id"]] = response
        self.books[response["id"]] = book
        self._index(response)
        return response

    def _index(self, response: JsonObj) -> None:
        conversation = response["conversation"]
        if conversation is not None:
            self._by_conversation.setdefault(conversation["id"], []).append(response["id"])

    def drop_response(self, response_id: str) -> None:
        response = self.responses.pop(response_id, None)
        self.books.pop(response_id, None)
        conversation = response["conversation"] if response is not None else None
        if conversation is not None:
            ids = self._by_conversation.get(conversation["id"], [])
            if response_id in ids:
                ids.remove(response_id)

    # -- the state file's JSON form ---------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        stored = [r for r in self.responses.values() if r["store"]]
        return {
            "conversations": list(self.conversations.values()),
            "items": {cid: list(items.values()) for cid, items in self.items.items()},
            "responses": stored,
            "books": {
                r["id"]: {
                    "deadline": self.books[r["id"]].deadline,
                    "input": self.books[r["id"]].input,
                    "stream": self.books[r["id"]].stream,
                }
                for r in stored
            },
        }

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> ResponsesStore:
        store = cls()
        if not data:
            return store
        store.conversations = {c["id"]: c for c in data["conversations"]}
        store.items = {cid: {i["id"]: i for i in items} for cid, items in data["items"].items()}
        store.responses = {r["id"]: r for r in data["responses"]}
        store.books = {rid: ResponseBook(**book) for rid, book in data["books"].items()}
        for response in store.responses.values():
            store._index(response)
        return store
