"""The explorer's JSON API, through FastAPI's test client."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from graphalign.query import Aligner
from graphalign.serve import Explorer, create_app
from graphalign.serve.app import MAX_UPLOAD_BYTES
from graphalign.serve.layout import MAP_FILE


@pytest.fixture(scope="module")
def explorer(toy_run):
    return Explorer.load(toy_run)


@pytest.fixture(scope="module")
def client(explorer):
    return TestClient(create_app(explorer))


def png(colour=(200, 40, 40), size=(16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_text_search_is_the_aligners_search(client, toy_run):
    body = client.get("/api/search", params={"text": "a picture of a cat", "k": 3}).json()
    assert set(body) == {"concept", "text", "image"} and all(len(v) == 3 for v in body.values())
    expected = Aligner.load(toy_run).search(text="a picture of a cat", k=3, type="concept")
    assert [r["id"] for r in body["concept"]] == [n.id for n in expected]
    assert [r["score"] for r in body["concept"]] == pytest.approx([n.score for n in expected], abs=1e-4)


def test_image_upload_search_describes_the_image(client):
    response = client.post("/api/search/image", files={"file": ("red.png", png(), "image/png")}, params={"k": 5})
    body = response.json()
    assert response.status_code == 200 and len(body["concept"]) == 5 and len(body["text"]) == 5
    assert body["concept"][0]["score"] >= body["concept"][-1]["score"]


def test_node_views_neighbours_graph_and_thumbnails(client, explorer):
    image_id = explorer.aligner.ids("image")[0]
    node = client.get("/api/node", params={"id": image_id}).json()
    assert node["type"] == "image" and node["image"].startswith("/api/image?id=")
    assert node["split"] in ("training", "val", "test")
    heldout = {explorer.aligner.ids("image")[r] for r in explorer.aligner.run.split.heldout["test"]["image"].tolist()}
    assert heldout and all(client.get("/api/node", params={"id": i}).json()["split"] == "test" for i in heldout)
    concept = client.get("/api/node", params={"id": "c:cat"}).json()
    assert concept["name"] == "cat" and concept["description"].startswith("a cat")
    neighbours = client.get("/api/neighbors", params={"id": "c:cat", "k": 4}).json()
    assert [r["id"] for r in neighbours["image"]] == [n.id for n in explorer.aligner.neighbors("c:cat", 4, "image")]
    graph = client.get("/api/graph", params={"id": "c:cat", "hops": 1}).json()
    ids = {n["id"] for n in graph["nodes"]}
    assert "c:animal" in ids and {"source": "c:cat", "target": "c:animal", "relation": "is_a"} in graph["edges"]
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])
    thumbnail = client.get("/api/image", params={"id": image_id})
    assert thumbnail.headers["content-type"] == "image/png" and thumbnail.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_and_the_cached_map(client, toy_run, explorer):
    metrics = client.get("/api/metrics").json()
    assert "image->concept/mrr" in metrics["test"] and len(metrics["history"]) == 3
    first = client.get("/api/map").json()
    n = sum(len(explorer.aligner.ids(t)) for t in explorer.types)
    assert len(first["ids"]) == len(first["x"]) == len(first["groups"]) == n and first["method"] in ("pca", "umap")
    assert 0.0 <= min(first["x"]) and max(first["y"]) <= 1.0
    assert set(first["group_names"]) >= {"animal", "vehicle"}
    assert len(first["labels"]) == n and first["labels"][first["ids"].index("c:cat")] == "cat"  # the tooltip's
    cached = json.loads((toy_run / MAP_FILE).read_text())
    assert cached["ids"] == first["ids"] and client.get("/api/map").json() == first


def test_page_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "graphalign explorer" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/search/image", "/api/node", "/api/map"} <= set(paths)
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN: blank offline


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    import asyncio

    from graphalign.serve.app import MAX_BODY_BYTES, _LimitBody

    reads, sent = [], []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # what would parse the form: reads every chunk
        while (await receive()).get("more_body"):
            pass

    scope = {"type": "http", "method": "POST", "path": "/api/search/image", "headers": []}
    announced = {**scope, "headers": [(b"content-length", str(100 * 2**20).encode())]}
    asyncio.run(_LimitBody(app, MAX_BODY_BYTES)(announced, receive, send))
    assert not reads and sent[0]["status"] == 413  # refused from its Content-Length: nothing read
    asyncio.run(_LimitBody(app, 8 * 1024)(scope, receive, send))  # no Content-Length: read up to the limit
    assert len(reads) == 9 and sent[-1]["type"] == "http.response.body" and sent[-2]["status"] == 413

    def chunks():  # a chunked upload through the whole app
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\n"
        for _ in range(12):
            yield b"0" * 2**20

    streamed = client.post(
        "/api/search/image", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413 and "larger than" in streamed.json()["error"]


def test_a_damaged_metrics_file_is_named(toy_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(toy_run, run)
    (run / "metrics.json").write_text("not json")
    response = TestClient(create_app(Explorer.load(run))).get("/api/metrics")
    assert response.status_code == 500 and response.json()["error"].startswith(
        f"{run / 'metrics.json'}: not valid JSON"
    )


def test_a_moved_dataset_folder_gives_404_thumbnails_and_a_count(toy_run, tmp_path):
    from urllib.parse import quote

    moved = Explorer.load(toy_run)
    image_id = moved.aligner.ids("image")[0]
    node = moved.node(image_id)
    assert node["image"] == f"/api/image?id={quote(image_id, safe='')}"  # an id with # or & stays one id
    moved.aligner.graph.root = tmp_path  # as if the dataset folder had moved
    assert moved.missing_image_files() == (len(moved.aligner.ids("image")),) * 2
    response = TestClient(create_app(moved)).get(node["image"])
    assert response.status_code == 404 and "is not in the dataset folder" in response.json()["error"]
    assert str(tmp_path) not in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "message"),
    [
        ("get", "/api/node", {"id": "c:nothing"}, 404, "unknown node id 'c:nothing'"),
        ("get", "/api/node", {"id": "../../etc/passwd"}, 404, "unknown node id"),
        ("get", "/api/image", {"id": "/etc/passwd"}, 404, "no image node"),
        ("get", "/api/image", {"id": "c:cat"}, 404, "no image node with id 'c:cat'"),
        ("get", "/api/search", {"text": "   "}, 400, "the query text is empty"),
        ("get", "/api/search", {}, 422, "text"),
        ("get", "/api/search", {"text": "cat", "k": 0}, 422, "k"),
        ("get", "/api/graph", {"id": "c:cat", "hops": 9}, 422, "hops"),
        ("post", "/api/node", {"id": "c:cat"}, 405, "Method Not Allowed"),
        ("delete", "/api/map", {}, 405, "Method Not Allowed"),
    ],
)
def test_bad_requests_get_a_json_error(client, method, path, params, status, message):
    response = getattr(client, method)(path, params=params)
    assert response.status_code == status and message in response.json()["error"]


def test_bad_uploads_are_refused(client):
    big = client.post("/api/search/image", files={"file": ("big.png", b"0" * (MAX_UPLOAD_BYTES + 1), "image/png")})
    assert big.status_code == 413 and "larger than" in big.json()["error"]
    text = client.post("/api/search/image", files={"file": ("notes.txt", b"hello, not an image", "text/plain")})
    assert text.status_code == 400 and "cannot read image" in text.json()["error"]
    empty = client.post("/api/search/image", files={"file": ("empty.png", b"", "image/png")})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    tiny = client.post("/api/search/image", files={"file": ("dot.png", png(size=(1, 1)), "image/png")})
    assert tiny.status_code == 400 and "too small" in tiny.json()["error"]
    assert "/tmp" not in text.json()["error"]  # the server's temporary file is not named


def test_decompression_bombs_are_refused(client, monkeypatch):
    monkeypatch.setenv("GRAPHALIGN_MAX_IMAGE_PIXELS", "100")
    bomb = client.post("/api/search/image", files={"file": ("bomb.png", png(size=(64, 64)), "image/png")})
    assert bomb.status_code == 400 and "above the limit" in bomb.json()["error"]


def test_latency_benchmark_runs_as_a_process(toy_run, tmp_path):
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_latency.py"
    command = [sys.executable, str(script), str(toy_run), "--clients", "1", "2", "--requests", "2"]
    out = subprocess.run([*command, "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    assert "| text search | 1 |" in out.stdout and "| image upload search | 2 |" in out.stdout
    assert "| node view | 2 |" in out.stdout
    rows = (tmp_path / "serve_latency.csv").read_text().splitlines()
    assert rows[0].startswith("request,clients,p50 ms") and len(rows) == 7  # 3 kinds x 2 concurrencies


def test_a_stale_map_is_computed_again(toy_run, explorer):
    from graphalign.serve.layout import load_or_compute_map

    path = toy_run / MAP_FILE
    fresh = load_or_compute_map(explorer.aligner, toy_run)
    path.write_text(json.dumps({**fresh, "fingerprint": "weights of another training", "x": [0.5] * len(fresh["x"])}))
    again = load_or_compute_map(explorer.aligner, toy_run)
    assert again["fingerprint"] == fresh["fingerprint"] and again["x"] == fresh["x"]
    assert json.loads(path.read_text())["fingerprint"] == fresh["fingerprint"]


def test_a_hubs_graph_is_capped_with_counts_of_what_was_left_out(client, explorer, hub_id):
    whole = client.get("/api/graph", params={"id": hub_id, "hops": 1}).json()
    assert whole["total"] == len(whole["nodes"]) - 1 == 61 and not whole["truncated"]
    assert whole["left_out"] == {"nodes": 0, "relations": {}, "edges": 0}
    relation_of = {n["id"]: n["relation"] for n in whole["nodes"][1:]}
    body = client.get("/api/graph", params={"id": hub_id, "hops": 1, "limit": 10}).json()
    kept = body["nodes"][1:]
    assert len(kept) == 10 and body["truncated"] and body["total"] == 61
    relations = {("is_a", "out"), ("is_a", "in"), ("describes", "in")}
    assert {(n["relation"], n["direction"]) for n in whole["nodes"][1:]} == relations
    assert {(n["relation"], n["direction"]) for n in kept} == relations  # each relation and direction kept
    assert kept[0]["id"] == "c:dog" and kept[0]["degree"] > 1  # the relation's neighbour with the most edges
    left = Counter(relation for node_id, relation in relation_of.items() if node_id not in {n["id"] for n in kept})
    assert body["left_out"] == {"nodes": 51, "relations": dict(left), "edges": 0} and sum(left.values()) == 51
    shown = {n["id"] for n in body["nodes"]}
    assert len(body["edges"]) == 10 and all(e["source"] in shown and e["target"] in shown for e in body["edges"])
    wider = client.get("/api/graph", params={"id": hub_id, "hops": 2, "limit": 64}).json()
    assert len(wider["nodes"]) == 65 and wider["total"] > 64 and wider["left_out"]["nodes"] == wider["total"] - 64
    assert all(n["hops"] == 1 for n in wider["nodes"][1:62])  # the nearer hop first
    capped = explorer.graph(hub_id, hops=1, max_edges=5)
    assert len(capped["edges"]) == 5 and capped["left_out"]["edges"] == 56 and capped["truncated"]
    assert client.get("/api/graph", params={"id": hub_id, "limit": 100_000}).status_code == 422


def test_a_search_text_that_is_not_utf8_is_refused_not_searched(client):
    answer = client.get("/api/search?text=caf%E9&k=3")  # Latin-1 é: the framework would search "caf\ufffd"
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "the query parameter 'text' is not valid UTF-8 (percent-encode the text's UTF-8 bytes)"
    }
    assert client.get("/api/search?text=caf%C3%A9+au+lait&k=3").status_code == 200  # UTF-8 é, a + for a space
    assert client.get("/api/search?text=%EF%BF%BD&k=3").status_code == 200  # U+FFFD itself, encoded, is text
