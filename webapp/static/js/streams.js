// Live updates over Server-Sent Events: one EventSource per active job, a few at a time.
// The server ends a stream after a final status; we close it ourselves on that event,
// or EventSource would reconnect. A stream that keeps failing hands its job to polling.

import { FINAL, jobUrl } from "./api.js";

const MAX_STREAMS = 4; // browsers allow ~6 HTTP/1.1 connections per origin; fetches need some
const MAX_ERRORS = 2; // errors in a row, with no message between them, before polling instead
const CHANGES = ["status", "stage", "progress"];

export class JobStreams {
  /**
   * onChange(id, data): a numbered event of an active job (never a final status);
   * onQueue(id, data): {queue_position, eta_seconds} of a pending job;
   * onFinal(id): the job reached a final status (re-read it for the result);
   * onGiveUp(id): the stream failed; poll this job instead.
   */
  constructor({ onChange, onQueue, onFinal, onGiveUp }) {
    Object.assign(this, { onChange, onQueue, onFinal, onGiveUp });
    this.streams = new Map(); // job id -> EventSource
    this.seqs = new Map(); // job id -> last event id seen, to resume without a replay
    this.polled = new Set(); // job ids whose streams failed
    this.ended = new Set(); // job ids whose final status came but is not yet re-read
  }

  /** Stream what we may of `ids` (best first), stop streaming the rest of the jobs we had. */
  sync(ids) {
    const wanted = new Set(ids);
    for (const id of [...this.streams.keys()]) if (!wanted.has(id)) this.close(id);
    for (const id of ids) {
      if (this.streams.size >= MAX_STREAMS) break;
      if (!this.streams.has(id) && !this.polled.has(id) && !this.ended.has(id)) this.open(id);
    }
    for (const done of [this.polled, this.ended]) {
      for (const id of [...done]) if (!wanted.has(id)) done.delete(id);
    }
    return new Set(this.streams.keys());
  }

  /** The job was re-read after its final status: it may stream again (it was retried). */
  settled(id) {
    this.ended.delete(id);
  }

  closeAll() {
    for (const id of [...this.streams.keys()]) this.close(id);
  }

  close(id) {
    this.streams.get(id)?.close();
    this.streams.delete(id);
  }

  forget() {
    this.closeAll();
    this.seqs.clear();
    this.polled.clear();
    this.ended.clear();
  }

  open(id) {
    const seq = this.seqs.get(id);
    const source = new EventSource(jobUrl(id, seq ? `/events?last_event_id=${seq}` : "/events"));
    let errors = 0;
    const onChange = (event) => {
      errors = 0;
      if (event.lastEventId) this.seqs.set(id, Number(event.lastEventId));
      const data = JSON.parse(event.data);
      if (!FINAL.has(data.status)) return this.onChange(id, data);
      this.close(id);
      this.ended.add(id);
      this.onFinal(id);
    };
    for (const type of CHANGES) source.addEventListener(type, onChange);
    source.addEventListener("queue", (event) => {
      errors = 0;
      this.onQueue(id, JSON.parse(event.data));
    });
    source.addEventListener("error", () => {
      // CLOSED: the server refused (401, 404...); else EventSource is about to reconnect.
      if (source.readyState !== EventSource.CLOSED && ++errors < MAX_ERRORS) return;
      this.close(id);
      this.polled.add(id);
      this.onGiveUp(id);
    });
    this.streams.set(id, source);
  }
}
