"""Execution: every tool problem becomes an error output; calls run concurrently and in order."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any

import pytest
from pydantic import BaseModel

from tools import ToolCall, ToolError, ToolRegistry, ToolResult, function_tool

# Upper bound for waits that only expire when the code under test is broken.
DEADLINE_S = 5.0


class Point(BaseModel):
    x: int
    y: int


@function_tool
def add(a: int, b: int = 1) -> int:
    """Add two integers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


@function_tool
async def describe(point: Point, label: str = "p") -> Point:
    """Echo a point back, to check nested models and model return values."""
    return point


@function_tool
def explode(reason: str) -> str:
    """Always fail."""
    raise RuntimeError(f"boom: {reason}")


def _registry(*extra: Any, default_timeout: float = DEADLINE_S) -> ToolRegistry:
    return ToolRegistry([add, describe, explode, *extra], default_timeout=default_timeout)


def _error(result: ToolResult) -> dict[str, Any]:
    """The error object of an error result, checking the envelope on the way."""
    assert result.is_error
    payload = json.loads(result.output)
    assert list(payload) == ["error"]
    assert payload["error"]["type"] == result.error_type
    error: dict[str, Any] = payload["error"]
    assert isinstance(error["message"], str)
    return error


async def test_valid_call_returns_json_output_and_duration() -> None:
    result = await _registry().execute(ToolCall("c1", "add", '{"a": 2, "b": 3}'))
    assert result == ToolResult("c1", "add", "5", duration_s=result.duration_s)
    assert result.duration_s >= 0


async def test_defaults_and_nested_models_are_validated_and_passed() -> None:
    registry = _registry()
    assert (await registry.execute(ToolCall("c1", "add", '{"a": 2}'))).output == "3"
    result = await registry.execute(ToolCall("c2", "describe", '{"point": {"x": 1, "y": 2}}'))
    assert json.loads(result.output) == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ({"k": [1, 2]}, '{"k":[1,2]}'),
        ([1, "a"], '[1,"a"]'),
        (2.5, "2.5"),
        (None, "null"),
        (Point(x=1, y=2), '{"x":1,"y":2}'),
    ],
)
async def test_return_values_become_text(value: Any, expected: str) -> None:
    @function_tool
    def give() -> Any:
        return value

    result = await ToolRegistry([give]).execute(ToolCall("c1", "give", "{}"))
    assert (result.is_error, result.output) == (False, expected)


async def test_a_sync_function_returning_a_coroutine_has_it_awaited() -> None:
    async def compute() -> int:
        return 7

    @function_tool
    def hides_its_coroutine() -> Coroutine[Any, Any, int]:  # as some sync decorators do
        return compute()

    result = await ToolRegistry([hides_its_coroutine]).execute(
        ToolCall("c1", "hides_its_coroutine", "{}")
    )
    assert result.output == "7"


async def test_unserialisable_return_value_is_an_exception_output() -> None:
    @function_tool
    def give() -> object:
        return object()

    result = await ToolRegistry([give]).execute(ToolCall("c1", "give", "{}"))
    assert result.error_type == "exception"
    assert "'give' returned a object" in _error(result)["message"]


@pytest.mark.parametrize(
    ("tool", "arguments", "error_type", "fragment"),
    [
        ("add", '{"a": ', "invalid_json", "not valid JSON"),
        ("add", "not json", "invalid_json", "not valid JSON"),
        ("add", "[1, 2]", "invalid_arguments", "must be a JSON object, got an array"),
        ("add", '"text"', "invalid_arguments", "must be a JSON object, got a string"),
        ("add", "null", "invalid_arguments", "must be a JSON object, got null"),
        ("add", "{}", "invalid_arguments", "a: Field required"),
        ("add", '{"a": "two"}', "invalid_arguments", "a: Input should be a valid integer"),
        ("add", '{"a": 1, "c": 2}', "invalid_arguments", "c: Extra inputs are not permitted"),
        ("describe", '{"point": {"x": 1}}', "invalid_arguments", "point.y: Field required"),
        ("explode", '{"reason": "why"}', "exception", "raised RuntimeError: boom: why"),
    ],
)
async def test_each_problem_becomes_an_error_output_naming_the_tool(
    tool: str, arguments: str, error_type: str, fragment: str
) -> None:
    result = await _registry().execute(ToolCall("c1", tool, arguments))
    assert (result.call_id, result.name, result.error_type) == ("c1", tool, error_type)
    message = _error(result)["message"]
    assert f"'{tool}'" in message
    assert fragment in message


async def test_validation_messages_do_not_echo_argument_values() -> None:
    result = await _registry().execute(ToolCall("c1", "add", '{"a": "secret-value"}'))
    assert result.error_type == "invalid_arguments"
    assert "secret-value" not in result.output


async def test_unknown_tool_lists_the_available_tools() -> None:
    result = await _registry().execute(ToolCall("c1", "nope", "{}"))
    assert result.error_type == "unknown_tool"
    assert _error(result)["message"] == (
        "Unknown tool 'nope'. Available tools: add, describe, explode."
    )


async def test_empty_arguments_mean_no_arguments() -> None:
    @function_tool
    def ping() -> str:
        return "pong"

    assert (await ToolRegistry([ping]).execute(ToolCall("c1", "ping", " "))).output == "pong"


async def test_tool_error_message_is_passed_on_as_written() -> None:
    @function_tool
    def refuse() -> str:
        raise ToolError("Try again tomorrow.")

    result = await ToolRegistry([refuse]).execute(ToolCall("c1", "refuse", "{}"))
    assert _error(result) == {
        "type": "exception",
        "message": "Tool 'refuse' failed: Try again tomorrow.",
    }


async def test_a_timeout_raised_by_the_tool_itself_is_an_exception_not_a_timeout() -> None:
    @function_tool
    async def slow_upstream() -> str:
        raise TimeoutError("upstream took too long")

    result = await ToolRegistry([slow_upstream]).execute(ToolCall("c1", "slow_upstream", "{}"))
    assert result.error_type == "exception"
    assert "TimeoutError: upstream took too long" in _error(result)["message"]


async def test_async_tool_timeout_becomes_timeout_output() -> None:
    @function_tool
    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"

    result = await ToolRegistry([hang]).execute(ToolCall("c1", "hang", "{}"), timeout=0.01)
    assert result.error_type == "timeout"
    assert _error(result)["message"] == "Tool 'hang' did not finish within 0.01 seconds."


async def test_sync_tool_timeout_returns_without_waiting_for_the_thread() -> None:
    started, release = threading.Event(), threading.Event()

    @function_tool
    def hang() -> str:
        started.set()
        release.wait(DEADLINE_S)
        return "late"

    try:
        result = await ToolRegistry([hang]).execute(ToolCall("c1", "hang", "{}"), timeout=0.05)
        # The thread is still blocked on `release`: the registry stopped waiting without it.
        assert started.is_set()
        assert not release.is_set()
        assert result.error_type == "timeout"
        assert "'hang' did not finish within 0.05 seconds" in _error(result)["message"]
    finally:
        release.set()  # let the abandoned thread end, so the loop's executor can shut down


async def test_timeout_precedence_is_call_then_tool_then_registry_default() -> None:
    @function_tool(timeout=0.02)
    async def own_limit() -> str:
        await asyncio.Event().wait()
        return "never"

    @function_tool
    async def no_limit() -> str:
        await asyncio.Event().wait()
        return "never"

    registry = ToolRegistry([own_limit, no_limit], default_timeout=0.03)
    by_tool = await registry.execute(ToolCall("c1", "own_limit", "{}"))
    by_default = await registry.execute(ToolCall("c2", "no_limit", "{}"))
    by_call = await registry.execute(ToolCall("c3", "own_limit", "{}"), timeout=0.01)
    assert "within 0.02 seconds" in _error(by_tool)["message"]
    assert "within 0.03 seconds" in _error(by_default)["message"]
    assert "within 0.01 seconds" in _error(by_call)["message"]


async def test_sync_tools_run_concurrently() -> None:
    barrier = threading.Barrier(5)

    @function_tool
    def meet(n: int) -> int:
        barrier.wait(DEADLINE_S)  # BrokenBarrierError unless all five are running at once
        return n

    calls = [ToolCall(f"c{n}", "meet", json.dumps({"n": n})) for n in range(5)]
    results = await ToolRegistry([meet]).execute_all(calls)
    assert [(r.is_error, r.output) for r in results] == [(False, str(n)) for n in range(5)]


async def test_async_tools_run_concurrently() -> None:
    arrived = 0
    everyone_here = asyncio.Event()

    @function_tool
    async def meet(n: int) -> int:
        nonlocal arrived
        arrived += 1
        if arrived == 5:
            everyone_here.set()
        await everyone_here.wait()  # only returns if all five started before any finished
        return n

    calls = [ToolCall(f"c{n}", "meet", json.dumps({"n": n})) for n in range(5)]
    results = await ToolRegistry([meet], default_timeout=DEADLINE_S).execute_all(calls)
    assert [r.output for r in results] == ["0", "1", "2", "3", "4"]


async def test_results_keep_call_order_when_calls_finish_in_reverse() -> None:
    finished = [asyncio.Event() for _ in range(4)]

    @function_tool
    async def step(n: int) -> int:
        if n + 1 < len(finished):
            await finished[n + 1].wait()  # the last call finishes first, the first last
        finished[n].set()
        return n

    calls = [ToolCall(f"c{n}", "step", json.dumps({"n": n})) for n in range(4)]
    results = await ToolRegistry([step], default_timeout=DEADLINE_S).execute_all(calls)
    assert [(r.call_id, r.output) for r in results] == [(f"c{n}", str(n)) for n in range(4)]


async def test_a_sync_tool_does_not_block_the_event_loop() -> None:
    started, release = threading.Event(), threading.Event()

    @function_tool
    def block() -> str:
        started.set()
        release.wait(DEADLINE_S)
        return "done"

    task = asyncio.create_task(ToolRegistry([block]).execute(ToolCall("c1", "block", "{}")))
    try:
        assert await asyncio.to_thread(started.wait, DEADLINE_S)
        ticks = 0
        for _ in range(20):  # each tick needs the loop, which a blocking tool would hold
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 20
        assert not task.done()
    finally:
        release.set()
    assert (await task).output == "done"


async def test_mixed_outcomes_in_one_batch_do_not_affect_each_other() -> None:
    calls = [
        ToolCall("c1", "add", '{"a": 1}'),
        ToolCall("c2", "explode", '{"reason": "x"}'),
        ToolCall("c3", "missing", "{}"),
        ToolCall("c4", "add", "{"),
    ]
    results = await _registry().execute_all(calls)
    assert [r.error_type for r in results] == [None, "exception", "unknown_tool", "invalid_json"]
    assert await _registry().execute_all([]) == []


async def test_cancelling_execute_propagates_cancelled_error() -> None:
    entered = asyncio.Event()

    @function_tool
    async def wait_forever() -> str:
        entered.set()
        await asyncio.Event().wait()
        return "never"

    task = asyncio.create_task(
        ToolRegistry([wait_forever]).execute(ToolCall("c1", "wait_forever", "{}"))
    )
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancelling_execute_all_propagates_cancelled_error() -> None:
    started, release = threading.Event(), threading.Event()

    @function_tool
    def block() -> str:
        started.set()
        release.wait(DEADLINE_S)
        return "late"

    calls = [ToolCall("c1", "block", "{}"), ToolCall("c2", "block", "{}")]
    task = asyncio.create_task(ToolRegistry([block]).execute_all(calls))
    try:
        assert await asyncio.to_thread(started.wait, DEADLINE_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        release.set()


async def test_cancelled_error_raised_inside_a_tool_is_an_error_output() -> None:
    @function_tool
    async def awaits_cancelled_future() -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        future.cancel()
        return await future

    registry = ToolRegistry([awaits_cancelled_future])
    result = await registry.execute(ToolCall("c1", "awaits_cancelled_future", "{}"))
    assert result.error_type == "exception"
    assert "'awaits_cancelled_future' was cancelled internally" in _error(result)["message"]


def test_duplicate_registration_names_the_tool() -> None:
    registry = ToolRegistry([add])
    with pytest.raises(ValueError, match="'add' is already registered"):
        registry.register(add)


def test_registry_lookup_and_schemas_follow_registration_order() -> None:
    def shout(text: str) -> str:
        """Uppercase text."""
        return text.upper()

    registry = _registry()
    wrapped = registry.register(shout)  # a plain function is wrapped on registration
    assert registry.names == ("add", "describe", "explode", "shout")
    assert registry.tools == (add, describe, explode, wrapped)
    assert registry.get("shout") is wrapped
    assert registry.get("nope") is None
    assert "add" in registry
    assert len(registry) == 4
    assert [s["function"]["name"] for s in registry.schemas("assistants")] == list(registry.names)
    assert [s["name"] for s in registry.schemas("responses")] == list(registry.names)
    with pytest.raises(ValueError, match="schema style"):
        registry.schemas("chat")  # type: ignore[arg-type]


def test_registry_refuses_a_non_positive_default_timeout() -> None:
    with pytest.raises(ValueError, match="default_timeout must be positive"):
        ToolRegistry(default_timeout=0)


async def test_logs_above_debug_never_contain_argument_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tools")
    calls = [
        ToolCall("c1", "explode", '{"reason": "user-secret"}'),
        ToolCall("c2", "add", '{"a": "user-secret"}'),
        ToolCall("c3", "describe", '{"point": {"x": 1, "y": 2}, "label": "user-secret"}'),
    ]
    await _registry().execute_all(calls)
    loud = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
    assert len(loud) == 3
    assert not [message for message in loud if "user-secret" in message]
    assert any("user-secret" in r.getMessage() for r in caplog.records)  # debug may say more


async def test_duration_is_measured() -> None:
    release = threading.Event()

    @function_tool
    def pause() -> str:
        release.wait(0.05)  # a deadline, not synchronisation: the duration must include it
        return "ok"

    started = time.perf_counter()
    result = await ToolRegistry([pause]).execute(ToolCall("c1", "pause", "{}"))
    assert 0.05 <= result.duration_s <= time.perf_counter() - started


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt()])
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_tool_raising_systemexit_or_keyboardinterrupt_is_a_tool_error(
    raised: BaseException, kind: str
) -> None:
    from tools import ToolCall, ToolRegistry, function_tool

    def leave() -> str:
        """Leave."""
        raise raised

    async def leave_async() -> str:
        """Leave."""
        raise raised

    tool = function_tool(name="leave")(leave if kind == "sync" else leave_async)
    result = await ToolRegistry([tool]).execute(ToolCall("call_1", "leave", "{}"))
    assert result.is_error
    assert type(raised).__name__ in result.output


async def test_a_tool_gets_a_stable_idempotency_key_for_its_call() -> None:
    from tools import ToolCall, ToolRegistry, function_tool, idempotency_key

    seen: list[str] = []

    @function_tool(idempotent=True)
    def order() -> str:
        """Place an order."""
        seen.append(idempotency_key())
        return "ok"

    registry = ToolRegistry([order])
    assert registry.is_idempotent("order")
    for _ in range(2):
        await registry.execute(ToolCall("call_same", "order", "{}"))
    await registry.execute(ToolCall("call_other", "order", "{}"))
    assert seen[0] == seen[1] != seen[2]
    with pytest.raises(RuntimeError, match="only available inside a tool call"):
        idempotency_key()
