"""The explorer's page in a real browser: headless Chromium (Debian's chromium + chromium-driver) via Selenium.

``.ci/run`` installs the browser; without it these tests fail with a message that says what to install.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import uvicorn
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from graphalign.serve import Explorer, create_app

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(toy_run):
    port = _free_port()
    config = uvicorn.Config(create_app(Explorer.load(toy_run)), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM and CHROMEDRIVER, (
        "browser tests need Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 20):
    return WebDriverWait(driver, timeout).until(condition)


def _console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_text_search_shows_thumbnails_and_opens_a_node(server, browser):
    browser.get(server)
    _wait(browser, lambda d: "images" in d.find_element(By.ID, "summary").text)
    box = browser.find_element(By.ID, "query")
    box.send_keys("a picture of a cat")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    thumbnails = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".group-image .card img"))
    _wait(browser, lambda d: all(img.get_property("naturalWidth") > 0 for img in thumbnails))
    assert browser.find_elements(By.CSS_SELECTOR, ".group-concept .card")
    browser.find_elements(By.CSS_SELECTOR, ".group-concept .card")[0].click()
    _wait(browser, ec.visibility_of_element_located((By.ID, "node-graph")))
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#node-graph circle")) > 1)
    arrows = browser.find_elements(By.CSS_SELECTOR, "#node-graph line[marker-end='url(#arrow)']")
    assert arrows and browser.find_elements(By.CSS_SELECTOR, "#node-graph marker#arrow")  # edges read head -> tail
    assert browser.find_element(By.ID, "node-split").text
    assert not _console_errors(browser)


def test_a_failed_search_clears_the_last_answer_and_says_why_on_top(server, browser):
    browser.get(server)
    _wait(browser, lambda d: "images" in d.find_element(By.ID, "summary").text)
    box = browser.find_element(By.ID, "query")
    box.send_keys("a picture of a cat")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".group-concept .card"))
    box.clear()
    box.send_keys("x" * 2500)  # over the API's 2,000 characters
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    error = _wait(browser, ec.visibility_of_element_located((By.ID, "error")))
    assert "at most 2000 characters" in error.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#results .card")  # no answer to the earlier query
    assert error.location["y"] < browser.find_element(By.ID, "search-form").location["y"]  # above the form
    assert all("status of 422" in line for line in _console_errors(browser))  # the refused request alone


def test_uploaded_image_gets_concepts_and_a_caption(server, browser, tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (32, 32), (200, 40, 40)).save(path)
    browser.get(server)
    browser.find_element(By.ID, "upload").send_keys(str(path))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".group-concept .card"))
    assert browser.find_element(By.ID, "caption").text.startswith("Describe this image: ")
    assert not _console_errors(browser)


def test_the_map_draws_every_node_and_the_evaluation_its_table(server, browser):
    browser.get(server)
    browser.find_element(By.CSS_SELECTOR, "nav button[data-view=map]").click()
    canvas = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#map[data-points]"))
    summary = browser.execute_script("return fetch('/api/summary').then(r => r.json())")
    assert int(canvas.get_attribute("data-points")) == sum(summary["nodes"].values())
    painted = browser.execute_script(
        "const c = document.getElementById('map');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;"
    )
    assert painted > 100
    from selenium.webdriver import ActionChains

    i, x, y = browser.execute_script("for (const l of mapGrid.values()) if (l.length) return l[0]; return null;")
    ActionChains(browser).move_to_element_with_offset(
        canvas, x - canvas.size["width"] / 2, y - canvas.size["height"] / 2
    ).perform()
    tip = _wait(browser, ec.visibility_of_element_located((By.ID, "map-tip")))
    label, node_id = browser.execute_script(f"return [mapData.labels[{i}], mapData.ids[{i}]]")
    assert tip.text == label and label != node_id  # the node's label, not its id
    browser.find_element(By.CSS_SELECTOR, "nav button[data-view=evaluation]").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#metrics-table tr td"))
    assert browser.find_elements(By.CSS_SELECTOR, "#curve polyline")
    assert not _console_errors(browser)
