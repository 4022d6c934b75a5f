"""GET /api/ops/healthz and GET /api/ops/ping: public liveness routes (no token is sent here)."""

import helpers


def test_healthz_answers_ok_after_a_database_round_trip(api):
    resp = api.get("/api/ops/healthz")
    assert resp.status_code == 200, f"healthz on a healthy stack: {helpers.describe(resp)}"
    assert "application/json" in resp.headers.get("content-type", ""), helpers.describe(resp)
    body = helpers.parse_json(resp)
    assert body.get("status") == "ok", f'healthz body lacks "status":"ok": {body}'


def test_ping_answers_hello_world_json(api):
    resp = api.get("/api/ops/ping")
    assert resp.status_code == 200, f"ping: {helpers.describe(resp)}"
    assert "application/json" in resp.headers.get("content-type", ""), helpers.describe(resp)
    assert helpers.parse_json(resp) == {"ok": True}, f"ping body: {resp.text!r}"


def test_every_worker_answers_on_its_own_socket(stack):
    pids = stack.worker_pids()
    assert pids, f"no workers listed in {stack.run_dir}"
    for name in pids:
        resp = helpers.worker_answers(str(stack.worker_socket(name)))
        assert resp is not None and resp.status == 200, \
            f"worker {name} on {stack.worker_socket(name)} does not answer ping: {resp!r}"


def test_healthz_trailing_slash_is_the_same_route(api):
    resp = api.get("/api/ops/healthz/")
    assert resp.status_code == 200, f"/api/ops/healthz/ (trailing slash): {helpers.describe(resp)}"
    assert helpers.parse_json(resp).get("status") == "ok"
