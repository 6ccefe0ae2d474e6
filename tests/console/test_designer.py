"""The process designer in Chromium against a real ``aicmp serve``: a tenant administrator opens
the platform's approval process in the bpmn-js modeler, drops a new step from the palette onto a
sequence flow, picks service task operators from the registered ones, validates and deploys without
the forms (the server's findings are marked on their elements and listed with their lines, nothing
stored), then deploys with them: the tenant's own variant, version 2, that only this tenant sees.
Simulating it highlights the path a run takes, and scripted answers for a user task change it.
The exact XML of that version comes back from the download, and the comparison of v1 and v2 shows
the added step. The form designer previews a template with the inbox's renderer.
"""

from __future__ import annotations

from pathlib import Path

from tests.api.platform.test_serve_process import call
from tests.console.browser import PASSWORD, ROOT, VIEWPORT, shot, watch

FORMS = [str(ROOT / "forms" / "application-approval-schema.json"),
         str(ROOT / "forms" / "application-approval-uischema.json")]
FOLDER = "designer"
# where a flow's midpoint lies on the screen (the modeler is window.aicmpModeler)
FLOW_MIDPOINT = """(flowId) => {
  const m = window.aicmpModeler, vb = m.get('canvas').viewbox();
  const [a, b] = m.get('elementRegistry').get(flowId).waypoints;
  const rect = document.querySelector('#modeler .djs-container').getBoundingClientRect();
  return {x: rect.left + ((a.x + b.x) / 2 - vb.x) * vb.scale, y: rect.top + ((a.y + b.y) / 2 - vb.y) * vb.scale};
}"""
SELECT = "(id) => { const m = window.aicmpModeler; m.get('selection').select(m.get('elementRegistry').get(id)); }"
STEP = """(name) => {
  const t = window.aicmpModeler.get('elementRegistry').filter((e) => e.businessObject?.name === name)[0];
  return t && {type: t.type, lanes: (t.businessObject.lanes || []).map((l) => l.name),
               from: t.incoming.map((c) => c.source.id), to: t.outgoing.map((c) => c.target.id)};
}"""


def token(base: str, username: str) -> dict[str, str]:
    status, body = call(f"{base}/api/v1/auth/login", {"username": username, "password": PASSWORD})
    assert status == 200, body
    return {"Authorization": f"Bearer {body['access_token']}"}


def versions(base: str, username: str) -> list[dict]:
    status, body = call(f"{base}/api/v1/process-definitions/approval/versions", headers=token(base, username))
    assert status == 200, body
    return body


def test_a_tenant_admin_adds_a_step_to_its_approval_variant_and_deploys_it(browser, console_server, tmp_path):
    base = console_server
    context = browser.new_context(viewport=VIEWPORT, locale="en", accept_downloads=True)
    watched = watch(context, "beta-admin")
    page = watched.page
    page.goto(f"{base}/console/")
    page.select_option("#language", "en")
    page.fill("input[name=username]", "beta-admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#logout")
    page.click("a[data-nav=designer]")
    page.click("summary[data-key=approval]")
    page.click("a[href='#/designer/approval/1']")
    page.wait_for_selector(".djs-element[data-element-id=platform_approve]")
    assert page.is_visible(".bjs-powered-by")  # bpmn.io's watermark stays visible
    shot(page, FOLDER, "01-modeler-approval-v1")

    # a new step from the palette, dropped onto the flow between two steps, named in place
    point = page.evaluate(FLOW_MIDPOINT, "f_platform_done")
    page.click(".djs-palette .entry.bpmn-icon-task")
    page.mouse.move(point["x"] - 20, point["y"], steps=3)
    page.mouse.move(point["x"], point["y"], steps=3)
    page.mouse.click(point["x"], point["y"])
    page.keyboard.type("Security review")
    box = page.locator("#modeler").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 30)  # empty canvas: name done
    assert page.input_value("#properties [data-prop=name]") in ("", "Security review")
    step = page.evaluate(STEP, "Security review")
    assert step == {"type": "bpmn:Task", "lanes": ["platform_operator"], "from": ["platform_approve"],
                    "to": ["record_platform"]}

    # the properties panel: aicmp's extensions of the element in hand
    page.click(".djs-element[data-element-id=find_approvers]")
    # the operator is picked from the registered operators (GET /operators)
    page.wait_for_selector("select[data-prop=operator] option[value='orders/create']", state="attached")
    assert page.input_value("[data-prop=operator]") == "applications/approvers"
    names = page.eval_on_selector_all("select[data-prop=operator] option", "os => os.map((o) => o.value)")
    assert {"orders/create", "applications/approvers", "applications/decision"} <= set(names)
    assert page.input_value("[data-param=lane]") == "'approver'"
    page.click(".djs-element[data-element-id=org_approve]")
    assert page.input_value("[data-prop=form-schema]") == "application-approval-schema.json"
    page.click(".djs-element[data-element-id=approval_deadline]")
    assert page.input_value("[data-prop=timer]") == "approval_timeout"
    page.fill("[data-prop=timer]", "PT48H")
    page.press("[data-prop=timer]", "Enter")
    page.click("#properties h2")
    shot(page, FOLDER, "02-properties-timer")

    # validated without its forms: the findings on their elements, nothing stored
    page.click("#validate")
    page.wait_for_selector("#validate-errors")
    assert "[org_approve]" in page.inner_text("#validate-errors")
    assert page.locator(".djs-element.finding-element[data-element-id=org_approve]").count() == 1
    shot(page, FOLDER, "03a-validate-findings")
    assert [v["version"] for v in versions(base, "beta-admin")] == [1]

    # deployed without its forms: refused, each finding on its element, nothing stored
    page.click("#deploy")
    page.wait_for_selector("#deploy-errors")
    assert "[org_approve]" in page.inner_text("#deploy-errors")
    assert page.locator(".djs-element.finding-element[data-element-id=org_approve]").count() == 1
    shot(page, FOLDER, "03-deploy-findings")
    assert [v["version"] for v in versions(base, "beta-admin")] == [1]

    # with its forms: the tenant's variant, version 2
    page.set_input_files("#form-files", FORMS)
    page.click("#deploy")
    page.wait_for_selector("#deploy-result")
    assert "approval v2" in page.inner_text("#deploy-result")
    assert page.locator(".finding-element").count() == 0
    shot(page, FOLDER, "04-deployed-v2")

    # simulated: the bare PT48H is an ISO 8601 literal, so the run reaches the end
    page.click("#simulate")
    page.wait_for_selector("#simulate-result >> text=reached an end event")
    # a timer naming a variable nobody set stops the run when the timer starts, and the elements
    # it stopped at are marked
    page.evaluate(SELECT, "approval_deadline")  # a boundary event: selected through the modeler, not a click
    page.fill("[data-prop=timer]", "missing_timeout")
    page.press("[data-prop=timer]", "Enter")
    page.click("#properties h2")
    page.click("#simulate")
    page.wait_for_selector("#simulate-result >> text=missing_timeout")
    assert page.locator(".djs-element.stopped-element[data-element-id=org_approve]").count() == 1
    shot(page, FOLDER, "04a-simulation-stopped")
    # the timer as a Python string: the path taken is highlighted (flows included), the new step on it
    page.evaluate(SELECT, "approval_deadline")  # a boundary event: selected through the modeler, not a click
    page.fill("[data-prop=timer]", "'PT48H'")
    page.press("[data-prop=timer]", "Enter")
    page.click("#properties h2")
    page.click("#simulate")
    page.wait_for_selector("#simulate-result >> text=reached an end event")
    assert "Security review" in page.inner_text("#simulate-path")

    def on_path(element_id: str) -> int:
        return page.locator(f".djs-element.path-element[data-element-id={element_id}]").count()

    assert on_path("platform_approve") == on_path("end_approved") == on_path("f_platform_approved") == 1
    assert page.locator(".stopped-element").count() == 0
    assert on_path("end_rejected") == 0
    shot(page, FOLDER, "04b-simulated-path")
    # a scripted answer for the organisation's approval: rejected, the platform never asked
    page.fill("#simulate-tasks", '{"org_approve": {"decision": "reject"}}')
    page.click("#simulate")
    page.wait_for_selector(".djs-element.path-element[data-element-id=end_rejected]")
    assert on_path("platform_approve") == on_path("end_approved") == 0
    beta = versions(base, "beta-admin")
    assert [(v["version"], v["tenant_id"]) for v in beta] == [(2, beta[0]["tenant_id"]), (1, None)]
    assert beta[0]["tenant_id"] is not None
    assert [v["version"] for v in versions(base, "alpha-admin")] == [1]  # another tenant never sees it

    # the exact XML of v2 downloads; v1 and v2 compared show the new step
    page.goto(f"{base}/console/#/designer/approval/2")
    page.wait_for_selector(".djs-element[data-element-id=platform_approve]")
    assert page.evaluate(STEP, "Security review")["to"] == ["record_platform"]
    details = page.locator("summary[data-key=approval]")
    details.wait_for()
    page.wait_for_selector("a[href='#/designer/approval/1']")
    with page.expect_download() as download:
        page.click("button[title='Download XML'] >> nth=0")
    saved = Path(download.value.path()).read_text()
    assert "Security review" in saved and "PT48H" in saved
    assert "applications/approvers" in saved and "application-approval-schema.json" in saved  # extensions kept
    page.check("input[aria-label='Compare v1']")
    page.check("input[aria-label='Compare v2']")
    page.click("button.compare")
    diff = page.wait_for_selector("#xml-diff")
    added = [line for line in diff.inner_text().splitlines() if line.startswith("+ ")]
    assert any("Security review" in line for line in added)
    shot(page, FOLDER, "05-compare-v1-v2")
    assert watched.unexpected((400,)) == []
    context.close()


def test_the_form_designer_previews_a_template_with_the_inbox_renderer(browser, console_server):
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    watched = watch(context, "designer")
    page = watched.page
    page.goto(f"{console_server}/console/")
    page.fill("input[name=username]", "designer")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#logout")
    page.click("a[data-nav=forms]")
    page.wait_for_selector("#form-preview [data-key=decision] input[type=radio]")
    page.select_option("#form-template", "request")
    page.wait_for_selector("#form-preview [data-key=gpus] input")
    page.fill("#form-preview [data-key=purpose] textarea", "training")
    page.fill("#form-preview [data-key=gpus] input", "8")
    page.dispatch_event("#form-preview [data-key=gpus] input", "input")
    assert '"gpus": 8' in page.inner_text("#form-sample")
    page.fill("#form-schema", '{"type": "object", "properties": {"x": {"type": "string", "title": "Ex"}}}')
    page.wait_for_selector("#form-preview [data-key=x]")
    page.fill("#form-schema", "{not json")
    page.wait_for_selector("text=JSON")
    shot(page, FOLDER, "06-form-designer")
    assert watched.unexpected() == []
    context.close()
