"""Liveness and readiness: /readyz checks the database and, when one is configured, the broker."""

from __future__ import annotations

import dataclasses

import pytest


def test_healthz_and_readyz_on_the_embedded_default(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok"}


def test_readyz_reports_an_unreachable_broker(app, api_engine, monkeypatch):
    monkeypatch.setattr(api_engine, "settings",
                        dataclasses.replace(api_engine.settings, broker_url="amqp://guest:guest@127.0.0.1:1//"))
    ready = app.test_client().get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 503 and body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")


@pytest.mark.rabbitmq
def test_readyz_with_a_running_broker(app, api_engine, monkeypatch, rabbitmq_server):
    settings = dataclasses.replace(api_engine.settings, broker_url=rabbitmq_server.url)
    monkeypatch.setattr(api_engine, "settings", settings)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "broker": "ok"}
