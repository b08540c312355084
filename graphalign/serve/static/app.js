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
  if (view !== "node") document.title = TITLE;
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

// The URL's fragment names the view, so that a node view can be linked, bookmarked and reloaded, and Back and
// Forward walk the views: none (search), "#map", "#evaluation" or "#node=" and encodeURIComponent(id).
const NODE_LINK = "#node=";
const TITLE = document.title;
let latestRoute = 0;  // a node's answers that arrive after the page moved on are dropped

function openNode(id) {
  navigate(`${NODE_LINK}${encodeURIComponent(id)}`);
}

function navigate(hash) {  // a new history entry (unless the URL says so already), then its view
  if (location.hash !== hash) history.pushState(null, "", hash || location.pathname + location.search);
  route();
}

function route() {
  const request = ++latestRoute, hash = location.hash;
  if (!hash.startsWith(NODE_LINK)) {
    const view = hash.slice(1);
    showError(null);
    show(view === "map" || view === "evaluation" ? view : "search");
    return;
  }
  let id;
  try {
    id = decodeURIComponent(hash.slice(NODE_LINK.length));
  } catch {
    nodeFailed(new Error(`not a node link: ${hash}`));
    return;
  }
  loadNode(id, request);
}

async function loadNode(id, request) {
  showError(null);
  try {
    const [node, neighbors, graph] = await Promise.all([
      api(`/api/node?id=${encodeURIComponent(id)}`),
      api(`/api/neighbors?id=${encodeURIComponent(id)}&k=8`),
      api(`/api/graph?id=${encodeURIComponent(id)}&hops=1&limit=${GRAPH_LIMIT}`),
    ]);
    if (request !== latestRoute) return;
    renderNode(node, neighbors);
    show("node");
    drawGraph(graph);  // shown first: labels are measured to fit
    document.title = `${shortLabel(node)} · ${TITLE}`;
  } catch (error) {
    if (request === latestRoute) nodeFailed(error);
  }
}

function nodeFailed(error) {  // the start view and, above it, why (an unknown id: the API's answer)
  $("node-head").replaceChildren();
  $("node-neighbors").replaceChildren();
  $("node-graph").replaceChildren();
  $("graph-note").textContent = "";
  delete $("node-head").dataset.id;
  show("search");
  showError(error);
}

function renderNode(node, neighbors) {
  const split = node.split === "training" ? "training node" : `held out (${node.split})`;
  const facts = el("div", {}, el("h2", {}, shortLabel(node)),
    el("span", { class: "badge" }, node.type), " ",
    el("span", { class: `badge ${node.split}`, id: "node-split" }, split));
  $("node-head").dataset.id = node.id;
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
}

// The neighbourhood: the node in the middle, its neighbours in two columns grouped by relation, those whose edges
// point at the node (heads) on the left and those it points at (tails) on the right, one row each, so that no two
// labels overlap. A hub's neighbours are the API's choice of GRAPH_LIMIT; the note above says how many more.
const GRAPH_LIMIT = 28;
const GRAPH = { row: 18, margin: 18, minHeight: 240, column: 150, label: 190, chars: 40 };

function drawGraph(graph) {
  const svg = $("node-graph"), [node, ...others] = graph.nodes;
  const sides = [[graphColumn(others, "in"), -1], [graphColumn(others, "out"), 1]];
  const rows = Math.max(...sides.map(([column]) => column.length));
  const height = Math.max(GRAPH.minHeight, 2 * GRAPH.margin + rows * GRAPH.row);
  svg.setAttribute("height", height);
  svg.replaceChildren(arrowDefs());
  const centre = { x: +svg.getAttribute("width") / 2, y: height / 2 };
  const position = { [node.id]: centre };
  for (const [column, out] of sides) {
    column.forEach((row, i) => {
      Object.assign(row, { x: centre.x + out * GRAPH.column, y: centre.y + (i - (column.length - 1) / 2) * GRAPH.row });
      if (row.node) position[row.node.id] = row;
    });
  }
  for (const edge of graph.edges) drawEdge(svg, edge, position, centre);
  const middle = { x: centre.x, y: centre.y + 24, "text-anchor": "middle", class: "centre" };
  drawGraphNode(svg, node, centre, middle, 2 * (GRAPH.column - 20));
  for (const [column, out] of sides) {
    for (const row of column) {
      const at = { x: row.x + out * 9, y: row.y + 4, "text-anchor": out < 0 ? "end" : "start" };
      if (row.node) drawGraphNode(svg, row.node, row, at, GRAPH.label);
      else svg.append(fittedText(row.header, { ...at, x: row.x + out * 2, class: "relation" }, GRAPH.label, svg));
    }
  }
  $("graph-note").textContent = graphNote(graph);
}

function graphColumn(nodes, direction) {  // a header row for each relation, then a row for each of its nodes
  const groups = new Map();
  for (const node of nodes) {
    if ((node.direction === "in") !== (direction === "in")) continue;
    const key = `${node.relation || "linked"}${node.hops > 1 ? ` (${node.hops} hops)` : ""}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(node);
  }
  const sorted = [...groups].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
  const rows = (members) => members.sort(byLabel).map((member) => ({ node: member }));
  return sorted.flatMap(([key, members]) => [{ header: `${key} →` }, ...rows(members)]);
}

const byLabel = (a, b) => shortLabel(a).localeCompare(shortLabel(b), undefined, { numeric: true });

function arrowDefs() {
  const size = { markerWidth: 7, markerHeight: 7 };
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, ...size, orient: "auto" });
  marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#90a4ae" }));
  const defs = svgEl("defs", {});
  defs.append(marker);
  return defs;
}

function drawEdge(svg, edge, position, centre) {  // head -> tail: the arrow ends at the tail's dot
  const a = position[edge.source], b = position[edge.target];
  if (!a || !b) return;
  const gap = b === centre ? 11 : 8;
  const attrs = { stroke: "#b0bec5", fill: "none", "marker-end": "url(#arrow)", "data-relation": edge.relation };
  let line;
  if (a === centre || b === centre) {
    const dx = b.x - a.x, dy = b.y - a.y, length = Math.hypot(dx, dy) || 1;
    line = svgEl("line", { ...attrs, x1: a.x, y1: a.y, x2: b.x - (dx / length) * gap, y2: b.y - (dy / length) * gap });
  } else {  // between two neighbours: an arc bent towards the middle, off the columns
    const c = { x: (a.x + b.x) / 2 + (centre.x - (a.x + b.x) / 2) / 2, y: (a.y + b.y) / 2 };
    const dx = b.x - c.x, dy = b.y - c.y, length = Math.hypot(dx, dy) || 1;
    const end = { x: b.x - (dx / length) * gap, y: b.y - (dy / length) * gap };
    line = svgEl("path", { ...attrs, d: `M ${a.x} ${a.y} Q ${c.x} ${c.y} ${end.x} ${end.y}` });
  }
  const title = svgEl("title", {});
  title.textContent = `${edge.source} ${edge.relation} ${edge.target}`;
  line.append(title);
  svg.append(line);
}

function drawGraphNode(svg, node, p, at, width) {  // a dot and a label no wider than width, the full label on hover
  const fill = TYPE_COLOURS[node.type] || "#999";
  const dot = svgEl("circle", { cx: p.x, cy: p.y, r: node.hops === 0 ? 9 : 6, fill });
  svg.append(dot);
  const label = fittedText(shortLabel(node), { ...at, "data-id": node.id }, width, svg);
  for (const item of [dot, label]) {
    const title = svgEl("title", {});
    title.textContent = node.type === "image" ? node.label : shortLabel(node);
    item.append(title);
    item.addEventListener("click", () => openNode(node.id));
  }
}

function fittedText(full, attrs, width, svg) {  // a text in svg, cut with "…" to GRAPH.chars characters and width px
  const label = svgEl("text", attrs), words = document.createTextNode(full);
  label.append(words);
  svg.append(label);
  let length = Math.min(full.length, GRAPH.chars);
  const cut = () => { words.data = length < full.length ? `${full.slice(0, length - 1).trimEnd()}…` : full; };
  cut();
  while (length > 4 && label.getComputedTextLength() > width) { length -= 2; cut(); }
  return label;
}

function graphNote(graph) {  // how many neighbours are drawn, and of which relations those left out are
  const total = graph.total ?? graph.nodes.length - 1, left = graph.left_out || { nodes: 0, relations: {}, edges: 0 };
  if (!total) return "no neighbours in the knowledge graph";
  const parts = [left.nodes ? `${total - left.nodes} of ${total} neighbours drawn` : `${total} neighbours`];
  if (left.nodes) {
    const relations = Object.entries(left.relations).map(([relation, n]) => `${n.toLocaleString()} ${relation}`);
    parts.unshift(`+ ${left.nodes.toLocaleString()} more: ${relations.join(", ")}`);
  }
  if (left.edges) parts.push(`${left.edges.toLocaleString()} edges among them not drawn`);
  return parts.join(" · ");
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

// The training curve: epochs on x, each series on its own y axis (loss on the left, validation MRR on the right),
// drawn in the series' colour with its title.
const CURVE_SERIES = [
  { key: "loss", title: "training loss", colour: "#e53935", side: "left" },
  { key: "val_mrr", title: "validation MRR", colour: "#1e88e5", side: "right" },
];
const AXIS_COLOUR = "#607d8b";

function svgText(text, attrs) {
  const node = svgEl("text", attrs);
  node.textContent = text;
  return node;
}

function niceStep(span, count) {  // 1, 2 or 5 times a power of ten, about span / count
  const raw = span / count, power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw);
}

function niceScale(values, count = 4) {  // the values' range widened to whole steps, with its ticks
  const step = niceStep(Math.max(...values) - Math.min(...values) || Math.abs(values[0]) || 1, count);
  const low = Math.floor(Math.min(...values) / step) * step;
  const high = Math.max(low + step, Math.ceil(Math.max(...values) / step) * step);
  const ticks = Array.from({ length: Math.round((high - low) / step) + 1 }, (_, i) => low + i * step);
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  const short = digits <= 3 && Math.max(Math.abs(low), Math.abs(high)) < 1e5;  // else 1.5e-5, 2.0e+5: labels fit
  return { low, high, ticks, label: (value) => (short ? value.toFixed(digits) : value.toExponential(1)) };
}

function epochTicks(first, last) {  // the first and last epoch, and whole steps between them
  if (last <= first) return [first];
  const step = Math.max(1, Math.round(niceStep(last - first, 5)));
  const ticks = [first];
  for (let epoch = Math.ceil((first + step / 2) / step) * step; epoch < last - step / 2; epoch += step) {
    ticks.push(epoch);
  }
  return [...ticks, last];
}

function drawCurve(history) {
  const svg = $("curve");
  svg.replaceChildren();
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const box = { left: 64, right: width - 64, top: 32, bottom: height - 44 };
  const epochs = history.map((record) => record.epoch).filter(Number.isFinite);
  if (!epochs.length) {
    svg.append(svgText("no training history in this run", { x: box.left, y: box.top + 20, fill: AXIS_COLOUR }));
    return;
  }
  const first = Math.min(...epochs), last = Math.max(...epochs);
  const x = (epoch) => (last === first ? (box.left + box.right) / 2
    : box.left + ((epoch - first) / (last - first)) * (box.right - box.left));
  drawEpochAxis(svg, box, x, epochTicks(first, last));
  CURVE_SERIES.forEach((series, row) => drawSeries(svg, box, x, series, history, row));
}

function drawEpochAxis(svg, box, x, ticks) {
  svg.append(svgEl("line", { x1: box.left, y1: box.bottom, x2: box.right, y2: box.bottom, stroke: AXIS_COLOUR }));
  for (const epoch of ticks) {
    svg.append(svgEl("line", { x1: x(epoch), y1: box.bottom, x2: x(epoch), y2: box.bottom + 5, stroke: AXIS_COLOUR }),
      svgText(String(epoch), { x: x(epoch), y: box.bottom + 18, "text-anchor": "middle", class: "tick x-tick" }));
  }
  const title = { x: (box.left + box.right) / 2, y: box.bottom + 36, "text-anchor": "middle", class: "axis-title" };
  svg.append(svgText("epoch", title));
}

function drawSeries(svg, box, x, series, history, row) {
  const points = history.filter((r) => Number.isFinite(r[series.key])).map((r) => [r.epoch, r[series.key]]);
  if (!points.length) return;
  const scale = niceScale(points.map((point) => point[1]));
  const y = (value) => box.bottom - ((value - scale.low) / (scale.high - scale.low)) * (box.bottom - box.top);
  drawValueAxis(svg, box, y, scale, series);
  const line = points.map(([epoch, value]) => `${x(epoch)},${y(value)}`).join(" ");
  const stroke = { stroke: series.colour, "stroke-width": 2, "data-series": series.key };
  svg.append(svgEl("polyline", { points: line, fill: "none", ...stroke }));
  if (points.length === 1) svg.append(svgEl("circle", { cx: x(points[0][0]), cy: y(points[0][1]), r: 3, ...stroke }));
  const [epoch, value] = points[points.length - 1];
  const legend = { x: row ? box.right : box.left, y: 16, "text-anchor": row ? "end" : "start", fill: series.colour };
  svg.append(svgText(`${series.title} at epoch ${epoch}: ${value.toFixed(3)}`, { ...legend, class: "legend" }));
}

function drawValueAxis(svg, box, y, scale, series) {
  const left = series.side === "left", at = left ? box.left : box.right, out = left ? -1 : 1;
  svg.append(svgEl("line", { x1: at, y1: box.top, x2: at, y2: box.bottom, stroke: series.colour }));
  for (const value of scale.ticks) {
    svg.append(svgEl("line", { x1: at, y1: y(value), x2: at + 5 * out, y2: y(value), stroke: series.colour }),
      svgText(scale.label(value), {
        x: at + 8 * out, y: y(value) + 4, "text-anchor": left ? "end" : "start", fill: series.colour,
        class: `tick y-tick`, "data-series": series.key,
      }));
  }
  const tx = at + 50 * out, ty = (box.top + box.bottom) / 2;
  svg.append(svgText(series.title, {
    x: tx, y: ty, transform: `rotate(${90 * out} ${tx} ${ty})`, "text-anchor": "middle", fill: series.colour,
    class: "axis-title",
  }));
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
  const view = button.dataset.view;
  button.addEventListener("click", () => navigate(view === "search" ? "" : `#${view}`));
}
window.addEventListener("popstate", route);
route();
api("/api/summary").then((summary) => {
  $("summary").textContent = Object.entries(summary.nodes).map(([t, n]) => `${n.toLocaleString()} ${t}s`).join(" · ");
}).catch(showError);
