"""The example web client at `/`: served by the app, and driven in a real browser from a second origin."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
# CI must prove the browser flow: there a missing browser fails instead of skipping.
IN_CI = os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


def test_the_web_client_is_served_at_the_root_without_a_cdn(client: Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = b"".join(page.streaming_content if page.streaming else [page.content]).decode()
    assert '<script type="module" src="app.js">' in html
    for name in ("app.js", "api.js", "style.css"):
        served = client.get(f"/{name}")
        assert served.status_code == 200, name
    sources = [html, *((WEB / name).read_text() for name in ("app.js", "api.js", "style.css"))]
    # Every script, style and module import is one of ours: no CDN, no build step.
    for text in sources:
        assert re.findall(r"""(?:src|href)=["']https?://""", text) == []
        assert re.findall(r"""import[^;]*from\s+["'](?!\./)""", text) == []
        assert "@import" not in text


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the browser test)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app under gunicorn + uvicorn (as deployed) on its own SQLite database and file cache,
    allowing one page origin; yields (API origin, page origin)."""
    home = tmp_path_factory.mktemp("web-api")
    api_port, page_port = _free_port(), _free_port()
    page_origin = f"http://127.0.0.1:{page_port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CACHE_DIR": str(home / "cache"),
        "CATALOG_SOURCE": "local",
        "CELERY_BROKER_FOLDER": str(home / "broker"),
        "CORS_ALLOWED_ORIGINS": page_origin,
        "WHITENOISE_USE_FINDERS": "true",
        "BIND": f"127.0.0.1:{api_port}",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    for command in (["migrate", "--no-input", "-v", "0"], ["load_catalog", "-v", "0"]):
        subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300)
    log = (home / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "backend.asgi:application", "-c", "backend/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api_origin = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{api_origin}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((home / "gunicorn.log").read_text()) from None
                time.sleep(0.3)
        yield api_origin, page_origin
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def page_server(api_server: tuple[str, str]) -> Iterator[str]:
    """The web client's files from a plain static server on the second origin."""
    port = int(api_server[1].rsplit(":", 1)[1])
    handler = functools.partial(QuietHandler, directory=str(WEB))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api_server[1]
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access lines in the test output."""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Debian Chromium through chromedriver (skips locally without them; fails in CI)."""
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        _unavailable("needs chromium and chromium-driver (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("needs selenium (requirements-dev.txt)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium  # type: ignore[assignment]
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Both paths given: Selenium Manager (which would download drivers) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_browser_on_another_origin_signs_up_favorites_a_movie_and_gets_recommendations(
    api_server: tuple[str, str], page_server: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    api_origin, page_origin = api_server
    assert api_origin != page_origin
    wait = WebDriverWait(browser, 30)

    def visible(css: str) -> Any:
        return wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, css)))

    browser.get(f"{page_origin}/index.html?api={api_origin}/graphql")
    # Home: trending and popular lists, read anonymously as persisted queries over GET.
    visible("[data-list=trending] .card")
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-list=popular] .card")) == 20
    assert browser.execute_script("return location.origin") == page_origin

    # Sign up (a cross-origin POST with a preflight), then stay signed in.
    browser.find_element(By.CSS_SELECTOR, "a[href='#/signup']").click()
    form = visible("form[data-form=signup]")
    form.find_element(By.NAME, "username").send_keys("browser-ada")
    form.find_element(By.NAME, "email").send_keys("browser-ada@example.com")
    form.find_element(By.NAME, "password").send_keys("a-long-browser-passphrase")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "whoami"), "Signed in as browser-ada"))

    # Search, open The Dark Knight and favorite it (an authenticated mutation from the browser).
    search = browser.find_element(By.CSS_SELECTOR, "#search input[name=q]")
    search.send_keys("dark knight")
    search.submit()
    visible("[data-list=search] [data-movie-id='155'] a").click()
    visible("article.movie[data-movie-id='155']")
    assert "The Dark Knight" in browser.find_element(By.CSS_SELECTOR, "article.movie h2").text
    favorite = visible("button[data-action=favorite]")
    assert favorite.get_attribute("aria-pressed") == "false"
    favorite.click()
    wait.until(
        lambda driver: (
            driver.find_element(By.CSS_SELECTOR, "button[data-action=favorite]").get_attribute("aria-pressed")
            == "true"
        )
    )

    # My lists shows it; recommendations come with their reasons and leave the favorite out.
    browser.find_element(By.CSS_SELECTOR, "a[href='#/lists']").click()
    visible("[data-list=favorites] [data-movie-id='155']")
    browser.find_element(By.CSS_SELECTOR, "a[href='#/recommendations']").click()
    visible("[data-list=recommendations] li .reason")
    items = browser.find_elements(By.CSS_SELECTOR, "[data-list=recommendations] > li")
    assert len(items) == 12
    ids = [item.get_attribute("data-movie-id") for item in items]
    assert "155" not in ids
    reasons = [reason.text for reason in browser.find_elements(By.CSS_SELECTOR, ".reason")]
    assert all(item.find_elements(By.CSS_SELECTOR, ".reason") for item in items)
    assert any("The Dark Knight" in reason for reason in reasons), reasons
    assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
    # No request of the page was blocked: Chromium logs CORS refusals to the console.
    console = [entry["message"] for entry in browser.get_log("browser")]
    assert not [line for line in console if "CORS" in line or "Access-Control" in line], console
    print(f"browser test: {len(items)} recommendations; first reasons: {reasons[:3]}")
