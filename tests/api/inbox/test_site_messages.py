"""Site messages over HTTP: a task assigned to you arrives as a message; list, unread count, read,
read all, delete; nobody reaches another user's messages."""

from __future__ import annotations

from typing import Any


def submit_one(shop: Any) -> dict[str, Any]:
    resp = shop.client.post("/api/v1/applications", headers=shop.headers("alpha-user"), json={
        "business_system_id": shop.system["alpha"], "purpose": "inference", "submit": True,
        "items": [{"spec_id": shop.spec("vm-general", "small"), "quantity": 1}]})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_mailbox(shop: Any) -> None:
    c, approver = shop.client, shop.headers("alpha-approver")
    assert c.get("/api/v1/site-messages/unread-count", headers=approver).get_json() == {"unread": 0}
    first, second = submit_one(shop), submit_one(shop)
    assert c.get("/api/v1/site-messages/unread-count", headers=approver).get_json() == {"unread": 2}

    unread = c.get("/api/v1/site-messages?unread=true", headers=approver).get_json()
    assert unread["total"] == 2 and {m["kind"] for m in unread["items"]} == {"task_assigned"}
    newest = unread["items"][0]
    assert newest["link"]["application_id"] in (first["id"], second["id"]) and not newest["read"]

    read = c.post(f"/api/v1/site-messages/{newest['id']}/read", headers=approver)
    assert read.status_code == 200 and read.get_json()["read"] is True
    assert c.get("/api/v1/site-messages/unread-count", headers=approver).get_json() == {"unread": 1}
    assert c.get("/api/v1/site-messages?unread=false", headers=approver).get_json()["total"] == 1

    # another user's message: not found, whatever they try
    other = shop.headers("alpha-user")
    assert c.get(f"/api/v1/site-messages/{newest['id']}", headers=other).status_code == 404
    assert c.post(f"/api/v1/site-messages/{newest['id']}/read", headers=other).status_code == 404
    assert c.delete(f"/api/v1/site-messages/{newest['id']}", headers=other).status_code == 404

    assert c.post("/api/v1/site-messages/read-all", headers=approver).get_json() == {"marked": 1}
    assert c.get("/api/v1/site-messages/unread-count", headers=approver).get_json() == {"unread": 0}
    assert c.delete(f"/api/v1/site-messages/{newest['id']}", headers=approver).status_code == 204
    assert c.get("/api/v1/site-messages", headers=approver).get_json()["total"] == 1


def test_messages_follow_the_application(shop: Any) -> None:
    app = submit_one(shop)
    decided = shop.client.post(f"/api/v1/applications/{app['id']}/decision", headers=shop.headers("alpha-approver"),
                               json={"decision": "reject", "comment": "use the shared pool"})
    assert decided.status_code == 200, decided.get_json()
    mine = shop.client.get("/api/v1/site-messages?kind=rejected", headers=shop.headers("alpha-user")).get_json()
    assert mine["total"] == 1
    assert "use the shared pool" in mine["items"][0]["body"] and mine["items"][0]["link"]["number"] == app["number"]
    # the applicant is asked to edit and resubmit: that task is theirs
    assigned = shop.client.get("/api/v1/site-messages?kind=task_assigned",
                               headers=shop.headers("alpha-user")).get_json()
    assert assigned["total"] == 1 and assigned["items"][0]["link"]["application_id"] == app["id"]
