"""A line's purchased term over HTTP: accepted on an application's item (1 to 60 months or none),
shown on the line, refused out of range with 422 naming the field; another tenant sees nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.applications.test_applications import create, detail


def small(shop: Any, **more: Any) -> dict[str, Any]:
    return {"spec_id": shop.spec("gpu-a100", "a100-1"), "quantity": 1, **more}


def test_a_term_is_kept_on_the_line_and_none_is_no_term(shop: Any) -> None:
    resp = create(shop, items=[small(shop, term_months=12), small(shop), small(shop, term_months=None)])
    assert resp.status_code == 201, resp.get_json()
    assert [i["term_months"] for i in resp.get_json()["items"]] == [12, None, None]
    app = detail(shop, resp.get_json()["id"])
    assert [i["term_months"] for i in app["items"]] == [12, None, None]
    edited = shop.client.patch(f"/api/v1/applications/{app['id']}", json={"items": [small(shop, term_months=60)]},
                               headers=shop.headers("alpha-user"))
    assert edited.status_code == 200, edited.get_json()
    assert [i["term_months"] for i in edited.get_json()["items"]] == [60]
    beta = shop.headers("beta-user")
    assert shop.client.get(f"/api/v1/applications/{app['id']}", headers=beta).status_code == 404
    assert shop.client.patch(f"/api/v1/applications/{app['id']}", json={"items": [small(shop, term_months=1)]},
                             headers=beta).status_code == 404
    assert [i["term_months"] for i in detail(shop, app["id"])["items"]] == [60]  # untouched by beta


@pytest.mark.parametrize("bad", [0, 61, "x", 1.5, True])
def test_a_term_out_of_range_is_refused_naming_the_field(shop: Any, bad: Any) -> None:
    before = shop.client.get("/api/v1/applications", headers=shop.headers("alpha-user")).get_json()["total"]
    resp = create(shop, items=[small(shop), small(shop, term_months=bad)])
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert {"code", "message", "errors"} <= set(body)
    assert [e["field"] for e in body["errors"]] == ["items.1.term_months"], body  # the schema path
    assert shop.client.get("/api/v1/applications", headers=shop.headers("alpha-user")).get_json()["total"] == before
