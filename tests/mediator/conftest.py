"""Fixtures for the mediator tests: every suite runs on both mediators."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mediator.base import Mediator
from tests.mediator.support import MEDIATOR_CLASSES, Harness


@pytest.fixture(params=MEDIATOR_CLASSES, ids=lambda cls: cls.__name__)
def mediator_cls(request: pytest.FixtureRequest) -> type[Mediator]:
    cls: type[Mediator] = request.param
    return cls


@pytest.fixture
def harness(mediator_cls: type[Mediator]) -> Iterator[Harness]:
    h = Harness(mediator_cls)
    yield h
    h.close()


@pytest.fixture
def make_harness() -> Iterator[Callable[[type[Mediator]], Harness]]:
    made: list[Harness] = []

    def make(mediator_cls: type[Mediator]) -> Harness:
        h = Harness(mediator_cls)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()
