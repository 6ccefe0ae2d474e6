"""The catalog over HTTP: the seeded demo categories and products, search, detail, and visibility per
tenant (platform-wide products, plus one opened to tenant alpha only)."""

from __future__ import annotations

from typing import Any


def get(shop: Any, url: str, user: str) -> Any:
    return shop.client.get(url, headers=shop.headers(user))


def test_categories_are_a_two_level_tree_counting_what_you_see(shop: Any) -> None:
    alpha = {c["code"]: c for c in get(shop, "/api/v1/catalog/categories", "alpha-user").get_json()}
    beta = {c["code"]: c for c in get(shop, "/api/v1/catalog/categories", "beta-user").get_json()}
    assert [ch["code"] for ch in alpha["compute"]["children"]] == ["cpu", "gpu"]
    gpu = {ch["code"]: ch["product_count"] for ch in alpha["compute"]["children"]}["gpu"]
    assert gpu == 3  # A100, H100 and alpha's reserved pod
    assert {ch["code"]: ch["product_count"] for ch in beta["compute"]["children"]}["gpu"] == 2


def test_search_by_text_category_and_gpu_model(shop: Any) -> None:
    gpu_category = next(ch["id"] for c in get(shop, "/api/v1/catalog/categories", "alpha-user").get_json()
                        for ch in c["children"] if ch["code"] == "gpu")
    by_text = get(shop, "/api/v1/catalog/products?q=h100", "alpha-user").get_json()
    assert {p["code"] for p in by_text["items"]} == {"gpu-h100", "alpha-dgx"}
    by_category = get(shop, f"/api/v1/catalog/products?category_id={gpu_category}&page_size=2", "beta-user").get_json()
    assert by_category["total"] == 2 and len(by_category["items"]) == 2
    by_gpu = get(shop, "/api/v1/catalog/products?gpu_model=A100", "alpha-user").get_json()
    assert [p["code"] for p in by_gpu["items"]] == ["gpu-a100"]
    spec = by_gpu["items"][0]["specs"][1]
    assert (spec["vcpu"], spec["memory_gib"], spec["gpu_model"], spec["gpu_count"]) == (96, "1024.000", "A100", 8)
    assert get(shop, "/api/v1/catalog/products?q=100%25", "alpha-user").get_json()["total"] == 0  # % is literal


def test_a_product_opened_to_one_tenant_is_not_found_by_another(shop: Any) -> None:
    pod = get(shop, "/api/v1/catalog/products?q=dgx", "alpha-user").get_json()["items"][0]
    assert "tenant_ids" not in pod  # tenants never see who else a product is opened to
    assert get(shop, f"/api/v1/catalog/products/{pod['id']}", "alpha-user").status_code == 200
    assert get(shop, f"/api/v1/catalog/products/{pod['id']}", "beta-user").status_code == 404
    assert get(shop, "/api/v1/catalog/products?q=dgx", "beta-user").get_json()["total"] == 0
    staff = get(shop, f"/api/v1/catalog/products/{pod['id']}", "operator").get_json()
    assert staff["tenant_ids"] == [shop.tenant["alpha"]]
    # nor can it be applied for
    refused = shop.client.post("/api/v1/cart/items", json={"spec_id": pod["specs"][0]["id"]},
                               headers=shop.headers("beta-user"))
    assert refused.status_code == 422


def test_platform_staff_manage_the_catalog(shop: Any) -> None:
    admin = shop.headers("admin")
    cats = shop.client.get("/api/v1/catalog/categories", headers=admin).get_json()
    network = next(c for c in cats if c["code"] == "network")
    made = shop.client.post("/api/v1/catalog/products", headers={**admin, "Idempotency-Key": "p1"}, json={
        "code": "lb", "name": "Load balancer", "category_id": network["id"], "visibility": "tenants",
        "tenant_ids": [shop.tenant["beta"]], "specs": [{"code": "std", "name": "Standard", "eips": 1}]})
    assert made.status_code == 201, made.get_json()
    product = made.get_json()
    assert product["specs"][0]["instances"] == 1 and product["tenant_ids"] == [shop.tenant["beta"]]
    assert get(shop, f"/api/v1/catalog/products/{product['id']}", "beta-user").status_code == 200
    assert get(shop, f"/api/v1/catalog/products/{product['id']}", "alpha-user").status_code == 404

    opened = shop.client.patch(f"/api/v1/catalog/products/{product['id']}", headers=admin,
                               json={"visibility": "all", "tenant_ids": []})
    assert opened.status_code == 200, opened.get_json()
    assert get(shop, f"/api/v1/catalog/products/{product['id']}", "alpha-user").status_code == 200
    disabled = shop.client.patch(f"/api/v1/catalog/products/{product['id']}", headers=admin, json={"enabled": False})
    assert disabled.status_code == 200
    assert get(shop, f"/api/v1/catalog/products/{product['id']}", "alpha-user").status_code == 404

    taken = shop.client.post("/api/v1/catalog/products", headers=admin, json={
        "code": "lb", "name": "Again", "category_id": network["id"]})
    assert taken.status_code == 409
    deep = shop.client.post("/api/v1/catalog/categories", headers=admin, json={
        "code": "deeper", "name": "Too deep", "parent_id": network["children"][0]["id"]})
    assert deep.status_code == 422
    forbidden = shop.client.post("/api/v1/catalog/products", headers=shop.headers("alpha-admin"), json={
        "code": "mine", "name": "Mine", "category_id": network["id"]})
    assert forbidden.status_code == 403


def test_a_spec_counts_its_gpus_per_accelerator_model(shop: Any) -> None:
    admin = shop.headers("admin")
    gpu = next(ch for c in shop.client.get("/api/v1/catalog/categories", headers=admin).get_json()
               for ch in c["children"] if ch["code"] == "gpu")
    made = shop.client.post("/api/v1/catalog/products", headers=admin, json={
        "code": "mixed", "name": "Mixed GPU pod", "category_id": gpu["id"], "specs": [
            {"code": "h", "name": "8 x H100", "gpu_model": "H100", "gpu_count": 8},
            {"code": "m", "name": "4 x H100 + 4 x A100", "gpus_by_model": {"H100": 4, "A100": 4}}]})
    assert made.status_code == 201, made.get_json()
    one, two = made.get_json()["specs"]
    assert (one["gpu_model"], one["gpu_count"], one["gpus_by_model"]) == ("H100", 8, {"H100": 8})
    assert (two["gpu_model"], two["gpu_count"], two["gpus_by_model"]) == ("A100, H100", 8, {"A100": 4, "H100": 4})
    found = get(shop, "/api/v1/catalog/products?gpu_model=a100&page_size=50", "admin").get_json()
    assert {p["code"] for p in found["items"]} == {"gpu-a100", "mixed"}  # a model of several matches too
    seeded = get(shop, "/api/v1/catalog/products?gpu_model=H100", "alpha-user").get_json()["items"]
    assert {p["code"]: p["specs"][0]["gpus_by_model"] for p in seeded} == {
        "gpu-h100": {"H100": 8}, "alpha-dgx": {"H100": 32}, "mixed": {"H100": 8}}
    for bad in ({"gpus_by_model": {"H100": 4}, "gpu_count": 5}, {"gpus_by_model": {"A:B": 1}},
                {"gpu_model": "A,B", "gpu_count": 1}):
        resp = shop.client.post("/api/v1/catalog/products", headers=admin, json={
            "code": "bad", "name": "Bad", "category_id": gpu["id"], "specs": [{"code": "x", "name": "X", **bad}]})
        assert resp.status_code == 422, (bad, resp.get_json())
