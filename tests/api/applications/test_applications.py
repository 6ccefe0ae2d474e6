"""Applications over HTTP, logged in through the real login endpoint, on the seeded demo data and the
product processes in bpmn/: draft, submit, approve, order; reject and resubmit; withdraw; escalation
by timer; quota refused; a tenant's own approval; one application per Idempotency-Key."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.timers import fire_due_timers

ROOT = Path(__file__).resolve().parents[3]


def create(shop: Any, *, user: str = "alpha-user", tenant: str = "alpha", items: list[dict[str, Any]] | None = None,
           submit: bool = False, headers: dict[str, str] | None = None, **more: Any) -> Any:
    body = {"business_system_id": shop.system[tenant], "purpose": "fine-tune a model", "title": "Fine-tuning",
            "items": items if items is not None else [{"spec_id": shop.spec("gpu-a100", "a100-1"), "quantity": 2}],
            "submit": submit, **more}
    return shop.client.post("/api/v1/applications", json=body, headers={**shop.headers(user), **(headers or {})})


def submitted(shop: Any, **kwargs: Any) -> dict[str, Any]:
    resp = create(shop, submit=True, **kwargs)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "pending"
    return resp.get_json()


def detail(shop: Any, app_id: str, user: str = "alpha-user") -> dict[str, Any]:
    resp = shop.client.get(f"/api/v1/applications/{app_id}", headers=shop.headers(user))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def decide(shop: Any, app_id: str, user: str, decision: str = "approve", comment: str | None = None) -> Any:
    return shop.client.post(f"/api/v1/applications/{app_id}/decision", json={"decision": decision, "comment": comment},
                            headers=shop.headers(user))


def action(shop: Any, app_id: str, name: str, user: str = "alpha-user", headers: dict[str, str] | None = None,
           **kwargs: Any) -> Any:
    return shop.client.post(f"/api/v1/applications/{app_id}/{name}", headers={**shop.headers(user), **(headers or {})},
                            **kwargs)


def kinds(shop: Any, user: str) -> list[str]:
    resp = shop.client.get("/api/v1/site-messages?page_size=200", headers=shop.headers(user))
    assert resp.status_code == 200, resp.get_json()
    return [m["kind"] for m in resp.get_json()["items"]]


def test_happy_path_from_login_to_order(shop: Any) -> None:
    c, user = shop.client, shop.headers("alpha-user")
    found = c.get("/api/v1/catalog/products?q=a100", headers=user).get_json()
    spec = next(sp for sp in found["items"][0]["specs"] if sp["code"] == "a100-1")
    line = c.post("/api/v1/cart/items", json={"spec_id": spec["id"], "quantity": 2}, headers=user).get_json()
    draft = c.post("/api/v1/applications", headers=user, json={
        "business_system_id": shop.system["alpha"], "purpose": "fine-tune a model", "title": "Fine-tuning",
        "cart_item_ids": [line["items"][0]["id"]]})
    assert draft.status_code == 201 and draft.get_json()["status"] == "draft"
    app = draft.get_json()
    assert app["totals"] == {"vcpu": 32, "memory_gib": "256.000", "disk_gib": "1000.000", "gpus": 2, "instances": 2,
                             "eips": 2, "gpus_by_model": {"A100": 2}}
    assert c.get("/api/v1/cart", headers=user).get_json()["count"] == 0

    upload = c.post(f"/api/v1/applications/{app['id']}/attachments", headers=user, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(b"budget: approved"), "../budget.txt", "text/plain")})
    assert upload.status_code == 201, upload.get_json()
    assert upload.get_json()["filename"] == "budget.txt" and upload.get_json()["size"] == 16

    sent = action(shop, app["id"], "submit", headers={"Idempotency-Key": "submit-1"})
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["status"] == "pending"
    assert shop.quota("alpha", "research", "gpus")["in_process"] == "2.000"

    # the organisation's approver works it from the inbox
    approver = shop.headers("alpha-approver")
    assert "task_assigned" in kinds(shop, "alpha-approver")
    todo = c.get("/api/v1/tasks", headers=approver).get_json()["items"]
    task = next(t for t in todo if t["business_key"] == app["id"])
    opened = c.get(f"/api/v1/tasks/{task['id']}", headers=approver).get_json()
    assert opened["schema"]["properties"]["decision"]["enum"] == ["approve", "reject"]
    done = c.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve", "comment": "ok"}},
                  headers=approver)
    assert done.status_code == 200, done.get_json()

    # the platform operator gives the final approval on the application
    assert "task_assigned" in kinds(shop, "operator")
    final = decide(shop, app["id"], "operator")
    assert final.status_code == 200, final.get_json()

    result = detail(shop, app["id"])
    assert result["status"] == "ordered" and result["quota_state"] == "committed"
    assert result["order"]["number"].startswith("OR") and result["order"]["items"][0]["quantity"] == 2
    assert [(h["task_spec"], h["actor"]) for h in result["history"] if h["task_type"] == "UserTask"] == [
        ("org_approve", "alpha-approver"), ("platform_approve", "operator")]
    # no resource pool in this world: provisioning hands both copies to operations as work orders
    assert [(t["task_spec"], t["candidates"]) for t in result["current_tasks"]] == [
        ("deliver", ["role:platform_operator"])] * 2
    assert result["order"]["status"] == "provisioning"
    assert [i["provisioning"]["waiting"] for i in result["order"]["items"]] == [2]
    assert result["attachments"][0]["filename"] == "budget.txt"
    research = shop.quota("alpha", "research", "gpus")
    assert (research["in_process"], research["used"]) == ("0.000", "2.000")
    assert "approved" in set(kinds(shop, "alpha-user"))

    download = c.get(f"/api/v1/applications/{app['id']}/attachments/{upload.get_json()['id']}", headers=user)
    assert download.status_code == 200 and download.data == b"budget: approved"


def test_reject_edit_resubmit_approve(shop: Any) -> None:
    app = submitted(shop)
    rejected = decide(shop, app["id"], "alpha-approver", "reject", "one GPU is enough")
    assert rejected.status_code == 200, rejected.get_json()
    back = detail(shop, app["id"])
    assert back["status"] == "returned" and back["last_comment"] == "one GPU is enough"
    assert shop.quota("alpha", "research", "gpus")["in_process"] == "0.000"
    assert "rejected" in kinds(shop, "alpha-user")

    edited = shop.client.patch(f"/api/v1/applications/{app['id']}", headers=shop.headers("alpha-user"),
                               json={"items": [{"spec_id": shop.spec("gpu-a100", "a100-1"), "quantity": 1}]})
    assert edited.status_code == 200 and edited.get_json()["totals"]["gpus"] == 1
    again = action(shop, app["id"], "resubmit")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == "pending" and again.get_json()["submissions"] == 2
    assert shop.quota("alpha", "research", "gpus")["in_process"] == "1.000"

    assert decide(shop, app["id"], "alpha-approver").status_code == 200
    assert decide(shop, app["id"], "operator").status_code == 200
    result = detail(shop, app["id"])
    assert result["status"] == "ordered" and result["order"]["items"][0]["quantity"] == 1


def test_withdraw_until_the_first_approval(shop: Any) -> None:
    app = submitted(shop)
    assert action(shop, app["id"], "withdraw", user="alpha-approver").status_code == 403
    back = action(shop, app["id"], "withdraw")
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["status"] == "draft" and back.get_json()["current_tasks"] == []
    assert shop.quota("alpha", None, "gpus")["in_process"] == "0.000"

    assert action(shop, app["id"], "submit").status_code == 200
    assert decide(shop, app["id"], "alpha-approver").status_code == 200
    refused = action(shop, app["id"], "withdraw")
    assert refused.status_code == 409 and "approval" in refused.get_json()["message"]
    assert detail(shop, app["id"])["status"] == "pending"


def test_an_approval_not_given_in_time_escalates(shop: Any, frozen_clock: Any) -> None:
    app = submitted(shop)
    due = detail(shop, app["id"])["current_tasks"][0]["due_at"]
    assert due is not None
    frozen_clock.advance(timedelta(hours=24, minutes=1))
    assert fire_due_timers(shop.engine, "test") == 1

    tasks = detail(shop, app["id"])["current_tasks"]
    assert [(t["task_spec"], t["candidates"]) for t in tasks] == [("admin_approve", ["role:tenant_admin"])]
    assert "escalated" in kinds(shop, "alpha-admin") and "escalated" in kinds(shop, "alpha-user")
    assert decide(shop, app["id"], "alpha-approver").status_code == 409  # no longer theirs
    assert decide(shop, app["id"], "alpha-admin").status_code == 200
    assert decide(shop, app["id"], "operator").status_code == 200
    assert detail(shop, app["id"])["status"] == "ordered"


def test_quota_short_answers_409_and_keeps_nothing(shop: Any) -> None:
    resp = create(shop, submit=True, items=[{"spec_id": shop.spec("gpu-a100", "a100-8"), "quantity": 3}])
    assert resp.status_code == 409, resp.get_json()
    body = resp.get_json()
    assert body["code"] == "quota_short"
    assert body["errors"][0]["dimension"] == "gpus" and body["errors"][0]["level"] == "organization"
    assert "research" in body["errors"][0]["level_label"]
    for org in (None, "hq", "research"):
        assert shop.quota("alpha", org, "gpus")["in_process"] == "0.000"
    mine = shop.client.get("/api/v1/applications?mine=true", headers=shop.headers("alpha-user")).get_json()
    assert mine["total"] == 0  # not even a draft is kept


def test_a_tenants_own_approval_is_used_for_that_tenant_only(shop: Any) -> None:
    from tests.domains.applications.test_applications_engine import TENANT_APPROVAL

    schema = (ROOT / "forms" / "application-approval-schema.json").read_bytes()
    deployed = shop.client.post("/api/v1/process-definitions", headers=shop.headers("alpha-admin"),
                                content_type="multipart/form-data",
                                data={"files": [(io.BytesIO(TENANT_APPROVAL.encode()), "alpha-approval.bpmn"),
                                                (io.BytesIO(schema), "application-approval-schema.json")]})
    assert deployed.status_code == 201, deployed.get_json()
    shop.set_quota("beta", vcpu=100, memory_gib=1000, disk_gib=1000, gpus=4, instances=4, eips=4)

    alpha = submitted(shop)
    assert [t["task_spec"] for t in alpha["current_tasks"]] == ["alpha_approve"]
    beta = submitted(shop, user="beta-user", tenant="beta")
    assert [t["task_spec"] for t in beta["current_tasks"]] == ["org_approve"]
    assert decide(shop, alpha["id"], "alpha-admin").status_code == 200
    assert detail(shop, alpha["id"])["status"] == "ordered"


def test_one_application_per_idempotency_key(shop: Any) -> None:
    first = create(shop, submit=True, headers={"Idempotency-Key": "apply-42"})
    second = create(shop, submit=True, headers={"Idempotency-Key": "apply-42"})
    assert first.status_code == second.status_code == 201
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    mine = shop.client.get("/api/v1/applications?mine=true", headers=shop.headers("alpha-user")).get_json()
    assert mine["total"] == 1
    assert shop.quota("alpha", "research", "gpus")["in_process"] == "2.000"  # reserved once


def test_lists_filters_export_and_isolation(shop: Any) -> None:
    one = submitted(shop)
    two = create(shop, title="=HYPERLINK(\"http://evil\")").get_json()
    user = shop.headers("alpha-user")
    listed = shop.client.get("/api/v1/applications?status=pending", headers=user).get_json()
    assert [a["id"] for a in listed["items"]] == [one["id"]]
    by_number = shop.client.get(f"/api/v1/applications?number={two['number'][-6:]}",
                                headers=shop.headers("alpha-admin")).get_json()
    assert [a["id"] for a in by_number["items"]] == [two["id"]]
    across = shop.client.get(f"/api/v1/applications?tenant_id={shop.tenant['alpha']}&applicant=alpha-user",
                             headers=shop.headers("operator")).get_json()
    assert across["total"] == 2

    export = shop.client.get("/api/v1/applications/export.csv?status=pending&status=draft", headers=user)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0][:3] == ["number", "title", "status"] and len(rows) == 3
    assert {r[0] for r in rows[1:]} == {one["number"], two["number"]}
    assert {r[1] for r in rows[1:]} == {"Fine-tuning", "'=HYPERLINK(\"http://evil\")"}  # never a formula

    beta = shop.headers("beta-user")
    assert shop.client.get(f"/api/v1/applications/{one['id']}", headers=beta).status_code == 404
    assert action(shop, one["id"], "withdraw", user="beta-user").status_code == 404
    assert shop.client.get("/api/v1/applications", headers=beta).get_json()["total"] == 0


def test_a_rejected_application_is_cancelled_by_its_applicant(shop: Any) -> None:
    app = submitted(shop)
    assert decide(shop, app["id"], "alpha-approver", "reject").status_code == 200
    cancelled = action(shop, app["id"], "cancel")
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled"
    assert action(shop, app["id"], "resubmit").status_code == 409


def test_urge_and_attachment_limits(shop: Any, monkeypatch: Any) -> None:
    app = submitted(shop)
    urged = action(shop, app["id"], "urge", json={"comment": "needed by Friday"})
    assert urged.status_code == 200 and urged.get_json()["notified"] == 1
    assert "urged" in kinds(shop, "alpha-approver")
    assert action(shop, app["id"], "urge", json={}).status_code == 429

    monkeypatch.setattr(shop.engine, "settings", dataclasses.replace(shop.engine.settings, max_attachment_bytes=10))
    draft = create(shop).get_json()
    big = shop.client.post(f"/api/v1/applications/{draft['id']}/attachments", headers=shop.headers("alpha-user"),
                           content_type="multipart/form-data", data={"file": (io.BytesIO(b"x" * 11), "big.bin")})
    assert big.status_code == 413
    pending = shop.client.post(f"/api/v1/applications/{app['id']}/attachments", headers=shop.headers("alpha-user"),
                               content_type="multipart/form-data", data={"file": (io.BytesIO(b"x"), "late.txt")})
    assert pending.status_code == 409  # only drafts and rejected applications change


def test_the_detail_lists_exactly_the_attachments_added_and_not_removed(shop: Any, monkeypatch: Any) -> None:
    """The detail reads attachments only when the application's count says there are some: adding and
    removing keep that count true, and the per-application limit counts what is there now."""
    from engine.domains.applications import attachments

    monkeypatch.setattr(attachments, "MAX_PER_APPLICATION", 2)
    draft, user = create(shop).get_json(), shop.headers("alpha-user")
    url = f"/api/v1/applications/{draft['id']}/attachments"

    def upload(name: str) -> Any:
        return shop.client.post(url, headers=user, content_type="multipart/form-data",
                                data={"file": (io.BytesIO(b"x"), name)})

    assert detail(shop, draft["id"])["attachments"] == []
    first, second = upload("a.txt").get_json(), upload("b.txt").get_json()
    third = upload("c.txt")
    assert third.status_code == 422 and "at most 2" in third.get_json()["message"]
    assert [a["filename"] for a in detail(shop, draft["id"])["attachments"]] == ["a.txt", "b.txt"]
    assert shop.client.delete(f"{url}/{first['id']}", headers=user).status_code == 204
    assert [a["id"] for a in detail(shop, draft["id"])["attachments"]] == [second["id"]]
    assert upload("c.txt").status_code == 201  # room again
    assert shop.client.delete(f"{url}/{second['id']}", headers=user).status_code == 204
    assert [a["filename"] for a in detail(shop, draft["id"])["attachments"]] == ["c.txt"]


def test_a_submission_answers_with_what_a_read_right_after_it_shows(shop: Any) -> None:
    """The submission builds its answer from the application row its own transaction committed (no
    read again): it must be what the detail shows."""
    draft = create(shop).get_json()
    sent = shop.client.post(f"/api/v1/applications/{draft['id']}/submit", headers=shop.headers("alpha-user"))
    assert sent.status_code == 200, sent.get_json()
    answered, read = sent.get_json(), detail(shop, draft["id"])
    assert answered["status"] == "pending" and answered["quota_state"] == "reserved"
    assert {k: read[k] for k in answered} == answered
    created = submitted(shop)  # created and submitted in one request
    assert {k: v for k, v in detail(shop, created["id"]).items() if k in created} == created
