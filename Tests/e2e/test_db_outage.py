"""Postgres goes away and comes back: healthz says so with a 503 envelope, then recovers by
itself, and the same worker processes serve throughout (nobody restarts them)."""

import pytest
import requests

import fcgi_client
import helpers

pytestmark = pytest.mark.disruptive

DOWN_WITHIN_S = 10   # healthz must notice the outage within this many seconds
UP_WITHIN_S = 20     # ... and recover within this many seconds of pg-start


class Outage:
    def __init__(self, stack):
        self.stack = stack
        self.pids_before = stack.worker_pids()
        self.db_up = True

    def stop_db(self):
        self.stack.stack_sh("pg-stop")
        self.db_up = False

    def start_db(self):
        if not self.db_up:
            self.stack.stack_sh("pg-start")
            self.db_up = True


def healthz(stack):
    return requests.get(stack.url + "/api/ops/healthz", timeout=helpers.TIMEOUT)


@pytest.fixture(scope="module")
def outage(stack):
    """Postgres stopped for the tests of this module (in file order); always started again."""
    o = Outage(stack)
    resp = healthz(stack)
    assert resp.status_code == 200, f"healthz before the outage: {helpers.describe(resp)}"
    o.stop_db()
    try:
        yield o
    finally:
        o.start_db()
        helpers.wait_for_status(lambda: healthz(stack), 200, UP_WITHIN_S, "healthz 200 after pg-start (module teardown)")


def test_healthz_is_503_database_unavailable_while_postgres_is_down(outage):
    resp = helpers.wait_for_status(lambda: healthz(outage.stack), 503, DOWN_WITHIN_S,
                                   "healthz answering 503 after pg-stop")
    err = helpers.assert_error_envelope(resp, 503, "database_unavailable")
    assert "database" in err["message"].lower() or "postgres" in err["message"].lower(), \
        f"503 message does not say the database is the problem: {err['message']!r}"


def test_every_healthz_during_the_outage_is_a_clean_503(outage):
    # Not a 502/504 from nginx, not a hang: each worker answers for itself, quickly.
    for _ in range(2 * len(outage.pids_before) + 2):
        resp = healthz(outage.stack)
        helpers.assert_error_envelope(resp, 503, "database_unavailable")


def test_routes_without_the_database_still_answer_during_the_outage(outage):
    resp = requests.get(outage.stack.url + "/api/ops/ping", timeout=helpers.TIMEOUT)
    assert resp.status_code == 200 and resp.json() == {"ok": True}, \
        f"ping while Postgres is down: {helpers.describe(resp)}"


def test_token_check_during_the_outage_is_401_auth_unavailable(outage):
    # auth_request accepts only 2xx/401/403 from the auth endpoint (anything else would be
    # nginx's 500): a token that cannot be looked up is 401 with a code that says why.
    token = outage.stack.env.get("OPS_ADMIN_TOKEN", "")
    resp = requests.get(outage.stack.url + "/api/ops/whoami", headers={"Authorization": f"Bearer {token}"},
                        timeout=helpers.TIMEOUT)
    helpers.assert_error_envelope(resp, 401, "auth_unavailable")


def test_host_app_jwt_still_works_during_the_outage(outage):
    # A JWT is checked with the shared secret alone: no database needed.
    secret = outage.stack.env.get("OPS_JWT_HS256_SECRET", "")
    if len(secret) < 32:
        pytest.skip("OPS_JWT_HS256_SECRET is not set for this stack")
    token = helpers.make_jwt(secret, helpers.jwt_claims("outage-admin", is_admin=True))
    resp = requests.get(outage.stack.url + "/api/ops/whoami", headers={"Authorization": f"Bearer {token}"},
                        timeout=helpers.TIMEOUT)
    assert resp.status_code == 200 and resp.json().get("role") == "admin", \
        f"an admin JWT while Postgres is down: {helpers.describe(resp)}"


def test_workers_stay_up_during_the_outage(outage):
    for name, pid in outage.pids_before.items():
        assert helpers.process_alive(pid), \
            f"worker {name} (pid {pid}) died while Postgres was down:\n{helpers.tail(outage.stack.worker_log(name))}"


def test_healthz_recovers_without_restarting_workers(outage):
    helpers.wait_for_status(lambda: healthz(outage.stack), 503, DOWN_WITHIN_S, "healthz 503 while Postgres is down")
    outage.start_db()
    resp = helpers.wait_for_status(lambda: healthz(outage.stack), 200, UP_WITHIN_S, "healthz back to 200 after pg-start")
    assert resp.json().get("status") == "ok", helpers.describe(resp)
    # Every worker, and every thread's connection in it (requests spread over the accept
    # threads), has its database back: not just the one nginx happened to pick.
    for name in outage.pids_before:
        sock = str(outage.stack.worker_socket(name))

        def all_threads_ok():
            return all(fcgi_client.request(sock, "GET", "/api/ops/healthz", timeout=5).status == 200
                       for _ in range(16))
        helpers.wait_until(all_threads_ok, UP_WITHIN_S,
                           what=f"16 healthz in a row answered 200 by worker {name} on its own socket")
    after = outage.stack.worker_pids()
    assert after == outage.pids_before, f"workers were restarted: before {outage.pids_before}, after {after}"
    for name, pid in after.items():
        assert helpers.process_alive(pid), f"worker {name} (pid {pid}) is gone after the outage"
