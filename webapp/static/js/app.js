// The page: sign in with an API key, submit image jobs, and watch the history live.
// All state comes from the API, so a reload shows exactly what the server knows.

import { Api, keyStore } from "./api.js";
import { JobList } from "./joblist.js";
import { ThumbnailCache, Viewer, artifact, saveArtifact } from "./media.js";
import { Poller } from "./poller.js";

const $ = (id) => document.getElementById(id);
const viewer = new Viewer(null, showBanner);
let session = null; // { api, list, poller, thumbnails } while signed in

// --- Session -----------------------------------------------------------------------

async function startSession(key) {
  const api = new Api(key);
  await api.listJobs({ limit: 1 }); // proves the key before we keep it
  keyStore.save(key);
  const thumbnails = new ThumbnailCache(api);
  const list = new JobList({ api, thumbnails });
  const poller = new Poller({
    api,
    list,
    onUnauthorized: () => signOut("Your API key is no longer accepted. Sign in again."),
    onTrouble: (error) => showBanner(error && `${error.message} Retrying…`),
    onLive: (live) => { $("live").hidden = !live; },
  });
  session = { api, list, poller, thumbnails };
  viewer.api = api;
  show("workspace");
  $("session-key").textContent = `Key ${key.slice(0, 7)}…`;
  $("session").hidden = false;
  await reloadList();
  poller.start();
}

function signOut(message = "") {
  if (session) {
    session.poller.stop();
    session.list.clear();
    session = null;
  }
  if (viewer.dialog.open) viewer.dialog.close();
  keyStore.clear();
  $("session").hidden = true;
  $("api-key").value = "";
  $("signin-error").textContent = message;
  show("signin");
  $("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  const error = $("signin-error");
  error.textContent = key ? "" : "Enter your API key.";
  if (!key) return;
  const button = event.submitter || $("signin-form").querySelector("button");
  button.disabled = true;
  try {
    await startSession(key);
  } catch (failure) {
    error.textContent = failure.status === 401
      ? "That API key was not accepted. Check that you copied all of it."
      : failure.message;
  } finally {
    button.disabled = false;
  }
}

function show(view) {
  $("boot").hidden = true;
  $("signin").hidden = view !== "signin";
  $("workspace").hidden = view !== "workspace";
}

// --- The job list ------------------------------------------------------------------

async function reloadList() {
  const filters = { status: $("filter-status").value, kind: $("filter-kind").value };
  try {
    await session.list.reload(filters);
    showBanner(null);
  } catch (error) {
    if (error.status === 401) return signOut("Your API key is no longer accepted.");
    showBanner(`Could not load your jobs: ${error.message}`);
  }
  session?.poller.kick();
}

async function loadMore(event) {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await session.list.loadMore();
    session.poller.kick();
  } catch (error) {
    showBanner(`Could not load more jobs: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

function onListClick(event) {
  const card = event.target.closest("[data-job-id]");
  const job = card && session && session.list.job(card.dataset.jobId);
  if (!job) return;
  if (event.target.closest("[data-ref=thumb]")) viewer.open(job);
  const button = event.target.closest("[data-ref=download]");
  if (button) {
    button.disabled = true;
    saveArtifact(session.api, job, artifact(job, "image.png"))
      .catch((error) => showBanner(`Download failed: ${error.message}`))
      .finally(() => { button.disabled = false; });
  }
}

function showBanner(message) {
  const banner = $("list-error");
  banner.textContent = message || "";
  banner.hidden = !message;
}

// --- The composer ------------------------------------------------------------------

async function submitImage(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const prompt = $("prompt").value.trim();
  if (!prompt) return fieldError("input.prompt", "Write a prompt first.");
  const button = $("submit-image");
  const status = $("image-form-status");
  button.disabled = true;
  status.textContent = "Submitting…";
  try {
    const job = await session.api.submitJob({
      kind: "image",
      input: { prompt, size: $("size").value, quality: $("quality").value },
      priority: form.elements.priority.value,
    });
    $("prompt").value = "";
    updateCounter();
    const hidden = session.list.matches(job) ? "" : " (hidden by the current filter)";
    status.textContent = `Submitted job #${job.id.slice(0, 8)}${hidden}.`;
    session.list.upsert(job);
    session.poller.kick();
  } catch (error) {
    status.textContent = "";
    if (error.status === 401) return signOut("Your API key is no longer accepted.");
    const wait = error.retryAfterS ? ` Try again in ${Math.ceil(error.retryAfterS)} s.` : "";
    if (!error.field || !fieldError(error.field, error.message)) {
      $("image-form-error").textContent = `${error.message}${wait}`;
    }
  } finally {
    button.disabled = false;
  }
}

/** Show `message` under the field the API named; false if the form has no such field. */
function fieldError(field, message) {
  const wrapper = document.querySelector(`#panel-image [data-field="${CSS.escape(field)}"]`);
  if (!wrapper) return false;
  const prefix = `${field}: `; // the API prefixes messages with the field's path
  wrapper.querySelector(".field-error").textContent = message.startsWith(prefix)
    ? message.slice(prefix.length)
    : message;
  wrapper.classList.add("has-error");
  const control = wrapper.querySelector("textarea, select, input");
  control.setAttribute("aria-invalid", "true");
  control.focus();
  return true;
}

function clearErrors(form) {
  for (const wrapper of form.querySelectorAll(".has-error")) {
    wrapper.classList.remove("has-error");
    wrapper.querySelector(".field-error").textContent = "";
    wrapper.querySelector("[aria-invalid]")?.removeAttribute("aria-invalid");
  }
  $("image-form-error").textContent = "";
}

function updateCounter() {
  const prompt = $("prompt");
  $("prompt-count").textContent = `${prompt.value.length} / ${prompt.maxLength}`;
}

function setupTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const select = (tab) => {
    for (const each of tabs) {
      const selected = each === tab;
      each.setAttribute("aria-selected", String(selected));
      each.tabIndex = selected ? 0 : -1;
      $(each.getAttribute("aria-controls")).hidden = !selected;
    }
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  });
}

// --- Wiring --------------------------------------------------------------------------

function boot() {
  setupTabs();
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", (event) => {
    event.preventDefault();
    signOut();
  });
  $("panel-image").addEventListener("submit", submitImage);
  $("prompt").addEventListener("input", updateCounter);
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      $("panel-image").requestSubmit();
    }
  });
  for (const id of ["filter-status", "filter-kind"]) {
    $(id).addEventListener("change", () => session && reloadList());
  }
  $("load-more").addEventListener("click", loadMore);
  $("job-list").addEventListener("click", onListClick);
  updateCounter();

  const key = keyStore.load();
  if (!key) return show("signin");
  startSession(key).catch((error) => {
    if (error.status === 401) return signOut("Your saved API key is no longer accepted.");
    show("signin");
    $("api-key").value = key;
    $("signin-error").textContent = error.message;
  });
}

boot();
