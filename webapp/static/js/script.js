// Script jobs: the form (a novel pasted, or uploaded as a .txt file), the result on the
// job card, and the screenplay reader. Text from the server or the novel only ever
// reaches the page as text nodes: the Markdown is parsed here, never given to innerHTML.

import { clearErrors, sendJob, showFieldError } from "./forms.js";
import { artifact, linkDownload } from "./media.js";

const $ = (id) => document.getElementById(id);

/** The API's field names (JSON or multipart) -> the form's data-field wrappers. */
const FIELDS = {
  "input.text": "novel",
  novel: "novel",
  "input.style": "style",
  style: "style",
  "input.episodes": "episodes",
  episodes: "episodes",
  "input.language": "language",
  language: "language",
};

/**
 * Wire the script form. submit(body) posts JSON or FormData (multipart) and answers the
 * job; isShown(job) and onUnauthorized() as for the image form.
 */
export function setupScriptForm(handlers) {
  const form = $("panel-script");
  if (!form) return; // the server does not offer script jobs
  const viewer = new ScreenplayViewer();
  form.addEventListener("submit", (event) => submitScript(event, handlers));
  $("novel-text").addEventListener("input", updateCount);
  $("novel-file").addEventListener("change", showFile);
  $("novel-file-clear").addEventListener("click", () => {
    $("novel-file").value = "";
    showFile();
  });
  document.getElementById("job-list").addEventListener("click", (event) => {
    const button = event.target.closest("[data-screenplay]");
    const card = button && button.closest("[data-job-id]");
    if (card) viewer.open(button.jobRef);
  });
  updateCount();
}

async function submitScript(event, { submit, isShown, onUnauthorized }) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form, $("script-form-error"));
  const file = $("novel-file").files[0];
  const text = $("novel-text").value;
  if (!file && !text.trim()) {
    return showFieldError(form, "novel", "Paste the novel or choose a .txt file.", FIELDS);
  }
  const options = {
    style: $("script-style").value.trim(),
    episodes: $("script-episodes").value.trim(),
    language: $("script-language").value,
  };
  const parts = {
    form,
    button: $("submit-script"),
    status: $("script-form-status"),
    formError: $("script-form-error"),
    busyText: file ? "Uploading…" : "Submitting…",
    names: FIELDS,
    isShown,
    onUnauthorized,
  };
  const body = file ? asFormData(file, options) : asJson(text, options);
  await sendJob(parts, () => submit(body), () => {
    $("novel-text").value = "";
    $("novel-file").value = "";
    showFile();
    updateCount();
  });
}

function asJson(text, { style, episodes, language }) {
  const input = { text };
  if (style) input.style = style;
  if (episodes) input.episodes = Number(episodes); // a non-number is the server's 422 to name
  if (language) input.language = language;
  return { kind: "script", input };
}

function asFormData(file, { style, episodes, language }) {
  const data = new FormData();
  data.set("kind", "script");
  data.set("novel", file, file.name);
  for (const [name, value] of Object.entries({ style, episodes, language })) {
    if (value) data.set(name, value);
  }
  return data;
}

function updateCount() {
  const count = $("novel-text").value.length;
  $("novel-count").textContent = `${count.toLocaleString()} characters`;
}

function showFile() {
  const file = $("novel-file").files[0];
  $("novel-file-name").textContent = file ? `${file.name} (${Math.ceil(file.size / 1024)} KB)` : "";
  $("novel-file-clear").hidden = !file;
  $("novel-text").disabled = Boolean(file); // the file wins: say so by greying the text out
}

// --- The result on the card -------------------------------------------------------------

/** Fill the card's result slot for a finished script job (empty for anything else). */
export function renderScriptResult(slot, job) {
  const markdown = job.status === "completed" ? artifact(job, "screenplay.md") : null;
  slot.hidden = !markdown;
  if (!markdown) return slot.replaceChildren();
  const result = job.result || {};
  const summary = document.createElement("span");
  summary.className = "script-summary";
  summary.textContent = [
    result.title,
    plural(result.scenes, "scene"),
    plural(result.episodes, "episode"),
    plural((result.characters || []).length, "character"),
  ].filter(Boolean).join(" · ");
  const read = document.createElement("button");
  read.type = "button";
  read.className = "btn btn-small btn-primary";
  read.textContent = "Read screenplay";
  read.dataset.screenplay = "read";
  read.dataset.testid = "read-screenplay";
  read.jobRef = job;
  const links = [["screenplay.md", ".md"], ["screenplay.json", ".json"]].map(([name, label]) => {
    const file = artifact(job, name);
    const link = document.createElement("a");
    link.className = "btn btn-small";
    link.textContent = label;
    link.dataset.testid = `download-${name}`;
    if (file) linkDownload(link, job, file);
    return link;
  });
  const actions = document.createElement("span");
  actions.className = "job-actions";
  actions.append(read, ...links);
  slot.replaceChildren(summary, actions);
}

function plural(count, word) {
  return Number.isFinite(count) ? `${count} ${word}${count === 1 ? "" : "s"}` : "";
}

// --- The reader ---------------------------------------------------------------------------

class ScreenplayViewer {
  constructor() {
    this.dialog = $("screenplay-viewer");
    this.body = $("screenplay-body");
    $("screenplay-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  async open(job) {
    const markdown = artifact(job, "screenplay.md");
    if (!markdown) return;
    const result = job.result || {};
    $("screenplay-title").textContent = result.title || "Screenplay";
    $("screenplay-meta").textContent = result.provider ? `by ${result.provider}` : "";
    linkDownload($("screenplay-download-md"), job, markdown);
    linkDownload($("screenplay-download-json"), job, artifact(job, "screenplay.json"));
    this.body.replaceChildren(note("Loading…"));
    this.dialog.showModal();
    try {
      const response = await fetch(markdown.url, { cache: "no-store" });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      this.body.replaceChildren(renderMarkdown(await response.text()));
    } catch (error) {
      this.body.replaceChildren(note(`Could not load the screenplay: ${error.message}`));
    }
  }
}

function note(text) {
  const p = document.createElement("p");
  p.className = "sp-note";
  p.textContent = text;
  return p;
}

/** The screenplay Markdown (the subset tasks/screenplay.py writes) as DOM nodes. */
export function renderMarkdown(source) {
  const root = document.createDocumentFragment();
  let list = null;
  for (const line of source.split("\n")) {
    if (!line.startsWith("- ")) list = null;
    const heading = /^(#{1,3}) (.*)$/.exec(line);
    if (heading) {
      const element = document.createElement(`h${heading[1].length + 1}`);
      element.append(inline(heading[2]));
      root.append(element);
    } else if (line.startsWith("- ")) {
      if (!list) root.append((list = document.createElement("ul")));
      const item = document.createElement("li");
      item.append(inline(line.slice(2)));
      list.append(item);
    } else if (/^_.*[^\\]_$/.test(line)) {
      const element = document.createElement("p");
      element.className = "sp-note";
      element.append(inline(line.slice(1, -1)));
      root.append(element);
    } else if (line.trim()) {
      const element = document.createElement("p");
      if (line.startsWith("**")) element.className = "sp-line";
      element.append(inline(line));
      root.append(element);
    }
  }
  return root;
}

/** Backslash escapes and **bold**; everything else is text. */
function inline(source) {
  const root = document.createDocumentFragment();
  let target = root;
  let buffer = "";
  const flush = () => {
    if (buffer) target.append(buffer); // a string becomes a text node: never markup
    buffer = "";
  };
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === "\\" && i + 1 < source.length) {
      buffer += source[++i];
    } else if (ch === "*" && source[i + 1] === "*") {
      flush();
      i++;
      target = target === root ? root.appendChild(document.createElement("strong")) : root;
    } else {
      buffer += ch;
    }
  }
  flush();
  return root;
}
