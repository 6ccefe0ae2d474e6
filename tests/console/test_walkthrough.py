"""The console's walkthrough in Chromium against a real ``aicmp serve``, in zh-CN and in English:
a tenant user files an application from the catalog and cart (a missing purpose is named beside
its field), submits it and urges it; the approver (its urged count up) finds it in the inbox with a
saved personal filter and the keyboard, claims and gives it back, opens its form, gets the
server's field error for a too-long comment beside that field, then approves; the platform
operator decides on the application page; the applicant sees the order, the approval history and
the messages, with the unread count. No page logs a console error (beyond the 422s the test
provokes); every page is screenshotted into tests/console/artifacts/<locale>/. And a draft:
edited, given an attachment (downloaded back), submitted and withdrawn.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.browser import PASSWORD, VIEWPORT, Watched, shot, watch

# a few words per locale, as console/src/messages.js has them
WORDS = {
    "zh-CN": {"catalog": "产品目录", "pending": "审批中", "ordered": "已下单", "required_hint": "用途"},
    "en": {"catalog": "Catalog", "pending": "Pending", "ordered": "Ordered", "required_hint": "Purpose"},
}


def login(browser, base: str, username: str, locale: str) -> Watched:
    context = browser.new_context(viewport=VIEWPORT, locale=locale)
    watched = watch(context, username)
    page = watched.page
    page.goto(f"{base}/console/")
    page.wait_for_selector("#language")
    if locale != "zh-CN":
        page.select_option("#language", locale)  # remembered in this browser (localStorage)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#logout")
    assert page.get_attribute("html", "lang") == locale
    return watched


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_tenant_files_an_application_that_is_approved_and_ordered(browser, console_server, locale):
    base, words, folder = console_server, WORDS[locale], f"walkthrough-{locale}"
    pages: list[tuple[Watched, tuple[int, ...]]] = []

    # the tenant user: catalog -> cart -> application, submitted
    user = login(browser, base, "alpha-user", locale)
    pages.append((user, (422,)))
    page = user.page
    assert page.inner_text("a[data-nav=catalog]").strip() == words["catalog"]
    page.wait_for_selector("[data-product]")
    shot(page, folder, "01-catalog")
    page.fill("#catalog-search", "a100")
    page.press("#catalog-search", "Enter")
    page.wait_for_selector("tr[data-spec='a100-1'] button[data-add-spec]")
    page.click("tr[data-spec='a100-1'] button[data-add-spec]")
    page.wait_for_selector(".toast:not([hidden])")
    page.click("a[data-nav=cart]")
    page.wait_for_selector("#create-application")
    shot(page, folder, "02-cart")
    page.click("#create-application")  # no purpose: the server names the field, shown beside it
    error = page.wait_for_selector("[data-key=purpose] .field-error:not([hidden])")
    assert error.inner_text().strip()
    assert page.get_attribute("[data-key=purpose] textarea", "aria-invalid") == "true"
    shot(page, folder, "03-cart-field-error")
    page.fill("input[name=title]", f"Fine-tuning ({locale})")
    page.fill("textarea[name=purpose]", "fine-tune a model")
    page.check("#submit-now")
    page.click("#create-application")
    page.wait_for_selector(".badge.status-pending")
    assert page.inner_text(".titlebar .badge").strip() == words["pending"]
    app_id = page.url.rsplit("/", 1)[1]
    shot(page, folder, "04-application-pending")
    page.click("button[data-action=urge]")  # the applicant urges the approver
    page.wait_for_selector(".toast:not([hidden])")

    # the approver: inbox -> the task's form -> a field error -> approve
    approver = login(browser, base, "alpha-approver", locale)
    pages.append((approver, (422,)))
    page = approver.page
    row = f"li[data-business='{app_id}']"
    page.wait_for_selector(row)
    assert int(page.inner_text("[data-count=urged]")) >= 1
    assert page.locator(f"{row} .badge.urged").count() == 1
    page.click("#task-filters summary")  # a personal filter: this application's tasks, saved
    page.fill("#task-filters input[name=text]", app_id)
    assert [li.get_attribute("data-business") for li in page.query_selector_all("li[data-task]")] == [app_id]
    page.fill("#filter-name", "this application")
    page.click("#save-filter")
    assert "this application" in page.inner_text("#saved-filter")
    page.focus("#task-list")  # the list by keyboard: arrows move, Enter opens
    for _ in range(page.locator("li[data-task]").count()):
        page.keyboard.press("ArrowDown")
        if page.get_attribute("li.selected", "data-business") == app_id:
            break
    page.keyboard.press("Enter")
    page.wait_for_selector("form.task-form [data-key=decision]")
    page.click("[data-action=claim]")  # claim and give back: the task's holder shows
    page.wait_for_selector("[data-action=unclaim]")
    assert "alpha-approver" in page.inner_text("#task-detail .muted")
    page.click("[data-action=unclaim]")
    page.wait_for_selector("[data-action=claim]")
    assert page.is_visible(".bjs-powered-by") is False  # the diagram tab is not open yet
    shot(page, folder, "05-inbox-task-form")
    page.check("[data-key=decision] input[value=approve]")
    page.fill("[data-key=comment] textarea", "x" * 2001)  # the form allows 2,000
    page.click("#complete-task")
    error = page.wait_for_selector("[data-key=comment] .field-error:not([hidden])")
    assert "long" in error.inner_text()  # the server's message for $.comment, beside the comment
    assert page.is_visible(row)  # nothing was completed
    shot(page, folder, "06-inbox-field-error")
    page.click(".tabs.small [data-tab=diagram]")
    page.wait_for_selector(".diagram .djs-element.active-element", state="attached")
    assert page.is_visible(".bjs-powered-by")  # bpmn.io's watermark stays
    shot(page, folder, "07-inbox-task-diagram")
    page.click(".tabs.small [data-tab=form]")
    page.fill("[data-key=comment] textarea", "ok")
    page.click("#complete-task")
    page.wait_for_selector(row, state="detached")

    # the platform operator decides on the application page
    operator = login(browser, base, "operator", locale)
    pages.append((operator, ()))
    page = operator.page
    page.goto(f"{base}/console/#/applications/{app_id}")
    page.wait_for_selector("#decision-form")
    shot(page, folder, "08-operator-application")
    page.select_option("#decision-form select[name=decision]", "approve")
    page.fill("#decision-form textarea[name=comment]", "capacity reserved")
    page.click("#send-decision")
    page.wait_for_selector(".badge.status-ordered")

    # the applicant: the order, the history, the messages and their unread count
    page = user.page
    page.goto(f"{base}/console/#/applications/{app_id}")
    page.reload()
    order = page.wait_for_selector("#order-number")
    assert order.inner_text().startswith("OR")
    assert page.inner_text(".titlebar .badge").strip() == words["ordered"]
    assert "capacity reserved" in page.inner_text("main")  # the approval history
    unread = page.wait_for_selector("#unread-count:not([hidden])")
    assert int(unread.inner_text()) >= 1  # "approved" and "order_created"
    if page.locator("#ask-quote").count():  # with billing installed: its price, or why there is none
        page.click("#ask-quote")
        page.wait_for_selector("#quote .quote-total, #quote .quote-refused")
    shot(page, folder, "09-application-ordered")
    page.click("a[data-nav=messages]")
    page.wait_for_selector("tr[data-kind=approved]")  # no pools: the order's lines wait on operations
    shot(page, folder, "10-messages")
    page.click("#read-all")
    page.wait_for_selector("#unread-count[hidden]", state="attached")

    for watched, allowed in pages:
        assert watched.unexpected(allowed) == [], f"{watched.name}: console errors"
        watched.page.context.close()


def test_a_draft_is_edited_attached_submitted_and_withdrawn(browser, console_server, tmp_path):
    base, folder = console_server, "application-draft"
    user = login(browser, base, "alpha-user", "en")
    page = user.page
    page.fill("#catalog-search", "a100")
    page.press("#catalog-search", "Enter")
    page.click("tr[data-spec='a100-1'] button[data-add-spec]")
    page.wait_for_selector(".toast:not([hidden])")
    page.click("a[data-nav=cart]")
    page.fill("textarea[name=purpose]", "a draft first")
    page.click("#create-application")  # not submitted: a draft
    page.wait_for_selector(".titlebar .badge.status-draft")
    page.fill("#edit-application input[name=title]", "Edited title")
    page.click("#edit-application button[type=submit]")
    page.wait_for_selector("dd:has-text('Edited title')")
    notes = tmp_path / "capacity plan.txt"
    notes.write_text("two A100 hosts for three weeks")
    page.set_input_files("input[type=file][name=file]", str(notes))
    page.click("form:has(input[type=file]) button[type=submit]")
    page.wait_for_selector("a:has-text('capacity plan.txt')")
    with page.expect_download() as download:
        page.click("a:has-text('capacity plan.txt')")
    assert download.value.suggested_filename == "capacity plan.txt"
    assert Path(download.value.path()).read_text() == "two A100 hosts for three weeks"
    shot(page, folder, "01-draft-with-attachment")
    page.click("button[data-action=submit]")
    page.wait_for_selector(".titlebar .badge.status-pending")
    page.click("button[data-action=withdraw]")  # before the first approval
    page.wait_for_selector(".titlebar .badge.status-draft")  # back to a draft, the quota released
    shot(page, folder, "02-withdrawn")
    assert user.unexpected() == []
    page.context.close()
