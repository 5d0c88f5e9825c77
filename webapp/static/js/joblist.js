// The job history: what the server listed for the current filters, newest first,
// plus jobs submitted, polled or streamed since. The DOM is a view of `order` and `jobs`.

import { ACTIVE } from "./api.js";
import { createCard, renderCard, renderEta } from "./render.js";

const PAGE_SIZE = 20;
const PAGE_SIZE_MAX = 100; // the API's largest page
const TICK_MS = 1000; // how often the "≈ 12 s left" estimates count down

export class JobList {
  constructor({ api }) {
    this.api = api;
    this.container = document.getElementById("job-list");
    this.empty = document.getElementById("empty");
    this.more = document.getElementById("load-more");
    this.filters = { status: "", kind: "" };
    this.jobs = new Map(); // id -> job JSON
    this.cards = new Map(); // id -> { element, signature }
    this.etas = new Map(); // id -> { seconds, at }: an estimate and when it last changed
    this.order = []; // ids shown, newest first
    this.nextCursor = null;
    this.generation = 0; // bumped on every reset, so late answers are dropped
    this.loaded = false;
    this.dirty = new Set(); // ids changed by events, drawn on the next frame
    this.ticker = null;
  }

  job(id) {
    return this.jobs.get(id) || null;
  }

  isActive(id) {
    const job = this.jobs.get(id);
    return Boolean(job && ACTIVE.has(job.status));
  }

  /** Ids of active jobs on show: running ones first (their progress moves), then queued. */
  activeIds() {
    const active = this.order.filter((id) => this.isActive(id));
    const running = active.filter((id) => this.jobs.get(id).status === "processing");
    return [...running, ...active.filter((id) => !running.includes(id))];
  }

  /** Start over with new filters: the first page from the server. */
  async reload(filters = this.filters) {
    this.filters = { ...filters };
    const generation = ++this.generation;
    this.container.setAttribute("aria-busy", "true");
    try {
      const page = await this.api.listJobs({ ...this.filters, limit: PAGE_SIZE });
      if (generation !== this.generation) return;
      this.loaded = true;
      this.replace(page.data, [], page.next_cursor);
    } finally {
      if (generation === this.generation) this.container.setAttribute("aria-busy", "false");
    }
  }

  /** Re-read every job on show in one request (the window grows with "Load more"). */
  async refresh() {
    const generation = this.generation;
    const limit = Math.min(PAGE_SIZE_MAX, Math.max(PAGE_SIZE, this.order.length));
    const page = await this.api.listJobs({ ...this.filters, limit });
    if (generation !== this.generation) return;
    const fresh = new Set(page.data.map((job) => job.id));
    const beyond = this.order.slice(limit).filter((id) => !fresh.has(id));
    this.replace(page.data, beyond, beyond.length ? this.nextCursor : page.next_cursor);
  }

  async loadMore() {
    if (!this.nextCursor) return;
    const generation = this.generation;
    const page = await this.api.listJobs({ ...this.filters, limit: PAGE_SIZE, cursor: this.nextCursor });
    if (generation !== this.generation) return;
    for (const job of page.data) {
      this.set(job);
      if (!this.order.includes(job.id)) this.order.push(job.id);
    }
    this.nextCursor = page.next_cursor;
    this.render();
  }

  /** A job from a poll or a submit: update its card, or add it if the filters let it in. */
  upsert(job) {
    if (!this.order.includes(job.id)) {
      if (!this.matches(job)) return;
      const created = Date.parse(job.created_at);
      const older = this.order.findIndex((id) => Date.parse(this.jobs.get(id).created_at) < created);
      this.order.splice(older === -1 ? this.order.length : older, 0, job.id);
    }
    this.set(job);
    this.render();
  }

  /** A status, stage or progress event of an active job, from its stream. */
  applyEvent(id, data) {
    const job = this.jobs.get(id);
    if (job && ACTIVE.has(job.status)) this.patch(withEvent(job, data));
  }

  /** A pending job's new place in the queue, from its stream. */
  applyQueue(id, { queue_position, eta_seconds }) {
    const job = this.jobs.get(id);
    if (job && job.status === "pending") this.patch({ ...job, queue_position, eta_seconds });
  }

  /** Store an update and draw its card on the next frame, so a burst costs one render. */
  patch(job) {
    this.set(job);
    if (!this.cards.has(job.id)) return;
    if (!this.dirty.size) requestAnimationFrame(() => this.drawDirty());
    this.dirty.add(job.id);
  }

  drawDirty() {
    for (const id of this.dirty) if (this.cards.has(id)) this.card(id);
    this.dirty.clear();
  }

  remove(id) {
    this.order = this.order.filter((each) => each !== id);
    this.render();
  }

  clear() {
    this.generation++;
    this.loaded = false;
    this.replace([], [], null);
  }

  matches(job) {
    const { status, kind } = this.filters;
    return (!status || job.status === status) && (!kind || job.kind === kind);
  }

  replace(jobs, keepIds, cursor) {
    for (const job of jobs) this.set(job);
    this.order = [...jobs.map((job) => job.id), ...keepIds];
    this.nextCursor = cursor;
    this.render();
  }

  set(job) {
    this.jobs.set(job.id, job);
    // The server's estimate only moves with progress; between moves we count it down here.
    const known = this.etas.get(job.id);
    if (job.eta_seconds == null || !ACTIVE.has(job.status)) this.etas.delete(job.id);
    else if (!known || known.seconds !== job.eta_seconds) {
      this.etas.set(job.id, { seconds: job.eta_seconds, at: performance.now() });
    }
  }

  /** Seconds left by the latest estimate, counted down since it came; null if unknown. */
  etaLeft(id) {
    const eta = this.etas.get(id);
    return eta ? eta.seconds - (performance.now() - eta.at) / 1000 : null;
  }

  render() {
    const shown = new Set(this.order);
    for (const [id, card] of this.cards) {
      if (shown.has(id)) continue;
      card.element.remove();
      this.cards.delete(id);
      this.jobs.delete(id);
      this.etas.delete(id);
    }
    let previous = null;
    for (const id of this.order) {
      const element = this.card(id);
      const expected = previous ? previous.nextElementSibling : this.container.firstElementChild;
      // Move a card only when it is out of place, so focus and images stay put.
      if (expected !== element) {
        if (previous) previous.after(element);
        else this.container.prepend(element);
      }
      previous = element;
    }
    this.renderEmpty();
    this.more.hidden = !this.nextCursor;
  }

  card(id) {
    const job = this.jobs.get(id);
    let card = this.cards.get(id);
    if (!card) {
      card = { element: createCard(job), signature: "" };
      this.cards.set(id, card);
    }
    const signature = JSON.stringify(job);
    if (signature !== card.signature) {
      renderCard(card.element, job, this.etaLeft(id));
      card.signature = signature;
    }
    this.tickWhileCounting();
    return card.element;
  }

  tickWhileCounting() {
    if (this.etas.size && !this.ticker) {
      this.ticker = setInterval(() => this.tick(), TICK_MS);
    } else if (!this.etas.size && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  tick() {
    for (const id of this.etas.keys()) {
      const card = this.cards.get(id);
      if (card) renderEta(card.element, this.jobs.get(id), this.etaLeft(id));
    }
    this.tickWhileCounting();
  }

  renderEmpty() {
    this.empty.hidden = !this.loaded || this.order.length > 0;
    const { status, kind } = this.filters;
    const what = [status, kind].filter(Boolean).join(" ");
    document.getElementById("empty-text").textContent = what
      ? `No ${what} jobs. Try another filter.`
      : "Submit a prompt and it shows up here while it runs.";
    this.empty.querySelector(".empty-title").textContent = what
      ? "Nothing matches"
      : "No jobs yet";
  }
}

/** The job after a stream event; stage chips are inferred, as events name only the stage. */
export function withEvent(job, data) {
  const next = {
    ...job,
    status: data.status,
    stage: data.stage,
    progress: data.progress,
    message: data.message,
    eta_seconds: data.eta_seconds ?? null,
    error: data.error ?? null,
    queue_position: data.status === "pending" ? job.queue_position : null,
  };
  const at = (job.stages || []).findIndex((stage) => stage.name === data.stage);
  if (at === -1) return next;
  const current = data.status === "processing" ? "running" : "pending";
  next.stages = job.stages.map((stage, index) => {
    const status = index < at ? "completed" : index === at ? current : "pending";
    return status === stage.status ? stage : { ...stage, status };
  });
  return next;
}
