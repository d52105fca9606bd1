"""The worker hosts any object satisfying stepaudio_engine.api.Engine: the real engine and the tests'
double must both match it, method by method and parameter by parameter."""
from __future__ import annotations

import inspect

import pytest

from fake_engine import FakeEngine
from stepaudio_engine import api
from stepaudio_engine.engine import Engine as RealEngine

METHODS = [name for name, value in vars(api.Engine).items() if callable(value) and not name.startswith("_")]


def test_the_protocol_names_every_op_the_worker_calls():
    assert sorted(METHODS) == ["clone", "edit", "load", "offload", "resume", "transcribe"]


@pytest.mark.parametrize("engine_class", [RealEngine, FakeEngine])
def test_engine_satisfies_the_protocol(engine_class):
    engine: api.Engine = engine_class()  # what a type checker verifies statically
    for name in METHODS:
        wanted = inspect.signature(getattr(api.Engine, name))
        got = inspect.signature(getattr(engine_class, name))
        assert list(got.parameters) == list(wanted.parameters), name
        assert str(got.return_annotation) == str(wanted.return_annotation), name
    assert callable(engine.load)
