// cmir-explore's page: the index's songs on a canvas, playback, nearest songs, queries, playlist continuation.
// Plain JavaScript, no library; every request goes to the server that served this page.
"use strict";

const $ = (id) => document.getElementById(id);
const canvas = $("map"), context = canvas.getContext("2d"), tip = $("tip"), player = $("player");
const state = {
  songs: null,         // the /api/songs answer
  view: { scale: 1, x: 0, y: 0 },  // map [0, 1] -> canvas pixels: x * size * scale + view.x
  highlighted: [],     // song ids of the last query, best first
  seeds: new Set(),    // shift-clicked songs
  current: -1,         // the song playing
  details: new Map(),  // song id -> /api/song answer (k=0), for hovering
  groups: [],          // per legend entry, its colour and its songs' ids
};

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function size() { return Math.min(canvas.width, canvas.height) * 0.94; }

// The map -> canvas transform: pixel = offset + coordinate * scale, per axis.
function transform() {  // the map's square centred in the canvas, then zoomed and panned
  const scale = size() * state.view.scale;
  return { scale, x: (canvas.width - size()) / 2 + state.view.x, y: (canvas.height - size()) / 2 + state.view.y };
}

function toScreen(id) {
  const t = transform();
  return [t.x + state.songs.x[id] * t.scale, t.y + state.songs.y[id] * t.scale];
}

function resize() {
  const ratio = window.devicePixelRatio || 1, box = canvas.getBoundingClientRect();
  canvas.width = Math.max(1, Math.round(box.width * ratio));
  canvas.height = Math.max(1, Math.round(box.height * ratio));
  draw();
}

function dot(id, radius, fill, stroke) {
  const [x, y] = toScreen(id);
  context.beginPath();
  context.arc(x, y, radius, 0, 2 * Math.PI);
  if (fill) { context.fillStyle = fill; context.fill(); }
  if (stroke) { context.strokeStyle = stroke; context.lineWidth = 2; context.stroke(); }
}

function draw() {
  const s = state.songs;
  if (!s) return;
  const started = performance.now();
  const ratio = window.devicePixelRatio || 1;  // squares the larger the fewer songs share the map
  const point = Math.max(2 * ratio, Math.min(6 * ratio, 0.3 * Math.sqrt(size() ** 2 / s.count) * state.view.scale));
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.globalAlpha = state.highlighted.length ? 0.35 : 0.85;
  const t = transform(), xs = s.x, ys = s.y, half = point / 2;
  let drawn = 0;
  for (const group of state.groups) {  // one colour at a time: 50,000 squares, no per-point style change
    context.fillStyle = group.colour;
    for (const id of group.ids) {
      const x = t.x + xs[id] * t.scale, y = t.y + ys[id] * t.scale;
      if (x < -point || y < -point || x > canvas.width + point || y > canvas.height + point) continue;
      context.fillRect(x - half, y - half, point, point);
      drawn++;
    }
  }
  context.globalAlpha = 1;
  for (const id of state.highlighted) dot(id, 2.5 * ratio, s.legend[s.label[id]].colour, "#000");
  for (const id of state.seeds) dot(id, 5 * ratio, null, "#e5007e");
  if (state.current >= 0) dot(state.current, 7 * ratio, null, "#000");
  canvas.dataset.drawn = String(drawn);
  canvas.dataset.highlighted = String(state.highlighted.length);
  canvas.dataset.drawMs = (performance.now() - started).toFixed(1);  // read by benchmarks/bench_explore.py
}

function songAt(clientX, clientY) {
  const box = canvas.getBoundingClientRect(), ratio = canvas.width / box.width;
  const px = (clientX - box.left) * ratio, py = (clientY - box.top) * ratio;
  const t = transform(), xs = state.songs.x, ys = state.songs.y;
  let best = -1, bestDistance = (8 * ratio) ** 2;
  for (let id = 0; id < state.songs.count; id++) {
    const d = (t.x + xs[id] * t.scale - px) ** 2 + (t.y + ys[id] * t.scale - py) ** 2;
    if (d < bestDistance) { best = id; bestDistance = d; }
  }
  return best;
}

function songLink(entry, extra) {
  const item = document.createElement("li"), link = document.createElement("a");
  link.textContent = entry.name;
  link.dataset.id = entry.id;
  link.addEventListener("click", () => play(entry.id));
  const note = document.createElement("small");
  note.textContent = " " + extra;
  item.append(link, note);
  return item;
}

function fill(list, entries, extra) {
  list.replaceChildren(...entries.map((e) => songLink(e, extra(e))));
}

function describe(song) {
  const lines = [];
  if (song.genres.length) lines.push(song.genres.map((g) => `${g.code} ${g.name} ${g.score.toFixed(2)}`).join(", "));
  if (song.tags.length) lines.push(song.tags.map((t) => `#${t.tag} ${t.score.toFixed(2)}`).join(" "));
  return lines.join("\n");
}

async function play(id) {
  state.current = id;
  player.src = `/audio/${id}`;
  player.play().catch(() => {});  // a browser may refuse to start sound by itself: the controls remain
  draw();
  try {
    const song = await getJson(`/api/song?id=${id}&k=10`);
    if (state.current !== id) return;  // another song was clicked meanwhile
    $("song").textContent = `${song.name}\n${describe(song)}`;
    fill($("neighbours"), song.neighbours, (n) => `cos ${n.cosine.toFixed(3)}`);
  } catch (error) {
    $("song").textContent = error.message;
  }
}

function toggleSeed(id) {
  if (state.seeds.has(id)) state.seeds.delete(id); else state.seeds.add(id);
  $("m3u").hidden = true;  // the continuation shown was of other seeds
  showSeeds();
}

function showSeeds() {
  $("selection").textContent = state.seeds.size
    ? `${state.seeds.size} seeds: ${[...state.seeds].map((i) => state.songs.names[i]).join(", ")}`
    : "No seeds chosen (shift-click points).";
  $("continue").disabled = state.seeds.size === 0;
  draw();
}

async function continueSeeds() {
  const ids = [...state.seeds].join(",");
  try {
    const found = await getJson(`/api/continue?ids=${ids}&k=20`);
    fill($("playlist"), found.results, (r) => `${r.votes} votes, cos ${r.cosine.toFixed(3)}`);
    $("m3u").href = `/api/continue.m3u?ids=${ids}&k=20`;
    $("m3u").hidden = false;
  } catch (error) {
    $("playlist").replaceChildren();
    $("selection").textContent = error.message;
  }
}

async function ask(event) {
  event.preventDefault();
  const note = $("query-note");
  try {
    const found = await getJson(`/api/query?q=${encodeURIComponent($("q").value)}&k=20`);
    state.highlighted = found.results.map((r) => r.id);
    const used = [...found.tags.map((t) => "#" + t), ...found.genres].join(" ");
    note.className = "";
    note.textContent = `closest to ${used}` + (found.unknown.length ? `; unknown words: ${found.unknown.join(", ")}` : "");
    fill($("results"), found.results, (r) => `cos ${r.cosine.toFixed(3)}`);
  } catch (error) {
    state.highlighted = [];
    note.className = "error";
    note.textContent = error.message;
    $("results").replaceChildren();
  }
  draw();
}

async function hover(event) {
  const id = songAt(event.clientX, event.clientY);
  tip.dataset.id = String(id);
  if (id < 0) { tip.hidden = true; return; }
  const s = state.songs, box = canvas.getBoundingClientRect();
  tip.style.left = `${event.clientX - box.left + 12}px`;
  tip.style.top = `${event.clientY - box.top + 12}px`;
  tip.textContent = `${s.names[id]}\n${s.legend[s.label[id]].name}`;
  tip.hidden = false;
  if (!state.details.has(id)) state.details.set(id, getJson(`/api/song?id=${id}&k=0`).catch(() => null));
  const song = await state.details.get(id);
  if (song && !tip.hidden && tip.dataset.id === String(id)) tip.textContent = `${song.name}\n${describe(song)}`;
}

function listen() {
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; });
  window.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
  canvas.addEventListener("mousemove", (e) => {
    if (drag && (e.buttons & 1)) {
      const ratio = canvas.width / canvas.getBoundingClientRect().width;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (drag.moved || Math.abs(dx) + Math.abs(dy) > 3) {
        drag.moved = true;
        state.view.x += dx * ratio; state.view.y += dy * ratio;
        drag.x = e.clientX; drag.y = e.clientY;
        draw();
        return;
      }
    }
    hover(e);
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  canvas.addEventListener("click", (e) => {
    if (drag && drag.moved) return;
    const id = songAt(e.clientX, e.clientY);
    if (id < 0) return;
    if (e.shiftKey) toggleSeed(id); else play(id);
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const box = canvas.getBoundingClientRect(), ratio = canvas.width / box.width;
    const px = (e.clientX - box.left) * ratio, py = (e.clientY - box.top) * ratio;
    const factor = Math.exp(-e.deltaY * 0.001);
    state.view.x = px - (px - state.view.x) * factor;
    state.view.y = py - (py - state.view.y) * factor;
    state.view.scale *= factor;
    draw();
  }, { passive: false });
  $("search").addEventListener("submit", ask);
  $("continue").addEventListener("click", continueSeeds);
  $("clear").addEventListener("click", () => {
    state.seeds.clear(); state.highlighted = [];
    $("playlist").replaceChildren(); $("results").replaceChildren(); $("m3u").hidden = true;
    $("query-note").textContent = "";
    showSeeds();
  });
  window.addEventListener("resize", resize);
}

function showLegend(songs) {
  $("legend").replaceChildren(...songs.legend.map((entry) => {
    const item = document.createElement("li"), swatch = document.createElement("span");
    swatch.style.background = entry.colour;
    item.append(swatch, `${entry.name} (${entry.count})`);
    return item;
  }));
}

async function start() {
  try {
    state.songs = await getJson("/api/songs");
  } catch (error) {
    $("summary").textContent = `cannot load the map: ${error.message}`;
    return;
  }
  const s = state.songs;
  s.x = Float32Array.from(s.x);
  s.y = Float32Array.from(s.y);
  state.groups = s.legend.map((entry) => ({ colour: entry.colour, ids: [] }));
  s.label.forEach((label, id) => state.groups[label].ids.push(id));
  const asks = [s.model.tags && "playlist tags", s.model.genres && "genres"].filter(Boolean);
  $("summary").textContent = `${s.count} songs · ${s.model.variant} · coloured by ` +
    (s.colour_by === "genre" ? "top zero-shot genre" : "k-means cluster of the embeddings");
  $("q").placeholder = asks.length ? `${asks.join(" or ")}, e.g. ${s.examples.join(" ")}` : "this model takes no queries";
  showLegend(s);
  listen();
  resize();
  document.body.dataset.ready = "1";
}

// For tests and scripts: where song `id` is drawn, in CSS pixels from the canvas's top-left corner.
window.cmirExplore = {
  cssPoint(id) {
    const ratio = canvas.width / canvas.getBoundingClientRect().width, [x, y] = toScreen(id);
    return [x / ratio, y / ratio];
  },
};

start();
