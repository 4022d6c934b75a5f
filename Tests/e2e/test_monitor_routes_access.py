"""Who may read the monitoring routes, through nginx: no credentials → 401, a viewer or the
ingest token → 403, an admin → 200. /operator/system/* reaches the workers through nginx's
`location /operator/` (test_access_routes.py walks the whole route table generically; this
checks that an admin actually gets an answer from each of these routes, not only "not refused")."""

import pytest

import helpers
from monitor_routes_helpers import MONITORING_ROUTES, mon  # noqa: F401 (fixture)


def test_the_route_table_lists_every_monitoring_route_as_admin_only():
    table = {(r["method"], r["path"]): r["access"] for r in helpers.opsplane_routes()}
    missing = [p for p in MONITORING_ROUTES if ("GET", p) not in table]
    assert not missing, f"routes missing from `opsplane routes`: {missing}"
    assert {table[("GET", p)] for p in MONITORING_ROUTES} == {"admin"}, table


@pytest.mark.parametrize("path", MONITORING_ROUTES)
def test_only_an_admin_reads_a_monitoring_route(mon, path):
    name = mon.name("svc")
    mon.service(name)
    target = path.replace("{name}", name)
    refused = {None: (401, "unauthenticated"), "viewer": (403, "forbidden"), "ingest": (403, "forbidden")}
    for role, (status, code) in refused.items():
        helpers.assert_error_envelope(mon.get(target, role=role), status, code)
    resp = mon.get(target, role="admin")
    assert resp.status_code == 200, f"GET {target} as admin: {helpers.describe(resp)}"
    body = helpers.parse_json(resp)
    assert isinstance(body.get("warnings"), list), f"every monitoring answer carries a warnings list: {body!r}"[:300]
