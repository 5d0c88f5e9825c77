// Live updates, only while something is active and the tab is visible: active jobs are
// streamed (streams.js) as far as the browser's connection budget allows; the others,
// and any whose stream fails, are re-read with If-None-Match at the pace Retry-After asks.
// While some job is not streamed, the whole list is also re-read every LIST_EVERY_MS
// to pick up queue moves and jobs submitted elsewhere.

import { JobStreams } from "./streams.js";

const FALLBACK_S = 2; // when the server sends no Retry-After
const LIST_EVERY_MS = 10_000;
const MAX_POLLED = 10; // jobs polled one by one; the rest ride on the list refresh
const MAX_BACKOFF_S = 30;
const IN_FLIGHT = "in-flight";

export class LiveUpdates {
  constructor({ api, list, onUnauthorized, onTrouble, onLive }) {
    this.api = api;
    this.list = list;
    this.onUnauthorized = onUnauthorized;
    this.onTrouble = onTrouble;
    this.onLive = onLive;
    this.streams = new JobStreams({
      onChange: (id, data) => this.list.applyEvent(id, data),
      onQueue: (id, data) => this.list.applyQueue(id, data),
      onFinal: (id) => this.pollNow(id), // for the result, and in case it was retried since
      onGiveUp: (id) => this.pollNow(id), // we saw nothing for a while: look at once
    });
    this.timers = new Map(); // job id -> timeout id, or IN_FLIGHT while its request runs
    this.etags = new Map(); // job id -> last ETag seen
    this.listTimer = null;
    this.failures = 0;
    this.enabled = false;
    this.generation = 0; // bumped by pause/stop so answers from before are dropped
    this.onVisibility = () => (document.hidden ? this.pause() : this.resume());
  }

  start() {
    if (this.enabled) return;
    this.enabled = true;
    document.addEventListener("visibilitychange", this.onVisibility);
    this.kick();
  }

  stop() {
    this.enabled = false;
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.pause();
    this.streams.forget();
    this.etags.clear();
  }

  /** Look again at what is active: follow what newly is, drop what no longer is. */
  kick() {
    if (!this.enabled || document.hidden) return;
    const active = this.list.activeIds();
    const streamed = this.streams.sync(active);
    const polled = new Set(active.filter((id) => !streamed.has(id)).slice(0, MAX_POLLED));
    for (const [id, timer] of this.timers) {
      if (polled.has(id) || timer === IN_FLIGHT) continue;
      clearTimeout(timer);
      this.timers.delete(id);
    }
    for (const id of streamed) this.etags.delete(id); // the stream moves the job past it
    for (const id of polled) if (!this.timers.has(id)) this.scheduleJob(id, FALLBACK_S);
    const uncovered = active.length > streamed.size;
    if (uncovered && !this.listTimer) {
      this.listTimer = setTimeout(() => this.pollList(), LIST_EVERY_MS);
    } else if (!uncovered && this.listTimer) {
      clearTimeout(this.listTimer);
      this.listTimer = null;
    }
    this.onLive(active.length > 0);
  }

  pause() {
    this.generation++;
    this.streams.closeAll();
    for (const timer of this.timers.values()) if (timer !== IN_FLIGHT) clearTimeout(timer);
    this.timers.clear();
    clearTimeout(this.listTimer);
    this.listTimer = null;
    this.onLive(false);
  }

  async resume() {
    if (!this.enabled || document.hidden) return;
    // Catch up on everything that happened while hidden in one request, then go on.
    await this.guard(() => this.list.refresh());
    this.kick();
  }

  scheduleJob(id, delayS) {
    this.timers.set(id, setTimeout(() => this.pollJob(id), delayS * 1000));
  }

  /** Re-read one job at once (after its stream ended, or a 409 on a button). */
  pollNow(id) {
    const timer = this.timers.get(id);
    if (timer === IN_FLIGHT) return;
    clearTimeout(timer);
    this.pollJob(id);
  }

  async pollJob(id) {
    const generation = this.generation;
    this.timers.set(id, IN_FLIGHT);
    let delayS = FALLBACK_S;
    try {
      const answer = await this.api.getJob(id, this.etags.get(id));
      if (generation !== this.generation) return;
      this.failures = 0;
      this.onTrouble(null);
      if (answer.etag) this.etags.set(id, answer.etag);
      if (answer.job) this.list.upsert(answer.job);
      this.streams.settled(id);
      delayS = answer.retryAfterS ?? FALLBACK_S;
    } catch (error) {
      if (generation !== this.generation) return;
      if (error.status === 404) {
        this.list.remove(id); // gone (expired) since we listed it
        this.streams.settled(id);
      }
      if (!this.handle(error)) return;
      delayS = this.backoff();
    }
    this.timers.delete(id);
    if (this.enabled && this.list.isActive(id)) this.scheduleJob(id, delayS);
    else this.etags.delete(id);
    this.kick();
  }

  async pollList() {
    this.listTimer = null;
    const generation = this.generation;
    const ok = await this.guard(() => this.list.refresh());
    if (generation !== this.generation) return;
    if (!ok && !this.listTimer) {
      this.listTimer = setTimeout(() => this.pollList(), this.backoff() * 1000);
    }
    this.kick();
  }

  async guard(work) {
    try {
      await work();
      this.failures = 0;
      this.onTrouble(null);
      return true;
    } catch (error) {
      this.handle(error);
      return false;
    }
  }

  /** Report a failed request; false when updates must stop (the key was refused). */
  handle(error) {
    if (error.status === 401) {
      this.stop();
      this.onUnauthorized();
      return false;
    }
    if (error.status !== 404) {
      this.failures++;
      this.onTrouble(error);
    }
    return true;
  }

  backoff() {
    return Math.min(MAX_BACKOFF_S, FALLBACK_S * 2 ** this.failures);
  }
}
