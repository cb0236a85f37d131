// The search page's script: text search as you type, image search by file, drop or paste, "more
// like this" and zero-shot labels for any result, over the server's own API (/v1/indexes,
// /v1/search, /v1/classify, /v1/thumbnails). Nothing is loaded from anywhere else.
const $ = (id) => document.getElementById(id);
const KEY = "clipembed-api-key";
let latest = 0;  // The newest search; answers to older ones are dropped.
let lastQuery = null;

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(json) {
  const h = json ? { "Content-Type": "application/json" } : {};
  const key = sessionStorage.getItem(KEY);
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

// One API call; a 503 (the model still loading) is retried after the server's Retry-After.
async function api(path, body, asBlob = false) {
  for (let attempt = 0; ; ++attempt) {
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.ok) return asBlob ? response.blob() : response.json();
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error.message;
    } catch { /* Not JSON: keep the status line. */ }
    if (response.status === 401) {
      $("key-form").hidden = false;
      $("key").focus();
      throw new ApiError(401, "This server needs an API key: enter it above.");
    }
    if (response.status === 503 && attempt < 30) {
      status("The model is loading; retrying…");
      const wait = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      continue;
    }
    throw new ApiError(response.status, message);
  }
}

function status(text) { $("status").textContent = text; }
function showError(error) {
  $("error").textContent = error instanceof Error ? error.message : String(error);
}

function indexName() { return $("index").value; }

async function search(query) {
  lastQuery = query;
  const id = ++latest;
  showError("");
  status("Searching…");
  try {
    const answer = await api("/v1/search", { index: indexName(), query, k: Number($("k").value) });
    if (id !== latest) return;
    status(`${answer.data.length} results`);
    render(answer.data);
  } catch (error) {
    if (id !== latest) return;
    status("");
    showError(error);
  }
}

function baseName(path) { return path.split(/[\\/]/).pop(); }

function render(hits) {
  const list = $("results");
  for (const img of list.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  list.replaceChildren(...hits.map(resultItem));
}

function resultItem(hit) {
  const item = document.createElement("li");
  item.className = "hit";
  item.dataset.path = hit.path;
  item.dataset.row = hit.row;
  const image = document.createElement("img");
  image.alt = baseName(hit.path);
  image.title = hit.path;
  loadThumbnail(image, hit.row);
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = baseName(hit.path);
  name.title = hit.path;
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = `score ${hit.score.toFixed(4)}`;
  const actions = document.createElement("div");
  actions.className = "actions";
  const more = button("More like this", `More like ${baseName(hit.path)}`,
                      () => search({ row: hit.row }));
  more.classList.add("more");
  const labels = document.createElement("ul");
  labels.setAttribute("aria-label", `Labels of ${baseName(hit.path)}`);
  const label = button("Labels", `Zero-shot labels of ${baseName(hit.path)}`,
                       () => classify(hit, labels));
  label.classList.add("label");
  actions.append(more, label);
  item.append(image, name, score, actions, labels);
  return item;
}

function button(text, name, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", name);
  b.addEventListener("click", action);
  return b;
}

async function loadThumbnail(image, row) {
  try {
    const blob = await api(`/v1/thumbnails/${encodeURIComponent(indexName())}/${row}?size=256`,
                           undefined, true);
    image.src = URL.createObjectURL(blob);
  } catch (error) {
    image.alt = `${image.alt} (no thumbnail: ${error.message})`;
  }
}

async function classify(hit, list) {
  const labels = $("labels").value.split(",").map((l) => l.trim()).filter((l) => l);
  if (labels.length === 0) {
    showError("Type some labels first (comma-separated), then ask for a result's labels.");
    $("labels").focus();
    return;
  }
  showError("");
  try {
    const answer = await api("/v1/classify", { index: indexName(), row: hit.row, labels, top_k: 3 });
    list.replaceChildren(...answer.data[0].labels.map((l) => {
      const li = document.createElement("li");
      li.textContent = `${l.label} ${l.score.toFixed(3)}`;
      return li;
    }));
  } catch (error) {
    showError(error);
  }
}

function searchImage(file) {
  if (!file || !file.type.startsWith("image/")) {
    showError("That is not an image file.");
    return;
  }
  const reader = new FileReader();
  reader.onload = () => search({ image: reader.result });  // A data: URI, base64 inside.
  reader.onerror = () => showError("The image could not be read.");
  reader.readAsDataURL(file);
}

async function start() {
  let timer = 0;
  $("query").addEventListener("input", () => {
    clearTimeout(timer);
    const text = $("query").value.trim();
    if (text) timer = setTimeout(() => search({ text }), 250);
  });
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    const text = $("query").value.trim();
    if (text) search({ text });
  });
  $("k").addEventListener("change", () => lastQuery && search(lastQuery));
  $("index").addEventListener("change", () => lastQuery && search(lastQuery));
  $("file").addEventListener("change", () => searchImage($("file").files[0]));
  const drop = $("drop");
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  document.addEventListener("dragleave", () => drop.classList.remove("over"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    searchImage(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const file = [...event.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) searchImage(file);
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("key").value);
    $("key-form").hidden = true;
    loadIndexes();
  });
  await loadIndexes();
}

async function loadIndexes() {
  try {
    const answer = await api("/v1/indexes");
    const select = $("index");
    select.replaceChildren(...answer.data.map((index) => {
      const option = document.createElement("option");
      option.value = index.name;
      option.textContent = `${index.name} (${index.count} images, ${index.model})`;
      return option;
    }));
    $("index-field").hidden = answer.data.length < 2;
    const first = answer.data[0];
    $("about").textContent = answer.data.length === 0 ? "No index is served."
      : `Index ${first.name}: ${first.count} images, model ${first.model}.`;
    document.body.dataset.ready = "true";
  } catch (error) {
    $("about").textContent = "";
    showError(error);
  }
}

start();
