"""What nginx serves by itself: the dashboard's static files, redirects, the static ceiling."""

import re
from urllib.parse import urljoin, urlsplit

import helpers


def test_dashboard_page_is_served_at_admin_ops(api):
    resp = api.get("/admin/ops/")
    assert resp.status_code == 200, f"opening the dashboard: {helpers.describe(resp)}"
    assert resp.headers.get("content-type", "").startswith("text/html"), \
        f"dashboard is not served as HTML: {resp.headers.get('content-type')!r}"
    assert "<html" in resp.text.lower() and "opsplane" in resp.text.lower(), \
        f"dashboard page does not look like Opsplane's: {resp.text[:300]!r}"


def test_admin_ops_without_slash_redirects_to_the_dashboard(api, base_url):
    resp = api.get("/admin/ops", allow_redirects=False)
    assert resp.status_code in (301, 302, 307, 308), f"/admin/ops: {helpers.describe(resp)}"
    location = resp.headers.get("location", "")
    target = urljoin(base_url + "/admin/ops", location)
    assert urlsplit(target).path == "/admin/ops/", f"/admin/ops redirects to {location!r}"
    assert urlsplit(target).netloc == urlsplit(base_url).netloc, \
        f"redirect leaves the host/port the user came in on: {location!r}"
    followed = api.get(urlsplit(target).path, allow_redirects=False)
    assert followed.status_code == 200, f"following the redirect: {helpers.describe(followed)}"


def test_admin_ops_redirect_keeps_the_query_string(api):
    resp = api.get("/admin/ops?tv=1", allow_redirects=False)
    assert resp.status_code in (301, 302, 307, 308), f"/admin/ops?tv=1: {helpers.describe(resp)}"
    assert resp.headers.get("location", "").endswith("/admin/ops/?tv=1"), \
        f"/admin/ops?tv=1 redirects to {resp.headers.get('location')!r}: wall-screen mode would be lost"


def test_every_asset_the_dashboard_references_loads(api):
    page = api.get("/admin/ops/").text
    refs = re.findall(r'(?:src|href)="([^"#]+)"', page)
    local = [r for r in refs if not urlsplit(r).scheme and not r.startswith("//")]
    assert local, "the dashboard page references no script or stylesheet"
    for ref in local:
        path = urlsplit(urljoin("/admin/ops/", ref)).path
        resp = api.get(path)
        assert resp.status_code == 200, f"dashboard asset {ref} ({path}): {helpers.describe(resp)}"
        if path.endswith(".js"):
            assert "javascript" in resp.headers.get("content-type", ""), \
                f"{path} served as {resp.headers.get('content-type')!r}; browsers refuse such module scripts"
        if path.endswith(".css"):
            assert resp.headers.get("content-type", "").startswith("text/css"), \
                f"{path} served as {resp.headers.get('content-type')!r}"


def test_nginx_static_answers_ok_from_nginx_itself(api):
    resp = api.get("/nginx-static")
    assert resp.status_code == 200, f"/nginx-static: {helpers.describe(resp)}"
    assert resp.text == "ok\n", f"/nginx-static body: {resp.text!r}"
    assert "x-request-id" not in {k.lower() for k in resp.headers}, \
        "/nginx-static carries X-Request-Id: it went to a worker instead of being answered by nginx"


def test_missing_dashboard_file_is_404(api):
    resp = api.get("/admin/ops/no-such-file.js")
    assert resp.status_code == 404, f"a missing static file: {helpers.describe(resp)}"


def test_paths_outside_the_app_are_404(api):
    resp = api.get("/wp-login.php")
    assert resp.status_code == 404, f"/wp-login.php: {helpers.describe(resp)}"
