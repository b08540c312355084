"""The explorer's page in a real browser: headless Chromium (Debian's chromium + chromium-driver) via Selenium.

``.ci/run`` installs the browser; without it these tests fail with a message that says what to install.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections import Counter
from itertools import combinations
from urllib.parse import quote

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


def _node_link(server: str, node_id: str) -> str:
    return f"{server}/#node={quote(node_id, safe='')}"  # as encodeURIComponent writes it


def _shows_node(node_id: str):
    def condition(driver) -> bool:
        head = driver.find_element(By.ID, "node-head")
        return head.get_attribute("data-id") == node_id and driver.find_element(By.ID, "view-node").is_displayed()

    return condition


def test_a_node_link_opens_its_view_and_back_returns_to_it(server, browser, odd_id):
    link = _node_link(server, odd_id)
    browser.get("about:blank")
    browser.get(link)  # a fresh page load with the node in the fragment
    _wait(browser, _shows_node(odd_id))
    assert browser.find_element(By.CSS_SELECTOR, "#node-head h2").text == "odd one"
    assert browser.title.startswith("odd one")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#node-graph text[data-id='c:animal']"))
    browser.find_element(By.CSS_SELECTOR, "#node-graph text[data-id='c:animal']").click()
    _wait(browser, _shows_node("c:animal"))
    assert browser.current_url == _node_link(server, "c:animal")
    browser.back()
    _wait(browser, _shows_node(odd_id))
    assert browser.current_url == link
    browser.forward()
    _wait(browser, _shows_node("c:animal"))
    browser.refresh()  # a reload keeps the view
    _wait(browser, _shows_node("c:animal"))
    assert not _console_errors(browser)


def test_back_and_forward_walk_between_search_node_and_map(server, browser):
    browser.get(server)
    browser.find_element(By.ID, "query").send_keys("a picture of a cat")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    cards = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".group-concept .card"))
    node_id = cards[0].get_attribute("data-id")
    cards[0].click()
    _wait(browser, _shows_node(node_id))
    browser.find_element(By.CSS_SELECTOR, "nav button[data-view=map]").click()
    _wait(browser, lambda d: d.find_element(By.ID, "view-map").is_displayed())
    assert browser.current_url == f"{server}/#map"
    browser.back()
    _wait(browser, _shows_node(node_id))
    browser.back()  # the start view, its results still there
    _wait(browser, lambda d: d.find_element(By.ID, "view-search").is_displayed())
    assert browser.current_url == f"{server}/" and browser.find_elements(By.CSS_SELECTOR, "#results .card")
    browser.forward()
    _wait(browser, _shows_node(node_id))
    assert not _console_errors(browser)


def test_an_unknown_or_malformed_node_link_says_why(server, browser):
    missing = "c:no such #node&x+y%41/z"
    browser.get("about:blank")
    browser.get(_node_link(server, missing))
    error = _wait(browser, ec.visibility_of_element_located((By.ID, "error")))
    assert error.text == f"unknown node id {missing!r}"  # the API's answer, the id decoded once
    assert browser.find_element(By.ID, "view-search").is_displayed()
    assert not browser.find_element(By.ID, "view-node").is_displayed()
    assert all("status of 404" in line for line in _console_errors(browser))  # the refused requests alone
    browser.get(f"{server}/#node=%E0%A4%A")  # in the same page: not percent-encoded UTF-8
    _wait(browser, lambda d: d.find_element(By.ID, "error").text.startswith("not a node link: #node=%E0%A4%A"))
    assert browser.find_element(By.ID, "view-search").is_displayed()


def _texts(driver, selector: str) -> list[str]:
    return [element.get_attribute("textContent") for element in driver.find_elements(By.CSS_SELECTOR, selector)]


def test_the_training_curve_has_axes_with_epochs_and_both_scales(server, browser):
    browser.get(server)
    browser.find_element(By.CSS_SELECTOR, "nav button[data-view=evaluation]").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#curve polyline"))
    history = browser.execute_script("return fetch('/api/metrics').then(r => r.json())")["history"]
    epochs = [record["epoch"] for record in history]
    x_ticks = _texts(browser, "#curve text.x-tick")
    assert x_ticks[0] == str(min(epochs)) and x_ticks[-1] == str(max(epochs))
    for key in ("loss", "val_mrr"):  # each series on its own axis, whose ticks span its values
        ticks = [float(text) for text in _texts(browser, f"#curve text.y-tick[data-series={key}]")]
        values = [record[key] for record in history if key in record]
        assert len(ticks) >= 2 and ticks[0] <= min(values) and ticks[-1] >= max(values)
    assert {"epoch", "training loss", "validation MRR"} <= set(_texts(browser, "#curve text.axis-title"))
    assert browser.current_url == f"{server}/#evaluation"  # the view is linkable too
    assert not _console_errors(browser)


_TEXT_BOXES = """return [...document.querySelectorAll('#node-graph text')].map((t) => {
  const b = t.getBBox(); return [b.x, b.y, b.width, b.height, t.firstChild.data]; });"""


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_a_hubs_neighbourhood_is_bounded_readable_and_clickable(server, browser, hub_id):
    browser.get("about:blank")
    browser.get(_node_link(server, hub_id))
    _wait(browser, _shows_node(hub_id))
    labels = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#node-graph text[data-id]"))
    whole = browser.execute_script(f"return fetch('/api/graph?id={quote(hub_id)}&hops=1').then(r => r.json())")
    relation_of = {e["source"] if e["target"] == hub_id else e["target"]: e["relation"] for e in whole["edges"]}
    drawn = {label.get_attribute("data-id") for label in labels} - {hub_id}
    assert len(labels) == len(drawn) + 1 and 10 <= len(drawn) <= 30 < len(relation_of) == 61
    assert set(relation_of[i] for i in drawn) == {"is_a", "describes"}  # each relation drawn
    left = Counter(relation for node_id, relation in relation_of.items() if node_id not in drawn)
    counts = ", ".join(f"{n} {relation}" for relation, n in sorted(left.items(), key=lambda item: (-item[1], item[0])))
    assert browser.find_element(By.ID, "graph-note").text.startswith(f"+ {61 - len(drawn)} more: {counts} · ")
    boxes = browser.execute_script(_TEXT_BOXES)
    svg = browser.find_element(By.ID, "node-graph")
    width, height = int(svg.get_attribute("width")), int(svg.get_attribute("height"))
    assert all(0 <= x and x + w <= width and 0 <= y and y + h <= height for x, y, w, h, _ in boxes)
    assert not [(a[4], b[4]) for a, b in combinations(boxes, 2) if _overlap(a, b)]  # no two labels overlap
    kind = next(label for label in labels if label.get_attribute("data-id").startswith("c:breed:"))
    full = kind.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    short = browser.execute_script("return arguments[0].firstChild.data", kind)
    assert full.endswith("northern hill breeds") and short.endswith("…") and full.startswith(short[:-1])
    node_id = kind.get_attribute("data-id")
    kind.click()
    _wait(browser, _shows_node(node_id))
    assert browser.current_url == _node_link(server, node_id)
    assert not _console_errors(browser)
