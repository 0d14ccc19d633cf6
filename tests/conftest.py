"""Shared fixtures: a tiny seeded model keeps most tests fast."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def tiny_model():
    from meshpose_mobile.seeded import seeded_model

    return seeded_model("meshpose_tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_graph(tiny_model):
    return tiny_model.deploy()
