"""The process monitor in Chromium against a real ``aicmp serve``: an operator finds a submitted
application's instance by its key, sees its diagram with the waiting element marked and the
completed ones, its history and data, and suspends and resumes it; a tenant user's inbox stays
empty of it."""

from __future__ import annotations

from tests.api.platform.test_serve_process import call
from tests.console.browser import PASSWORD, VIEWPORT, shot, watch


def submitted_application(base: str) -> str:
    """alpha-user's application for one A100 host, submitted over the API; its id."""
    status, tokens = call(f"{base}/api/v1/auth/login", {"username": "alpha-user", "password": PASSWORD})
    assert status == 200, tokens
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    _, products = call(f"{base}/api/v1/catalog/products?q=a100", headers=auth)
    spec = next(s["id"] for s in products["items"][0]["specs"] if s["code"] == "a100-1")
    _, systems = call(f"{base}/api/v1/business-systems", headers=auth)
    status, app = call(f"{base}/api/v1/applications", {
        "title": "monitored", "purpose": "watch it", "business_system_id": systems["items"][0]["id"],
        "items": [{"spec_id": spec, "quantity": 1}], "submit": True}, headers=auth)
    assert status == 201 and app["status"] == "pending", app
    return app["id"]


def test_an_operator_watches_suspends_and_resumes_an_instance(browser, console_server):
    base = console_server
    app_id = submitted_application(base)
    context = browser.new_context(viewport=VIEWPORT, locale="en")
    watched = watch(context, "operator")
    page = watched.page
    page.goto(f"{base}/console/")
    page.select_option("#language", "en")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#logout")
    page.click("a[data-nav=monitor]")
    page.fill("#instance-key", "application")
    page.press("#instance-key", "Enter")
    page.wait_for_selector(f"tr:has-text('{app_id}') a")
    shot(page, "monitor", "01-instances")
    page.click(f"tr:has-text('{app_id}') a")
    page.wait_for_selector(".diagram .djs-element.active-element", state="attached")
    assert page.locator(".diagram .djs-element.done-element").count() >= 3
    assert page.is_visible(".bjs-powered-by")
    assert "reservation" in page.inner_text("main")  # what a step changed in the process data
    shot(page, "monitor", "02-instance")
    page.click("[data-action=suspend]")
    page.wait_for_selector(".titlebar .badge.status-suspended")
    page.click("[data-action=resume]")
    page.wait_for_selector(".titlebar .badge.status-running")
    assert watched.unexpected() == []
    context.close()
