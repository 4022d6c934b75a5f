"""Headless Chromium for the dashboard tests (Debian's chromium + chromium-driver, driven by
selenium from PyPI).

    from browser_helpers import new_browser, sign_in, wait_for, save_screenshot

    @pytest.fixture(scope="module")
    def admin_browser(stack, tokens):
        with new_browser() as driver:
            sign_in(driver, stack.url, tokens["admin"])
            yield driver

Also ready-made fixtures to import into a test module: `chromium` (a fresh browser per module),
`admin_browser` and `viewer_browser` (signed in through the real sign-in page, once per module:
nginx allows 10 sign-ins a minute per client).

`save_screenshot(driver, name)` writes $OPS_STATE/screenshots/NAME.png (the stack's state
directory, outside git).
"""

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest

selenium = pytest.importorskip("selenium", reason="selenium is installed by deploy/install-deps.sh")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

DEFAULT_TIMEOUT = 15
DASHBOARD = "/admin/ops/"


@contextlib.contextmanager
def new_browser(width=1280, height=900, extra_args=(), perf_log=False):
    """A headless Chromium; quits on exit. Console messages are kept (goog:loggingPrefs);
    `perf_log` also keeps the DevTools network events (driver.get_log("performance"))."""
    chromium = shutil.which("chromium")
    driver_bin = shutil.which("chromedriver")
    assert chromium and driver_bin, "chromium and chromium-driver must be installed (deploy/install-deps.sh)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--enable-precise-memory-info", *extra_args):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if perf_log else {})})
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    driver.set_script_timeout(30)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, css, timeout=DEFAULT_TIMEOUT, visible=False, condition=None, what=None):
    """Waits until `css` matches an element (displayed if `visible`; `condition(el)` true if
    given); returns the element. Fails with the page's state in the message."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            el = driver.find_element(By.CSS_SELECTOR, css)
            if (not visible or el.is_displayed()) and (condition is None or condition(el)):
                return el
            last = el.text
        except (NoSuchElementException, StaleElementReferenceException):
            last = None
        if time.time() > deadline:
            raise AssertionError(
                f"waited {timeout} s for {what or css!r} on {driver.current_url}; last text: {last!r}")
        time.sleep(0.1)


def wait_until(fn, timeout=DEFAULT_TIMEOUT, what="a condition", interval=0.1):
    """Polls fn() until it returns something true; returns that value."""
    deadline = time.time() + timeout
    last_exc = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except (StaleElementReferenceException, NoSuchElementException, AssertionError) as exc:
            last_exc = exc
        if time.time() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}" + (f" ({last_exc})" if last_exc else ""))
        time.sleep(interval)


def text_of(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def sign_in(driver, base_url, token, next_path=None, patience_s=75):
    """Signs in through the real sign-in page (POST /api/ops/login sets the HttpOnly session
    cookie) and waits for the page it goes to. nginx allows 10 sign-ins a minute per client
    address and the whole suite signs in from 127.0.0.1: on a 429 ("too many requests") this
    waits and tries again for up to `patience_s` seconds."""
    deadline = time.time() + patience_s
    while True:
        try:
            return _sign_in_once(driver, base_url, token, next_path)
        except AssertionError as exc:
            if not any(w in str(exc).lower() for w in ("too many", "rate")) or time.time() > deadline:
                raise
            time.sleep(6)


def _sign_in_once(driver, base_url, token, next_path):
    url = base_url.rstrip("/") + "/admin/ops/login"
    if next_path:
        from urllib.parse import quote
        url += "?next=" + quote(next_path, safe="")
    driver.get(url)
    field = wait_for(driver, "#login-token", visible=True)
    field.clear()
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login-submit").click()
    wait_until(lambda: "/admin/ops/login" not in driver.current_url or
               driver.find_element(By.CSS_SELECTOR, "#login-error").is_displayed(),
               what="the sign-in page to go on")
    err = driver.find_elements(By.CSS_SELECTOR, "#login-error")
    if "/admin/ops/login" in driver.current_url and err and err[0].is_displayed():
        raise AssertionError(f"sign-in failed: {err[0].text}")


def open_dashboard(driver, base_url, query="", drawn=True, timeout=DEFAULT_TIMEOUT):
    """Loads /admin/ops/ (with `query`, e.g. "?tv=1") and waits until every panel has drawn its
    first data (document.body.dataset.drawn == "1")."""
    driver.get(base_url.rstrip("/") + DASHBOARD + query)
    if drawn:
        wait_until(lambda: driver.execute_script("return document.body.dataset.drawn === '1'"),
                   timeout=timeout, what="the dashboard to be fully drawn (body[data-drawn=1])")


def screenshot_dir():
    state = os.environ.get("OPS_STATE") or os.environ.get("STATE") or ".opsplane"
    path = Path(state).resolve() / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_screenshot(driver, name):
    """Saves a full-window PNG as $OPS_STATE/screenshots/NAME.png; returns the path."""
    path = screenshot_dir() / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    return path


def console_errors(driver):
    """SEVERE browser console messages since the last call (Chromium only)."""
    try:
        return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    except WebDriverException:
        return []


@pytest.fixture(scope="module")
def chromium():
    with new_browser() as driver:
        yield driver


@pytest.fixture(scope="module")
def admin_browser(stack, tokens):
    with new_browser() as driver:
        sign_in(driver, stack.url, tokens["admin"])
        yield driver


@pytest.fixture(scope="module")
def viewer_browser(stack, tokens):
    with new_browser() as driver:
        sign_in(driver, stack.url, tokens["viewer"])
        yield driver
