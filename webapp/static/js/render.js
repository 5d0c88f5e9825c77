// Job cards: built from the <template id="job-card"> and filled from the job JSON.
// Only textContent is used for server data, so prompts can never inject markup.

import { ACTIVE } from "./api.js";
import { artifact, jobSummary, linkDownload, mainArtifact } from "./media.js";
import { renderScriptResult } from "./script.js";
import { renderTryon } from "./tryon.js";

const STATUS_LABELS = {
  pending: "Queued",
  processing: "Running",
  completed: "Completed",
  failed: "Failed",
  canceled: "Canceled",
};
const STAGE_ICONS = { pending: "○", running: "", completed: "✓", failed: "✕", canceled: "–" };
const PROMPT_EXCERPT = 240;

export function createCard(job) {
  const card = document.getElementById("job-card").content.firstElementChild.cloneNode(true);
  card.dataset.jobId = job.id;
  return card;
}

function ref(card, name) {
  return card.querySelector(`[data-ref="${name}"]`);
}

/** Fill `card` from `job`; `etaLeft` is the countdown of its estimate (null if none). */
export function renderCard(card, job, etaLeft) {
  card.dataset.status = job.status;
  card.setAttribute("aria-label", `${STATUS_LABELS[job.status] || job.status} ${job.kind} job`);
  const badge = ref(card, "badge");
  badge.textContent = STATUS_LABELS[job.status] || job.status;
  badge.className = `badge badge-${job.status}`;
  ref(card, "kind").textContent = job.kind;
  ref(card, "id").textContent = `#${job.id.slice(0, 8)}`;
  ref(card, "id").title = job.id;
  const created = ref(card, "created");
  created.dateTime = job.created_at;
  created.textContent = formatTime(job.created_at);
  created.title = new Date(job.created_at).toLocaleString();
  ref(card, "prompt").textContent = excerpt(jobSummary(job));

  const progress = ref(card, "progress");
  const percent = job.status === "completed" ? 100 : clamp(job.progress || 0, 0, 100);
  progress.setAttribute("aria-valuenow", String(percent));
  progress.setAttribute("aria-label", `Progress ${percent}%`);
  ref(card, "progress-fill").style.width = `${percent}%`;
  renderStages(ref(card, "stages"), job.stages || []);

  ref(card, "message").textContent = ACTIVE.has(job.status) ? job.message || "" : "";
  ref(card, "queue").textContent = job.queue_position != null
    ? `#${job.queue_position} in queue`
    : "";
  renderEta(card, job, etaLeft);
  renderError(card, job.error);
  ref(card, "meta").textContent = metaLine(job);
  renderActions(card, job);
  renderThumbnail(card, job);
  if (job.kind === "tryon") renderTryon(ref(card, "extra"), job);
  renderScriptResult(ref(card, "result"), job);
}

/** The "≈ 12 s left" part, counted down between the server's estimates. */
export function renderEta(card, job, secondsLeft) {
  let text = "";
  if (ACTIVE.has(job.status) && secondsLeft != null) {
    if (secondsLeft >= 1) text = `≈ ${roughly(secondsLeft)} left`;
    else if (job.status === "processing") text = "almost done";
  }
  const eta = ref(card, "eta");
  if (eta.textContent !== text) eta.textContent = text;
}

function renderActions(card, job) {
  ref(card, "cancel").hidden = !ACTIVE.has(job.status);
  ref(card, "retry").hidden = job.status !== "failed" && job.status !== "canceled";
  // A long novel comes back cut (input.text_chars): re-running it would send the excerpt.
  ref(card, "rerun").hidden = job.status !== "completed" || job.input?.text_chars != null;
  const file = job.status === "completed" ? mainArtifact(job) : null;
  const download = ref(card, "download");
  download.hidden = !file;
  if (file) linkDownload(download, job, file);
  else download.removeAttribute("href");
}

function renderStages(list, stages) {
  const items = stages.map((stage) => {
    const item = document.createElement("li");
    item.className = `stage stage-${stage.status}`;
    const icon = document.createElement("span");
    icon.className = "stage-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = STAGE_ICONS[stage.status] ?? "";
    const name = document.createElement("span");
    name.className = "stage-name";
    name.textContent = stage.name;
    item.append(icon, name);
    const took = duration(stage.started_at, stage.finished_at);
    if (took) {
      const time = document.createElement("span");
      time.className = "stage-time";
      time.textContent = took;
      item.append(time);
    }
    if (stage.attempts > 1) {
      const tries = document.createElement("span");
      tries.className = "stage-tries";
      tries.textContent = `×${stage.attempts}`;
      tries.title = `${stage.attempts} attempts`;
      item.append(tries);
    }
    item.title = `${stage.name}: ${stage.status}${took ? ` in ${took}` : ""}`;
    return item;
  });
  list.replaceChildren(...items);
}

function renderError(card, error) {
  const box = ref(card, "error");
  box.hidden = !error;
  if (!error) return;
  ref(card, "error-code").textContent = error.code || "error";
  const hint = error.retryable ? " (a temporary problem)" : "";
  ref(card, "error-message").textContent = `${error.message || "The job failed."}${hint}`;
}

function renderThumbnail(card, job) {
  const file = job.status === "completed" ? artifact(job, "thumbnail.png") : null;
  const button = ref(card, "thumb");
  const image = ref(card, "thumb-img");
  if (!file) {
    button.hidden = true;
    ref(card, "placeholder").hidden = false;
    image.removeAttribute("src"); // a retried job's next result must load afresh
    return;
  }
  if (image.getAttribute("src") === file.url) return;
  // Shown once it has loaded; until then (or if it cannot load) the placeholder stays.
  image.onload = () => {
    button.hidden = false;
    ref(card, "placeholder").hidden = true;
  };
  image.onerror = () => image.removeAttribute("src"); // tried again on the next render
  image.alt = `Preview of “${excerpt(jobSummary(job), 80)}”`;
  button.setAttribute("aria-label", "Open the full image");
  image.src = file.url;
}

function metaLine(job) {
  const parts = [];
  const result = job.result || {};
  if (result.width && result.height) parts.push(`${result.width} × ${result.height}`);
  else if (job.input && job.input.size) parts.push(job.input.size.replace("x", " × "));
  if (job.input && job.input.quality && job.input.quality !== "auto") {
    parts.push(`${job.input.quality} quality`);
  }
  if (job.priority && job.priority !== "default") parts.push(`${job.priority} priority`);
  if (result.provider) parts.push(result.provider);
  const took = duration(job.started_at || job.created_at, job.finished_at);
  if (took && !ACTIVE.has(job.status)) parts.push(`took ${took}`);
  return parts.map((part) => part.replaceAll(" ", "\u00a0")).join(" · "); // wrap between parts
}

export function excerpt(text, length = PROMPT_EXCERPT) {
  const flat = (text || "").replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1).trimEnd()}…` : flat;
}

function duration(start, end) {
  if (!start || !end) return "";
  const ms = new Date(end) - new Date(start);
  return Number.isFinite(ms) && ms >= 0 ? seconds(ms / 1000) : "";
}

function seconds(total) {
  if (total < 1) return `${Math.max(1, Math.round(total * 1000))} ms`;
  if (total < 10) return `${total.toFixed(1)} s`;
  if (total < 60) return `${Math.round(total)} s`;
  const minutes = Math.floor(total / 60);
  const rest = Math.round(total % 60);
  return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
}

/** An estimate as people say it: "12 s", "4 min", "1 h 5 min". */
function roughly(total) {
  if (total < 60) return `${Math.ceil(total)} s`;
  const minutes = Math.round(total / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function formatTime(iso) {
  const when = new Date(iso);
  const sameDay = when.toDateString() === new Date().toDateString();
  const options = sameDay
    ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
    : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  return when.toLocaleString(undefined, options);
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}
