"""Schemathesis over the whole OpenAPI document: whatever it sends, the API never answers 5xx.

Runs as a platform admin (every permission) against a seeded database, in-process (WSGI).
Bad input must come back as a 4xx naming the problem; a 500 here is a bug.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api import create_app
from tests.api.conftest import login, make_api_engine

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    engine = make_api_engine(f"sqlite:///{tmp / 'fuzz.db'}", tmp)
    app = create_app(engine=engine)
    yield app
    engine.close()


def _operations(app) -> list:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_makes_the_api_fail_with_5xx(fuzz_app):
    """Every operation, with generated valid and invalid input. (Schemathesis' pytest plugin does not
    run under pytest 9, so each operation's strategy is driven by Hypothesis directly.)"""
    failures: list[str] = []
    operations = _operations(fuzz_app)
    assert len(operations) > 50, "the OpenAPI document lost its operations"
    statuses: dict[int, int] = {}
    for operation in operations:
        headers = login(fuzz_app.test_client(), "admin")  # afresh: a fuzzed logout revokes the last token

        @given(case=operation.as_strategy())
        @settings(max_examples=5, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.headers = {**(case.headers or {}), **headers}  # ours, not a generated Authorization
            response = case.call_and_validate(checks=[not_a_server_error])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every failing operation, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc).splitlines()[0][:300]}")
    assert not failures, "\n".join(failures)
    authorized = sum(n for code, n in statuses.items() if code not in (401, 403))
    assert authorized > sum(statuses.values()) // 2, f"most requests never got past authentication: {statuses}"
