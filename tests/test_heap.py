"""The web app freezes its start-up heap while it runs and gives it back on shutdown (api/heap.py)."""

from __future__ import annotations

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_startup_heap_frozen_while_serving_and_thawed_after(app: FastAPI) -> None:
    gc.unfreeze()
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 0  # the objects alive at start-up, the app's among them
        assert client.get("/api/v1/search").status_code == 200
    assert gc.get_freeze_count() == 0
