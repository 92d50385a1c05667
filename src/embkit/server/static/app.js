// The embkit web page: search a collection (dense, keyword or hybrid, with metadata
// filters and "more like this"), read the whole document a hit came from, and look at a
// 2-D map of it. Plain JavaScript, no build step. Text from the server is only ever put
// into the page as text nodes (textContent / createTextNode), never parsed as HTML; a
// rendered document comes as a tree of [tag, attributes, ...children] built here with
// createElement from an allow-list of tags and attributes.
"use strict";

const KEY_STORAGE = "embkit.apiKey";
const COLLECTION_STORAGE = "embkit.collection";
const STOPWORDS = new Set(("a an and are as at be but by for from has have in into is it its of on or that the " +
  "their this to was were will with").split(" "));
const HOVER_CHARS = 160;

const state = {
  collection: null,
  fields: {},        // field -> {types, values}
  mode: "dense",
  like: null,        // id of the document a "more like this" search started from
  image: null,       // base64 of the query image, for a search by image
  audio: null,       // base64 of the query clip, for a search by sound
  audioUrls: [],     // object URLs of the players on screen, revoked when results change
  searchSeq: 0,      // answers to older requests are dropped
  mapSeq: 0,
  mapDrawn: null,    // "collection|method|color" of the map on screen
  view: "search",
  panelDoc: null,
  viewDoc: null,     // the id (document or chunk) the document view was opened with
  resultsScroll: 0,  // where the results were scrolled to when a document was opened
  plotly: null,      // the promise of plotly.js, loaded when the map is first opened
};

const $ = (id) => document.getElementById(id);

// ---- calls to the API ------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = "Bearer " + key;
  const init = { method: options.method || "GET", headers };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", "cannot reach the server (" + e.message + ")");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  const error = (data && data.error) || {};
  if (response.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    askForKey(key ? (error.message || "the key was not accepted") : null);
    throw new ApiError(401, "unauthorized", error.message || "an API key is needed");
  }
  if (!response.ok) {
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText);
  }
  return data;
}

const collectionPath = (suffix = "") => "/collections/" + encodeURIComponent(state.collection) + suffix;

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

function reportError(e, where) {
  if (e instanceof ApiError && e.status === 401) return; // the key form is up
  showMessage((where ? where + ": " : "") + (e.message || String(e)));
}

// ---- the API key -----------------------------------------------------------------------

function askForKey(problem) {
  const error = $("key-error");
  if (problem) error.textContent = "That key was not accepted (" + problem + "). Enter another.";
  if (problem || $("key-overlay").hidden) error.hidden = !problem;
  if (!$("key-overlay").hidden) return; // asked already (several calls can fail at once)
  $("key-overlay").hidden = false;
  $("key-forget").hidden = true;
  const input = $("key-input");
  input.value = "";
  input.focus();
}

function onKeySubmit(event) {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("key-overlay").hidden = true;
  start();
}

// ---- collections and fields ------------------------------------------------------------

async function start() {
  showMessage("");
  let data;
  try {
    data = await api("/collections");
  } catch (e) {
    reportError(e, "collections");
    return;
  }
  $("key-forget").hidden = !sessionStorage.getItem(KEY_STORAGE);
  const select = $("collection-select");
  select.replaceChildren(...data.collections.map((name) => new Option(name, name)));
  select.disabled = data.collections.length === 0;
  if (data.collections.length === 0) {
    showMessage("This server holds no collection that this key can read.");
    return;
  }
  const remembered = sessionStorage.getItem(COLLECTION_STORAGE);
  const name = data.collections.includes(state.collection) ? state.collection
    : data.collections.includes(remembered) ? remembered : data.collections[0];
  select.value = name;
  await selectCollection(name);
}

async function selectCollection(name) {
  state.collection = name;
  state.like = null;
  state.mapDrawn = null;
  sessionStorage.setItem(COLLECTION_STORAGE, name);
  closeDoc();
  closeDocView();
  clearResults("");
  renderLikeBanner();
  const [info, fields] = await Promise.all([
    api(collectionPath()).catch((e) => { reportError(e, "collection"); return null; }),
    api(collectionPath("/fields")).catch((e) => { reportError(e, "fields"); return { fields: {} }; }),
  ]);
  if (name !== state.collection) return;
  $("collection-info").textContent = info
    ? `${documentCount(info)} · ${info.model} · ${info.dim} d` : "";
  renderSpaces(info ? Object.keys(info.spaces || {}) : [], info ? info.space : null);
  state.fields = fields.fields || {};
  renderFilters();
  renderColorChoices();
  if (state.view === "map") loadMap();
  else if ($("search-input").value.trim()) runSearch();
}

// A collection with several vector spaces (text, image) gets a chooser, its default (info's
// `space`) first and chosen: the listing's order is no promise (a reembed's new space comes last).
function renderSpaces(names, defaultSpace) {
  const select = $("space-select");
  const ordered = names.includes(defaultSpace) ? [defaultSpace, ...names.filter((n) => n !== defaultSpace)] : names;
  select.replaceChildren(...ordered.map((name) => new Option(name, name)));
  select.dataset.default = defaultSpace || "";
  $("space-control").hidden = names.length < 2;
}

function renderFilters() {
  const box = $("filters");
  box.replaceChildren();
  for (const [field, about] of Object.entries(state.fields)) {
    const values = (about.values || []).filter((v) => v !== null && typeof v !== "object");
    if (values.length === 0) continue;
    const select = document.createElement("select");
    select.id = "filter-" + field;
    select.dataset.field = field;
    select.dataset.testid = "filter";
    select.add(new Option("any", ""));
    values.forEach((value, i) => select.add(new Option(String(value), String(i))));
    select.addEventListener("change", onFilterChange);
    const label = document.createElement("label");
    label.className = "control";
    const caption = document.createElement("span");
    caption.textContent = field;
    label.append(caption, select);
    box.append(label);
  }
}

/** {field: value} for every filter that is not "any" (values keep their JSON type). */
function buildWhere() {
  const where = {};
  for (const select of $("filters").querySelectorAll("select")) {
    if (select.value === "") continue;
    const field = select.dataset.field;
    const values = (state.fields[field].values || []).filter((v) => v !== null && typeof v !== "object");
    where[field] = values[Number(select.value)];
  }
  return Object.keys(where).length ? where : null;
}

function onFilterChange() {
  runSearch();
}

// ---- search ----------------------------------------------------------------------------

function setMode(mode) {
  state.mode = mode;
  for (const button of document.querySelectorAll(".modes button")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
}

function clearResults(status) {
  state.searchSeq += 1; // answers still on the way are dropped
  $("results").replaceChildren();
  $("results").dataset.state = "idle";
  $("search-status").textContent = status;
}

async function runSearch() {
  if (!state.collection) return;
  const query = $("search-input").value.trim();
  const body = { k: Number($("k-select").value) };
  const where = buildWhere();
  if (where) body.where = where;
  // a space is named only when one other than the collection's default is chosen, so the
  // server routes as for any unnamed space (a CLAP/CLIP text tower's sounds or pictures)
  const chooser = $("space-select");
  if (!$("space-control").hidden && chooser.value !== chooser.dataset.default) body.space = chooser.value;
  if (state.like !== null) {
    body.like = state.like; // by meaning: the stored document's vector
  } else if (state.image !== null) {
    body.image = state.image;
  } else if (state.audio !== null) {
    body.audio = state.audio;
  } else if (query) {
    body.query = query;
    body.mode = state.mode;
  } else {
    clearResults("");
    return;
  }
  const seq = ++state.searchSeq;
  closeDocView();
  const results = $("results");
  results.dataset.state = "loading";
  $("search-status").textContent = "Searching…";
  let data;
  try {
    data = await api(collectionPath("/search"), { method: "POST", body });
  } catch (e) {
    if (seq !== state.searchSeq) return;
    results.dataset.state = "error";
    $("search-status").textContent = "";
    reportError(e, "search");
    return;
  }
  if (seq !== state.searchSeq) return;
  showMessage("");
  renderResults(data.hits, body.query ? queryTerms(body.query) : []);
  const n = data.hits.length;
  $("search-status").textContent = `${n} result${n === 1 ? "" : "s"} in ${data.took_ms} ms` +
    (where ? " · filtered" : "");
  results.dataset.state = "done";
}

function renderResults(hits, terms) {
  const list = $("results");
  for (const url of state.audioUrls) URL.revokeObjectURL(url);
  state.audioUrls = [];
  list.replaceChildren(...hits.map((hit, i) => renderHit(hit, i + 1, terms)));
}

function renderHit(hit, rank, terms) {
  const item = document.createElement("li");
  item.className = "result";
  item.dataset.id = hit.id;
  item.dataset.testid = "result";

  const head = element("div", "result-head");
  head.append(element("span", "rank", String(rank)));
  const id = element("button", "doc-id link-button", hit.id);
  id.type = "button";
  id.title = "Open the whole document at this passage";
  id.addEventListener("click", () => openDocView(hit.id));
  head.append(id);
  const score = element("span", "score", formatScore(hit.score));
  score.title = "score";
  head.append(score);
  const parts = [];
  if (hit.dense_score !== undefined && hit.dense_score !== null) parts.push("dense " + formatScore(hit.dense_score));
  if (hit.keyword_score !== undefined && hit.keyword_score !== null) parts.push("keyword " + formatScore(hit.keyword_score));
  if (hit.rerank_score !== undefined && hit.rerank_score !== null) parts.push("rerank " + formatScore(hit.rerank_score));
  if (parts.length) head.append(element("span", "subscores", parts.join(" · ")));
  item.append(head);

  if (hit.metadata && hit.metadata.image) item.append(renderThumbnail(hit));
  if (isAudioHit(hit)) item.append(renderAudio(hit));

  const text = element("p", "text");
  text.append(highlight(hit.text || "", terms));
  text.title = "Click to show all of it";
  text.addEventListener("click", () => text.classList.toggle("expanded"));
  item.append(text);

  const metadata = renderMetadata(hit.metadata || {});
  const foot = element("div", "result-foot");
  foot.append(metadata);
  const like = element("a", "more-like-this", "More like this");
  like.href = "#";
  like.dataset.id = hit.id;
  like.dataset.testid = "more-like-this";
  like.addEventListener("click", (event) => {
    event.preventDefault();
    searchLike(hit.id);
  });
  foot.append(like);
  item.append(foot);
  return item;
}

// Thumbnails come through the API (with the key), then show as object URLs.
function renderThumbnail(hit) {
  const img = document.createElement("img");
  img.className = "thumbnail";
  img.dataset.testid = "thumbnail";
  img.alt = hit.metadata.path || hit.id;
  const headers = {};
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = "Bearer " + key;
  fetch(collectionPath("/thumbnails/" + encodeURIComponent(hit.id)), { headers })
    .then((response) => (response.ok ? response.blob() : null))
    .then((blob) => {
      if (!blob) {
        img.classList.add("missing");
        return;
      }
      img.onload = () => URL.revokeObjectURL(img.src); // decoded: the blob can go
      img.src = URL.createObjectURL(blob);
    })
    .catch(() => img.classList.add("missing"));
  return img;
}

// An audio record (a file, or a window of one) carries its file's duration and rate.
function isAudioHit(hit) {
  const m = hit.metadata || {};
  return typeof m.duration_s === "number" && typeof m.sample_rate === "number" && typeof m.start === "number";
}

/** Fetches a collection route with the key; the body as a blob, or null. */
function fetchBlob(path) {
  const headers = {};
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = "Bearer " + key;
  return fetch(collectionPath(path), { headers })
    .then((response) => (response.ok ? response.blob() : null))
    .catch(() => null);
}

// An audio hit: its file's waveform with the matched window marked, and a player that
// starts at the window's start and stops at its end (media fragment #t=start,end; the
// handlers do the same where a browser ignores the fragment).
function renderAudio(hit) {
  const { start, end, duration_s: duration } = hit.metadata;
  const box = element("div", "audio-hit");
  box.dataset.testid = "audio-hit";
  const wave = element("div", "waveform-box");
  const img = document.createElement("img");
  img.className = "waveform";
  img.dataset.testid = "waveform";
  img.alt = "waveform of " + (hit.metadata.path || hit.id);
  const mark = element("div", "waveform-window");
  mark.style.left = (100 * start / (duration || 1)).toFixed(2) + "%";
  mark.style.width = (100 * Math.max(0, end - start) / (duration || 1)).toFixed(2) + "%";
  mark.title = `${start}–${end} s of ${duration} s`;
  wave.append(img, mark);
  const id = encodeURIComponent(hit.id);
  const play = element("button", "audio-play", "▶ Play");
  play.type = "button";
  play.dataset.testid = "audio-play";
  const player = windowPlayer(start, end);
  box.append(wave, play, player, element("span", "audio-window", `${start}–${end} s of ${duration} s`));
  fetchBlob("/waveforms/" + id).then((blob) => {
    if (!blob) {
      wave.classList.add("missing"); // not served (outside --audio-root): nothing to play either
      play.classList.add("missing");
      player.classList.add("missing");
      return;
    }
    img.onload = () => URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
  });
  // The file is fetched on first play, not for every hit on the page (a page of long
  // recordings would download them all).
  play.addEventListener("click", () => {
    play.disabled = true;
    fetchBlob("/audio/" + id).then((blob) => {
      play.remove();
      if (!blob) {
        player.classList.add("missing");
        return;
      }
      const url = URL.createObjectURL(blob);
      state.audioUrls.push(url);
      player.src = `${url}#t=${start},${end}`;
      player.classList.remove("unloaded");
      player.play().catch(() => {}); // a browser may refuse to play; the controls remain
    });
  });
  return box;
}

/** A player (no source yet) that starts at `start` and pauses at `end`. */
function windowPlayer(start, end) {
  const player = document.createElement("audio");
  player.controls = true;
  player.preload = "metadata";
  player.className = "unloaded";
  player.dataset.testid = "audio-player";
  player.dataset.start = String(start);
  player.dataset.end = String(end);
  player.addEventListener("loadedmetadata", () => {
    if (player.currentTime < start || player.currentTime > end) player.currentTime = start;
  });
  player.addEventListener("timeupdate", () => {
    if (player.currentTime >= end) {
      player.pause();
      player.currentTime = start; // ready to play the window again
    }
  });
  return player;
}

function clearImageQuery() {
  state.image = null;
  $("image-input").value = "";
  state.audio = null;
  $("audio-input").value = "";
  $("search-input").placeholder = "Search by meaning or by words…";
}

// A file chosen to search by: an image or a sound (`kind`, the state field it fills);
// the other kinds of query are cleared.
function onQueryFileChosen(kind, label) {
  return (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      for (const other of ["image", "audio"]) {
        state[other] = other === kind ? String(reader.result).split(",", 2)[1] : null;
        if (other !== kind) $(other + "-input").value = "";
      }
      state.like = null;
      $("search-input").value = "";
      $("search-input").placeholder = `Searching by ${label}: ` + file.name;
      runSearch();
    };
    reader.readAsDataURL(file);
  };
}

function formatScore(value) {
  return typeof value === "number" ? value.toFixed(3) : String(value);
}

function renderMetadata(metadata) {
  const box = element("div", "metadata");
  for (const [key, value] of Object.entries(metadata)) {
    const chip = element("span", "meta");
    chip.dataset.field = key;
    chip.append(element("span", "meta-key", key), element("span", "meta-value",
      typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)));
    box.append(chip);
  }
  return box;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function searchLike(id) {
  state.like = id;
  clearImageQuery();
  renderLikeBanner();
  showView("search");
  runSearch();
}

function renderLikeBanner() {
  $("like-banner").hidden = state.like === null;
  $("like-id").textContent = state.like === null ? "" : state.like;
}

// ---- highlighting ----------------------------------------------------------------------

/** The words of a query worth marking: lower case, no stop words, no repeats. */
function queryTerms(query) {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  const terms = [...new Set(words)].filter((w) => !STOPWORDS.has(w));
  return terms.sort((a, b) => b.length - a.length);
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A fragment of text nodes and <mark>s: every word that starts with a query term
 * (case-insensitive: "search" marks "Searching"); terms of one or two letters only as
 * whole words. */
function highlight(text, terms) {
  const fragment = document.createDocumentFragment();
  if (!terms.length) {
    fragment.append(text);
    return fragment;
  }
  const alternatives = terms.map((t) => escapeRegExp(t) + (t.length >= 3 ? "[\\p{L}\\p{N}]*" : ""));
  const pattern = new RegExp("(?<![\\p{L}\\p{N}])(?:" + alternatives.join("|") + ")(?![\\p{L}\\p{N}])", "giu");
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) fragment.append(text.slice(last, match.index));
    fragment.append(element("mark", "", match[0]));
    last = match.index + match[0].length;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}

// ---- one document ----------------------------------------------------------------------

async function fetchDoc(id) {
  if (!id.includes("/")) return api(collectionPath("/documents/" + encodeURIComponent(id)));
  // A "/" in a path segment is decoded before routing even when escaped, so ids
  // such as "docs/a.pdf#3" are fetched by POST /get instead.
  const data = await api(collectionPath("/get"), { method: "POST", body: { ids: [id] } });
  if (!data.documents.length) throw new ApiError(404, "not_found", `no document with id ${JSON.stringify(id)}`);
  return data.documents[0];
}

async function openDoc(id) {
  state.panelDoc = id;
  const panel = $("doc-panel");
  panel.hidden = false;
  panel.dataset.state = "loading";
  $("doc-id").textContent = id;
  $("doc-text").textContent = "Loading…";
  $("doc-metadata").replaceChildren();
  let doc;
  try {
    doc = await fetchDoc(id);
  } catch (e) {
    if (state.panelDoc !== id) return;
    $("doc-text").textContent = "";
    panel.dataset.state = "error";
    reportError(e, "document");
    return;
  }
  if (state.panelDoc !== id) return;
  // a document of several chunks (a map point is a document) comes as {id, chunks}
  const text = doc.chunks ? doc.chunks.map((c) => c.text || "").join("\n\n") : doc.text;
  const metadata = doc.chunks ? (doc.chunks[0] || {}).metadata : doc.metadata;
  panel.dataset.id = doc.id;
  $("doc-id").textContent = doc.id;
  $("doc-text").textContent = text || "(no text)";
  $("doc-metadata").replaceChildren(...renderMetadata(metadata || {}).childNodes);
  panel.dataset.state = "done";
}

function closeDoc() {
  state.panelDoc = null;
  $("doc-panel").hidden = true;
  delete $("doc-panel").dataset.id;
}

// ---- the whole document ----------------------------------------------------------------

const VIEW_TAGS = new Set(["div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre",
  "code", "em", "strong", "s", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "br", "span", "mark"]);
const SAFE_HREF = /^(?:https?:|mailto:)/i;

/** A DOM node from the server's tree: a string is a text node; [tag, attributes,
 * ...children] an element of an allowed tag (else a span) with the allowed attributes. */
function buildNode(node) {
  if (typeof node === "string") return document.createTextNode(node);
  const [tag, attrs, ...children] = node;
  const el = document.createElement(VIEW_TAGS.has(tag) ? tag : "span");
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class" || name === "id") el.setAttribute(name, String(value));
    else if (name === "start" && tag === "ol") el.setAttribute("start", String(Number(value) || 1));
    else if (name === "href" && tag === "a" && SAFE_HREF.test(String(value))) {
      el.href = String(value);
      el.target = "_blank";
      el.rel = "noopener noreferrer";
    }
  }
  el.append(...children.map(buildNode));
  return el;
}

function showDocView(open) {
  $("doc-view").hidden = !open;
  $("results-area").hidden = open;
}

/** Opens the document a hit (a chunk id, or a document id) belongs to in place of the
 * results, its passage marked and scrolled to; "Back to results" returns to them. */
async function openDocView(id) {
  if (state.viewDoc === null) state.resultsScroll = window.scrollY;
  state.viewDoc = id;
  const view = $("doc-view");
  showView("search");
  showDocView(true);
  view.dataset.state = "loading";
  delete view.dataset.id;
  $("doc-view-title").textContent = id;
  $("doc-view-id").textContent = "";
  $("doc-view-passage").textContent = "Loading…";
  $("doc-view-metadata").replaceChildren();
  $("doc-view-notes").hidden = true;
  $("doc-view-body").replaceChildren();
  let doc;
  try {
    doc = await api(collectionPath("/view?" + new URLSearchParams({ id })));
  } catch (e) {
    if (state.viewDoc !== id) return;
    view.dataset.state = "error";
    $("doc-view-passage").textContent = "";
    reportError(e, "document");
    return;
  }
  if (state.viewDoc !== id) return;
  renderDocView(doc);
  view.dataset.state = "done";
  const mark = document.getElementById("hit");
  if (mark) mark.scrollIntoView({ block: "center" });
  else window.scrollTo(0, 0);
}

function renderDocView(doc) {
  const view = $("doc-view");
  view.dataset.id = doc.id;
  view.dataset.rendered = doc.rendered;
  $("doc-view-title").textContent = doc.metadata.title || doc.id;
  $("doc-view-id").textContent = doc.metadata.title ? doc.id : "";
  const chunks = doc.chunks.length;
  const at = doc.hit ? doc.chunks.findIndex((c) => c.id === doc.hit.id) : -1;
  $("doc-view-passage").textContent = (at >= 0 ? `passage ${at + 1} of ${chunks}` : `${chunks} passage${chunks === 1 ? "" : "s"}`) +
    (doc.hit && doc.hit.section ? " · " + doc.hit.section : "");
  $("doc-view-metadata").replaceChildren(...renderMetadata(doc.metadata).childNodes);
  $("doc-view-notes").textContent = doc.notes.join(" ");
  $("doc-view-notes").hidden = doc.notes.length === 0;
  const body = $("doc-view-body");
  body.className = "doc-body " + doc.rendered;
  body.replaceChildren(...doc.body.map(buildNode));
  if (doc.metadata.image) body.prepend(renderThumbnail({ id: doc.id, metadata: doc.metadata }));
  else if (!doc.body.length) body.append(element("p", "muted", "(no text)"));
}

function closeDocView() {
  if (state.viewDoc === null) return;
  state.viewDoc = null;
  showDocView(false);
  window.scrollTo(0, state.resultsScroll);
}

// ---- the map ---------------------------------------------------------------------------

function renderColorChoices() {
  const select = $("map-color");
  const previous = select.value;
  const fields = Object.keys(state.fields);
  select.replaceChildren(new Option("nothing", ""), ...fields.map((f) => new Option(f, f)));
  select.value = fields.includes(previous) ? previous : fields.includes("cluster") ? "cluster" : "";
}

function loadPlotly() {
  if (!state.plotly) {
    state.plotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/plotly.min.js";
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        state.plotly = null;
        reject(new Error("could not load /static/plotly.min.js"));
      };
      document.head.append(script);
    });
  }
  return state.plotly;
}

function webglWorks() {
  try {
    const canvas = document.createElement("canvas");
    return Boolean(canvas.getContext("webgl") || canvas.getContext("experimental-webgl"));
  } catch (e) {
    return false;
  }
}

async function loadMap() {
  if (!state.collection) return;
  const method = $("map-method").value;
  const color = $("map-color").value;
  const wanted = `${state.collection}|${method}|${color}`;
  if (state.mapDrawn === wanted) return;
  const seq = ++state.mapSeq;
  const box = $("map");
  box.dataset.state = "loading";
  $("map-status").textContent = "Computing the map… (the first time can take a while)";
  const params = new URLSearchParams({ method });
  if (color) params.set("color_by", color);
  let Plotly, data;
  try {
    [Plotly, data] = await Promise.all([loadPlotly(), api(collectionPath("/map?" + params))]);
  } catch (e) {
    if (seq !== state.mapSeq) return;
    box.dataset.state = "error";
    $("map-status").textContent = "";
    reportError(e, "map");
    return;
  }
  if (seq !== state.mapSeq) return;
  await drawMap(Plotly, data, color);
  state.mapDrawn = wanted;
  const n = data.points.length;
  $("map-status").textContent = `${n.toLocaleString()} documents · ${data.notes.join("; ")} · click a point to read it`;
  box.dataset.state = "done";
}

function hoverText(text) {
  let short = text.length > HOVER_CHARS ? text.slice(0, HOVER_CHARS) + "…" : text;
  // plotly reads a few HTML-like tags in hover text: escape them, then wrap the lines
  short = short.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return short.replace(/(.{1,60})(\s+|$)/g, "$1<br>").replace(/(<br>)+$/, "");
}

async function drawMap(Plotly, data, color) {
  const groups = new Map();
  for (const p of data.points) {
    const value = p.color === null || p.color === undefined ? null : p.color;
    const label = value === null ? "(none)" : typeof value === "object" ? JSON.stringify(value) : String(value);
    if (!groups.has(label)) groups.set(label, { value, x: [], y: [], ids: [], text: [] });
    const g = groups.get(label);
    g.x.push(p.x);
    g.y.push(p.y);
    g.ids.push(p.id);
    g.text.push(hoverText(p.text || ""));
  }
  const numeric = [...groups.values()].every((g) => typeof g.value === "number" || g.value === null);
  const labels = [...groups.keys()].sort((a, b) => (numeric ? Number(a) - Number(b) : a.localeCompare(b)));
  const type = webglWorks() ? "scattergl" : "scatter";
  const traces = labels.map((label) => {
    const g = groups.get(label);
    return {
      type, mode: "markers", name: label, x: g.x, y: g.y, customdata: g.ids, text: g.text,
      hovertemplate: "<b>%{customdata}</b><br>%{text}<extra>" + escapeForPlotly(label) + "</extra>",
      marker: { size: 9, opacity: 0.85, line: { width: 0.5, color: "#ffffff" } },
    };
  });
  const layout = {
    margin: { l: 10, r: 10, t: 36, b: 10 },
    hovermode: "closest",
    showlegend: Boolean(color),
    legend: { title: { text: escapeForPlotly(color || "") }, itemsizing: "constant" },
    xaxis: { visible: false },
    yaxis: { visible: false, scaleanchor: "x" },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    dragmode: "pan",
  };
  const box = $("map");
  await Plotly.react(box, traces, layout, { responsive: true, displaylogo: false, scrollZoom: true });
  if (!box.dataset.clickBound) {
    box.on("plotly_click", (event) => {
      const point = event && event.points && event.points[0];
      if (point && point.customdata !== undefined) openDoc(String(point.customdata));
    });
    // plotly's `responsive` follows the window only; the box also narrows when the
    // document panel opens beside it
    new ResizeObserver(() => {
      if (!box.closest("[hidden]") && box.data) Plotly.Plots.resize(box);
    }).observe(box);
    box.dataset.clickBound = "1";
  }
}

function escapeForPlotly(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// ---- views -----------------------------------------------------------------------------

function showView(view) {
  state.view = view;
  $("search-view").hidden = view !== "search";
  $("map-view").hidden = view !== "map";
  $("tab-search").setAttribute("aria-selected", String(view === "search"));
  $("tab-map").setAttribute("aria-selected", String(view === "map"));
  if (view === "map") {
    loadMap();
    if (window.Plotly && state.mapDrawn) window.Plotly.Plots.resize($("map"));
  }
}

// ---- wiring ----------------------------------------------------------------------------

function wire() {
  $("key-form").addEventListener("submit", onKeySubmit);
  $("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    askForKey(null);
  });
  $("collection-select").addEventListener("change", (event) => selectCollection(event.target.value));
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.like = null;
    clearImageQuery();
    renderLikeBanner();
    runSearch();
  });
  for (const button of document.querySelectorAll(".modes button")) {
    button.addEventListener("click", () => {
      setMode(button.dataset.mode);
      if (state.like === null) runSearch(); // "more like this" is by meaning whatever the mode
    });
  }
  $("k-select").addEventListener("change", runSearch);
  $("space-select").addEventListener("change", runSearch);
  $("image-input").addEventListener("change", onQueryFileChosen("image", "image"));
  $("audio-input").addEventListener("change", onQueryFileChosen("audio", "sound"));
  $("like-clear").addEventListener("click", () => {
    state.like = null;
    renderLikeBanner();
    runSearch();
  });
  $("tab-search").addEventListener("click", () => showView("search"));
  $("tab-map").addEventListener("click", () => showView("map"));
  $("map-method").addEventListener("change", loadMap);
  $("map-color").addEventListener("change", loadMap);
  $("doc-close").addEventListener("click", closeDoc);
  $("doc-back").addEventListener("click", closeDocView);
  $("doc-whole").addEventListener("click", () => {
    if (state.panelDoc !== null) openDocView(state.panelDoc);
  });
  $("doc-like").addEventListener("click", () => {
    if (state.panelDoc !== null) searchLike(state.panelDoc);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("doc-panel").hidden) closeDoc();
    else if (event.key === "Escape" && state.viewDoc !== null) closeDocView();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  setMode("dense");
  start(); // without a key first: a server started with --no-auth needs none
});

// "12 documents" or "3 documents · 12 chunks": documents own their chunks.
function documentCount(info) {
  const docs = info.documents ?? info.count;
  const chunks = info.chunks ?? info.count;
  const label = `${docs.toLocaleString()} document${docs === 1 ? "" : "s"}`;
  return chunks === docs ? label : `${label} · ${chunks.toLocaleString()} chunks`;
}
