"""Schemathesis against the Serve app's own `/openapi.json`: generated requests never get a 5xx.

Cases come from each operation's Hypothesis strategy (schemathesis's pytest fixture loader does not
run under pytest 9). The kill-switch routes are left out: their 503 refusal is the point of them,
and they are tested on their own.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers import SERVE_KEY

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]


def test_no_generated_request_gets_a_server_error(service: tuple) -> None:
    url, _ = service
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json").exclude(path_regex="^/api/control/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 23  # every route but the two kill-switch controls
    server_errors: list[str] = []
    for operation in operations:

        @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def no_5xx(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {SERVE_KEY}"}, timeout=60)
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} → {response.status_code}: "
                                     f"{response.text[:200]}")

        no_5xx()
    assert server_errors == []
