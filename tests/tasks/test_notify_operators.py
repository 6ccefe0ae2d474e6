"""``notify/application`` against fake ports: it reads the application through the applications
port, turns the audience into the messages port's recipients, renders the event's template and
sends one message per recipient in the application's tenant; it returns how many the port wrote."""

from __future__ import annotations

import pytest

from tasks import notify
from tasks.registry import OperatorError

# ---------------------------------------------------------------------------------------------- recipients


def test_the_audience_becomes_user_names_and_roles_without_repeats():
    audience = ["applicant", "user:bob", "role:tenant_admin", "user:alpha-user", "role:tenant_admin"]
    assert notify.recipients(audience, "alpha-user") == ["alpha-user", "bob", "role:tenant_admin"]


@pytest.mark.parametrize("audience", [[], "applicant", None, ["user:"], ["role:"], ["bob"], [42], ["group:x"]])
def test_an_audience_entry_that_names_no_one_is_invalid(audience):
    with pytest.raises(OperatorError) as err:
        notify.recipients(audience, "alpha-user")
    assert err.value.code == "INVALID_AUDIENCE"


# ---------------------------------------------------------------------------------------------- templates


def test_every_event_renders_with_the_applications_number_and_title():
    application = {"number": "APP-0007", "title": "Training run"}
    for event in notify.TEMPLATES:
        title, body = notify.render(event, application, None, "ORD-0001")
        assert "APP-0007" in title and "APP-0007" in body
        assert "{" not in title + body


def test_a_comment_and_an_order_go_into_the_body():
    application = {"number": "APP-0007", "title": None}
    _, body = notify.render("rejected", application, "too big", None)
    assert body.startswith('Your application APP-0007 "" was rejected. Comment: too big')
    _, body = notify.render("order_created", application, None, "ORD-0042")
    assert "Order ORD-0042 was created" in body
    _, body = notify.render("approved", application, "", None)
    assert "Comment" not in body


def test_an_unknown_event_is_refused():
    with pytest.raises(OperatorError) as err:
        notify.render("exploded", {"number": "APP-1"}, None, None)
    assert err.value.code == "UNKNOWN_EVENT" and "submitted" in err.value.message


# ---------------------------------------------------------------------------------------------- the operator


def test_by_default_the_applicant_gets_one_message_in_the_applications_tenant(ports):
    assert notify.notify_application(application_id="app-1", event="submitted") == {"sent": 1}
    (message,) = ports.messages.sent
    assert message == {"tenant_id": "t-alpha", "recipients": ["alpha-user"], "kind": "submitted",
                       "title": "Application APP-0001 submitted",
                       "body": 'Your application APP-0001 "GPU cluster" is waiting for approval.',
                       "link": {"application_id": "app-1", "number": "APP-0001"}}


def test_the_count_sent_is_what_the_messages_port_answered(ports):
    ports.messages.send = lambda *args: 7  # a role with seven holders
    result = notify.notify_application(application_id="app-1", event="escalated",
                                       audience=["role:tenant_admin"])
    assert result == {"sent": 7}


def test_an_unknown_event_or_bad_audience_sends_nothing(ports):
    with pytest.raises(OperatorError, match="exploded"):
        notify.notify_application(application_id="app-1", event="exploded")
    with pytest.raises(OperatorError) as err:
        notify.notify_application(application_id="app-1", event="submitted", audience=["everyone"])
    assert err.value.code == "INVALID_AUDIENCE"
    assert ports.messages.calls == []
