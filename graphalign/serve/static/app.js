// graphalign explorer: a page on the JSON API of `graphalign serve` (no libraries, no build step).
"use strict";

const $ = (id) => document.getElementById(id);
const PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#6d4c41",
  "#d81b60", "#7cb342", "#3949ab", "#fdd835", "#9e9e9e"];
const TYPE_COLOURS = { concept: "#e53935", text: "#43a047", image: "#1e88e5" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").classList.toggle("hidden", !error);
}

function show(view) {
  for (const section of document.querySelectorAll(".view")) section.classList.add("hidden");
  $(`view-${view}`).classList.remove("hidden");
  for (const button of document.querySelectorAll("nav button")) {
    button.classList.toggle("active", button.dataset.view === view);
  }
  if (view === "map") drawMap();
  if (view === "evaluation") loadEvaluation();
}

// Image labels are file paths: show the file name.
const shortLabel = (result) => (result.type === "image" ? result.label.split("/").pop() : result.label);

function card(result) {
  const attrs = { class: `card ${result.type}`, "data-id": result.id, onclick: () => openNode(result.id) };
  const score = el("span", { class: "score" }, result.score.toFixed(3));
  if (result.type === "image") {
    const img = el("img", { src: `/api/image?id=${encodeURIComponent(result.id)}`, alt: result.label, loading: "lazy" });
    return el("div", attrs, img, score, shortLabel(result));
  }
  return el("div", attrs, score, el("b", {}, result.label));
}

function renderGroups(target, groups) {
  target.replaceChildren();
  for (const type of ["concept", "image", "text"]) {
    if (!groups[type]) continue;
    const grid = el("div", { class: "grid" }, ...groups[type].map(card));
    target.append(el("div", { class: `group group-${type}` }, el("h3", {}, `${type}s`), grid));
  }
}

async function searchText(text) {
  showError(null);
  try {
    const groups = await api(`/api/search?text=${encodeURIComponent(text)}&k=12`);
    $("caption").textContent = "";
    renderGroups($("results"), groups);
    show("search");
  } catch (error) { clearResults(); showError(error); }
}

function clearResults() {  // a failed search leaves no answer of an earlier one on the page
  $("caption").textContent = "";
  $("results").replaceChildren();
  show("search");
}

async function searchImage(file) {
  showError(null);
  const form = new FormData();
  form.append("file", file);
  try {
    const groups = await api("/api/search/image?k=12", { method: "POST", body: form });
    const words = (groups.concept || []).slice(0, 3).map((r) => r.label);
    const text = (groups.text || [])[0];
    $("caption").textContent = `Describe this image: ${words.join(", ")}${text ? ` · “${text.label}”` : ""}`;
    renderGroups($("results"), groups);
    show("search");
  } catch (error) { clearResults(); showError(error); }
}

async function openNode(id) {
  showError(null);
  try {
    const [node, neighbors, graph] = await Promise.all([
      api(`/api/node?id=${encodeURIComponent(id)}`),
      api(`/api/neighbors?id=${encodeURIComponent(id)}&k=8`),
      api(`/api/graph?id=${encodeURIComponent(id)}&hops=1`),
    ]);
    const facts = el("div", {}, el("h2", {}, shortLabel(node)),
      el("span", { class: "badge" }, node.type), " ",
      el("span", { class: `badge ${node.split}`, id: "node-split" }, node.split === "training" ? "training node" : `held out (${node.split})`));
    if (node.description) facts.append(el("p", {}, node.description));
    if (node.text) facts.append(el("p", {}, `“${node.text}” (${node.language || "?"})`));
    const head = [facts];
    if (node.image) head.unshift(el("img", { src: node.image, alt: node.label }));
    $("node-head").replaceChildren(...head);
    if (node.type === "image") {
      const words = (neighbors.concept || []).slice(0, 3).map((r) => r.label);
      facts.append(el("p", { class: "caption" }, `Describe this image: ${words.join(", ")}`));
    }
    renderGroups($("node-neighbors"), neighbors);
    drawGraph(graph);
    show("node");
  } catch (error) { showError(error); }
}

function drawGraph(graph) {
  const svg = $("node-graph");
  svg.replaceChildren();
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const centre = { x: width / 2, y: height / 2 };
  const others = graph.nodes.slice(1);
  const position = { [graph.nodes[0].id]: centre };
  others.forEach((node, i) => {
    const angle = (2 * Math.PI * i) / Math.max(1, others.length);
    const radius = node.hops > 1 ? 190 : 130;
    position[node.id] = { x: centre.x + radius * Math.cos(angle) * 1.5, y: centre.y + radius * Math.sin(angle) * 0.9 };
  });
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#90a4ae" }));
  const defs = svgEl("defs", {});
  defs.append(marker);
  svg.append(defs);
  const labelled = graph.edges.length <= 24;  // more relation labels than that overlap: on hover instead
  const hub = graph.nodes[0].id;
  for (const edge of graph.edges) {
    const a = position[edge.source], b = position[edge.target];
    if (!a || !b) continue;
    const dx = b.x - a.x, dy = b.y - a.y, length = Math.hypot(dx, dy) || 1;
    const gap = edge.target === hub ? 11 : 8;  // the arrow ends at the target's dot: head -> tail
    const line = svgEl("line", {
      x1: a.x, y1: a.y, x2: b.x - (dx / length) * gap, y2: b.y - (dy / length) * gap,
      stroke: "#b0bec5", "marker-end": "url(#arrow)", "data-relation": edge.relation,
    });
    const title = svgEl("title", {});
    title.textContent = `${edge.source} ${edge.relation} ${edge.target}`;
    line.append(title);
    svg.append(line);
    if (!labelled) continue;
    const label = svgEl("text", { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, fill: "#78909c" });
    label.textContent = edge.relation;
    svg.append(label);
  }
  for (const node of graph.nodes) {
    const p = position[node.id];
    const dot = svgEl("circle", { cx: p.x, cy: p.y, r: node.hops === 0 ? 9 : 6, fill: TYPE_COLOURS[node.type] || "#999" });
    const label = svgEl("text", { x: p.x + 10, y: p.y + 4, "data-id": node.id });
    const text = shortLabel(node);
    label.textContent = text.length > 28 ? `${text.slice(0, 27)}…` : text;
    for (const item of [dot, label]) item.addEventListener("click", () => openNode(node.id));
    svg.append(dot, label);
  }
}

let mapData = null;
let mapGrid = null;

async function drawMap() {
  showError(null);
  try {
    if (!mapData) {
      $("map-info").textContent = "computing the map…";
      mapData = await api("/api/map");
    }
    const canvas = $("map"), context = canvas.getContext("2d");
    const by = $("map-colour").value;
    const names = by === "types" ? mapData.type_names : mapData.group_names;
    const colours = by === "types" ? names.map((n) => TYPE_COLOURS[n]) : names.map((_, i) => PALETTE[i % PALETTE.length]);
    context.clearRect(0, 0, canvas.width, canvas.height);
    mapGrid = new Map();
    const values = mapData[by];
    for (let i = 0; i < mapData.ids.length; i++) {
      const x = 5 + mapData.x[i] * (canvas.width - 10), y = 5 + (1 - mapData.y[i]) * (canvas.height - 10);
      context.fillStyle = colours[values[i]];
      context.fillRect(x - 1, y - 1, 3, 3);
      const key = `${Math.floor(x / 8)},${Math.floor(y / 8)}`;
      if (!mapGrid.has(key)) mapGrid.set(key, []);
      mapGrid.get(key).push([i, x, y]);
    }
    canvas.dataset.points = String(mapData.ids.length);
    $("map-info").textContent = `${mapData.ids.length.toLocaleString()} nodes (${mapData.method})`;
    $("map-legend").replaceChildren(...names.map((name, i) => el("span", {}, el("i", { style: `background:${colours[i]}` }), name)));
  } catch (error) { showError(error); }
}

function nearestPoint(event) {
  const rect = $("map").getBoundingClientRect();
  const x = event.clientX - rect.left, y = event.clientY - rect.top;
  let best = null, bestDistance = 64;
  for (let gx = Math.floor(x / 8) - 1; gx <= Math.floor(x / 8) + 1; gx++) {
    for (let gy = Math.floor(y / 8) - 1; gy <= Math.floor(y / 8) + 1; gy++) {
      for (const [i, px, py] of mapGrid?.get(`${gx},${gy}`) || []) {
        const distance = (px - x) ** 2 + (py - y) ** 2;
        if (distance < bestDistance) { best = [i, px, py]; bestDistance = distance; }
      }
    }
  }
  return best;
}

$("map").addEventListener("mousemove", (event) => {
  const tip = $("map-tip"), hit = mapData && nearestPoint(event);
  if (!hit) { tip.classList.add("hidden"); return; }
  const [i, x, y] = hit, id = mapData.ids[i], type = mapData.type_names[mapData.types[i]];
  const label = mapData.labels ? mapData.labels[i] : id;
  tip.replaceChildren(type === "image" ? el("img", { src: `/api/image?id=${encodeURIComponent(id)}`, alt: label }) : "", label);
  tip.style.left = x > $("map").width - 220 ? `${x - 212}px` : `${x + 12}px`;  // inside the canvas near its right edge
  tip.style.top = `${y + 12}px`;
  tip.classList.remove("hidden");
});
$("map").addEventListener("click", (event) => {
  const hit = mapData && nearestPoint(event);
  if (hit) openNode(mapData.ids[hit[0]]);
});
$("map-colour").addEventListener("change", drawMap);

async function loadEvaluation() {
  showError(null);
  try {
    const metrics = await api("/api/metrics");
    const test = metrics.test || {};
    const directions = [...new Set(Object.keys(test).filter((k) => k.includes("/")).map((k) => k.split("/")[0]))];
    const columns = ["mrr", "hits@1", "hits@10", "count"];
    const rows = directions.map((d) => el("tr", {}, el("td", {}, d),
      ...columns.map((c) => el("td", {}, test[`${d}/${c}`] === undefined ? "" : (+test[`${d}/${c}`]).toFixed(c === "count" ? 0 : 3)))));
    $("metrics").replaceChildren(el("h3", {}, `Test metrics (best epoch ${metrics.best_epoch ?? "?"})`),
      el("table", { id: "metrics-table" }, el("tr", {}, el("th", {}, "direction"), ...columns.map((c) => el("th", {}, c))), ...rows));
    drawCurve(metrics.history || []);
  } catch (error) { showError(error); }
}

function drawCurve(history) {
  const svg = $("curve");
  svg.replaceChildren();
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const series = [["loss", "#e53935"], ["val_mrr", "#1e88e5"]];
  for (const [key, colour] of series) {
    const points = history.filter((r) => r[key] !== undefined).map((r) => [r.epoch, r[key]]);
    if (!points.length) continue;
    const maxEpoch = Math.max(...history.map((r) => r.epoch), 1);
    const low = Math.min(...points.map((p) => p[1])), high = Math.max(...points.map((p) => p[1]));
    const scaled = points.map(([e, v]) => `${30 + (e / maxEpoch) * (width - 60)},${height - 25 - ((v - low) / (high - low || 1)) * (height - 50)}`);
    svg.append(svgEl("polyline", { points: scaled.join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
    const label = svgEl("text", { x: width - 110, y: key === "loss" ? 20 : 38, fill: colour });
    label.textContent = `${key} ${points[points.length - 1][1].toFixed(3)}`;
    svg.append(label);
  }
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("query").value.trim();
  if (text) searchText(text);
});
$("upload").addEventListener("change", () => { if ($("upload").files[0]) searchImage($("upload").files[0]); });
$("drop").addEventListener("dragover", (event) => { event.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (event) => {
  event.preventDefault();
  $("drop").classList.remove("over");
  if (event.dataTransfer.files[0]) searchImage(event.dataTransfer.files[0]);
});
for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => show(button.dataset.view));
}
api("/api/summary").then((summary) => {
  $("summary").textContent = Object.entries(summary.nodes).map(([t, n]) => `${n.toLocaleString()} ${t}s`).join(" · ");
}).catch(showError);
