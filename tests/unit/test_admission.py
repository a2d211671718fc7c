"""Admission control (proxies/admission.py): a limit holds, the line is first come first served,
cancellation and failure give the slot back, and the adaptive limit follows the loop's lag."""

from __future__ import annotations

import asyncio
import time

import pytest

from proxies.admission import ADAPTIVE, Adaptation, Admission, AdmissionGate, admission_for

WITHIN_S = 10.0  # every wait here has a deadline; none is a timing goal


async def until(condition: object, within_s: float = WITHIN_S) -> None:
    """Yield to the loop until `condition()` holds (bounded)."""
    async with asyncio.timeout(within_s):
        # The gate's state has no event to wait on: yield to the loop and look again.
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0)


class Holder:
    """A task that holds a slot until told to let go, and notes when it got in."""

    def __init__(self, admission: Admission, place: int, admitted: list[int]) -> None:
        self.release = asyncio.Event()
        self.inside = False

        async def hold() -> None:
            async with admission.admitted(place):
                self.inside = True
                admitted.append(place)
                await self.release.wait()

        self.task = asyncio.create_task(hold())


async def test_the_limit_holds() -> None:
    admission = Admission(2)
    admitted: list[int] = []
    holders = [Holder(admission, place, admitted) for place in range(5)]
    await until(lambda: len(admitted) == 2)
    gate = admission.gate()
    await until(lambda: gate.waiting == 3)
    assert gate.in_progress == 2
    for holder in holders:
        holder.release.set()
    await asyncio.gather(*(h.task for h in holders))
    assert sorted(admitted) == list(range(5))
    assert gate.in_progress == 0
    assert gate.waiting == 0


async def test_the_line_is_served_by_place_first_come_first_served() -> None:
    admission = Admission(1)
    admitted: list[int] = []
    first = Holder(admission, 0, admitted)
    await until(lambda: first.inside)
    # Places taken in this order; they queue in another (a later conversation asks first).
    late, early, middle = (Holder(admission, place, admitted) for place in (7, 2, 5))
    gate = admission.gate()
    await until(lambda: gate.waiting == 3)
    for holder in (first, early, middle, late):
        await until(lambda: holder.inside)  # noqa: B023 (awaited before the loop moves on)
        holder.release.set()
        await holder.task
    assert admitted == [0, 2, 5, 7]


async def test_equal_places_are_served_in_arrival_order() -> None:
    gate = AdmissionGate(1)
    await gate.acquire(0)
    order: list[str] = []

    async def wait(name: str) -> None:
        await gate.acquire(1)
        order.append(name)
        gate.release()

    tasks = [asyncio.create_task(wait(name)) for name in "abc"]
    await until(lambda: gate.waiting == 3)
    gate.release()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"]


async def test_cancelling_a_holder_frees_its_slot() -> None:
    admission = Admission(1)
    admitted: list[int] = []
    holder = Holder(admission, 0, admitted)
    waiter = Holder(admission, 1, admitted)
    await until(lambda: holder.inside)
    holder.task.cancel()
    await asyncio.gather(holder.task, return_exceptions=True)
    await until(lambda: waiter.inside)
    waiter.release.set()
    await waiter.task
    assert admission.gate().in_progress == 0


async def test_cancelling_a_waiter_takes_no_slot_and_blocks_nobody() -> None:
    admission = Admission(1)
    admitted: list[int] = []
    holder = Holder(admission, 0, admitted)
    await until(lambda: holder.inside)
    gone = Holder(admission, 1, admitted)
    after = Holder(admission, 2, admitted)
    gate = admission.gate()
    await until(lambda: gate.waiting == 2)
    gone.task.cancel()
    await asyncio.gather(gone.task, return_exceptions=True)
    holder.release.set()
    await holder.task
    await until(lambda: after.inside)
    after.release.set()
    await after.task
    assert admitted == [0, 2]
    assert gate.in_progress == 0


async def test_a_waiter_cancelled_as_it_is_admitted_passes_the_slot_on() -> None:
    gate = AdmissionGate(1)
    await gate.acquire(0)
    first = asyncio.create_task(gate.acquire(1))
    second = asyncio.create_task(gate.acquire(2))
    await until(lambda: gate.waiting == 2)
    gate.release()  # admits `first`, which is cancelled before it runs again
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, WITHIN_S)
    assert gate.in_progress == 1
    gate.release()
    assert gate.in_progress == 0


async def test_a_failure_inside_gives_the_slot_back() -> None:
    admission = Admission(1)
    with pytest.raises(RuntimeError):
        async with admission.admitted(0):
            raise RuntimeError("the exchange failed")
    async with asyncio.timeout(WITHIN_S), admission.admitted(1):
        assert admission.gate().in_progress == 1
    assert admission.gate().in_progress == 0


async def test_a_slot_released_early_is_released_once() -> None:
    admission = Admission(1)
    async with admission.admitted(0) as slot:
        slot.release()  # a person is deciding
        assert admission.gate().in_progress == 0
        async with asyncio.timeout(WITHIN_S), admission.admitted(1):
            assert admission.gate().in_progress == 1
    assert admission.gate().in_progress == 0


async def test_the_adaptive_limit_grows_while_the_loop_keeps_up() -> None:
    rules = Adaptation(start=2, floor=1, beat_s=0.001, window=1, target_lag_s=60.0)
    gate = AdmissionGate(None, rules)
    tasks = [asyncio.create_task(gate.acquire(place)) for place in range(50)]
    await until(lambda: gate.in_progress == 50)
    assert gate.limit >= 50
    await asyncio.gather(*tasks)
    for _ in tasks:
        gate.release()


async def test_the_adaptive_limit_shrinks_when_the_loop_lags() -> None:
    rules = Adaptation(start=40, floor=3, beat_s=0.001, window=1, target_lag_s=0.01)
    gate = AdmissionGate(None, rules)
    await gate.acquire(0)
    for _ in range(20):
        start = gate.limit
        # Blocking the loop is the point: its next heartbeat runs late by at least this much.
        time.sleep(0.05)  # noqa: ASYNC251
        await until(lambda: gate.limit < start or gate.limit == rules.floor)  # noqa: B023
        if gate.limit == rules.floor:
            break
    assert gate.limit == rules.floor
    gate.release()


def test_a_fixed_limit_must_be_positive_and_settings_share_one_admission() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AdmissionGate(0)
    with pytest.raises(ValueError, match="0 \\(adaptive\\) or more"):
        Admission(-1)
    assert admission_for(ADAPTIVE) is admission_for(ADAPTIVE)
    assert admission_for(3) is not admission_for(ADAPTIVE)
