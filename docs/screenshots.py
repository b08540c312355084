"""Screenshots of the explorer for the README: a live ``graphalign serve`` of RUN_DIR in headless Chromium.

Usage::

    python docs/screenshots.py runs/demo/run [--query "a red bird"] [--out docs/images]

Needs the serve extra and Debian's chromium + chromium-driver. Writes
``explorer-search.png``, ``explorer-node.png`` and ``explorer-map.png``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from graphalign.serve import Explorer, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--query", default="a red bird")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "images")
    args = parser.parse_args()
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        parser.error("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(Explorer.load(args.run_dir)), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=chromedriver))
    wait = WebDriverWait(driver, 120)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        driver.find_element(By.ID, "query").send_keys(args.query)
        driver.find_element(By.CSS_SELECTOR, "#search-form button").click()
        images = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".group-image .card img"))
        wait.until(lambda d: all(img.get_property("naturalWidth") > 0 for img in images))
        driver.save_screenshot(str(args.out / "explorer-search.png"))
        images[0].click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#node-graph circle")) > 1)
        time.sleep(1)  # thumbnails of the neighbours
        driver.save_screenshot(str(args.out / "explorer-node.png"))
        driver.find_element(By.CSS_SELECTOR, "nav button[data-view=map]").click()
        driver.find_element(By.ID, "map-colour").send_keys("top-level concept")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#map[data-points]"))
        driver.save_screenshot(str(args.out / "explorer-map.png"))
    finally:
        driver.quit()
        server.should_exit = True
    print(f"wrote {args.out}/explorer-{{search,node,map}}.png")


if __name__ == "__main__":
    main()
