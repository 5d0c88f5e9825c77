// The /api/v1 client: every call carries the Bearer key; errors become ApiError.
// The session cookie (POST /session) is for what cannot send a header: EventSource,
// <img> and download links. It authenticates reads only, so changes always use the key.

const KEY_STORAGE = "genjobs.apiKey";
export const API = "/api/v1";

export const ACTIVE = new Set(["pending", "processing"]);
export const FINAL = new Set(["completed", "failed", "canceled"]);

export class ApiError extends Error {
  constructor(status, code, message, { field = null, retryAfterS = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfterS = retryAfterS;
  }

  static async from(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON (a proxy's error page, say): fall back to the status text.
    }
    const error = body && body.error ? body.error : {};
    return new ApiError(
      response.status,
      error.code || "http_" + response.status,
      error.message || `The server answered ${response.status} ${response.statusText}`.trim(),
      { field: error.field || null, retryAfterS: retryAfter(response) },
    );
  }
}

export function retryAfter(response) {
  const seconds = Number.parseFloat(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

export const keyStore = {
  KEY: KEY_STORAGE,
  load: () => localStorage.getItem(KEY_STORAGE),
  save: (key) => localStorage.setItem(KEY_STORAGE, key),
  clear: () => localStorage.removeItem(KEY_STORAGE),
};

export function jobUrl(id, suffix = "") {
  return `${API}/jobs/${encodeURIComponent(id)}${suffix}`;
}

export class Api {
  constructor(key) {
    this.key = key;
  }

  async request(path, { method = "GET", json, form, headers = {} } = {}) {
    const init = {
      method,
      cache: "no-store", // we do our own revalidation with If-None-Match
      headers: { Accept: "application/json", Authorization: `Bearer ${this.key}`, ...headers },
    };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    }
    if (form !== undefined) init.body = form; // FormData: the browser sets the multipart type
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, "network_error", "Cannot reach the server; check your connection.");
    }
    if (!response.ok && response.status !== 304) throw await ApiError.from(response);
    return response;
  }

  /** Prove the key and get the session cookie; answers who we are and what we may ask for. */
  async startSession() {
    const response = await this.request(`${API}/session`, { method: "POST" });
    return response.json(); // { name, tier, priorities }
  }

  /** Drop the session cookie (best effort: the key is forgotten either way). */
  static async endSession() {
    await fetch(`${API}/session`, { method: "DELETE" }).catch(() => {});
  }

  async listJobs({ status = "", kind = "", limit = 20, cursor = null } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (status) query.set("status", status);
    if (kind) query.set("kind", kind);
    if (cursor) query.set("cursor", cursor);
    const response = await this.request(`${API}/jobs?${query}`);
    return response.json();
  }

  async submitJob(body) {
    const response = await this.request(`${API}/jobs`, { method: "POST", json: body });
    return response.json();
  }

  /** Submit a job as multipart/form-data (files such as a novel's .txt). */
  async submitJobForm(form) {
    const response = await this.request(`${API}/jobs`, { method: "POST", form });
    return response.json();
  }

  /** One job; `job` is null when the server answered 304 to our ETag. */
  async getJob(id, etag) {
    const headers = etag ? { "If-None-Match": etag } : {};
    const response = await this.request(jobUrl(id), { headers });
    return {
      job: response.status === 304 ? null : await response.json(),
      etag: response.headers.get("ETag") || etag,
      retryAfterS: retryAfter(response),
    };
  }

  async cancelJob(id) {
    const response = await this.request(jobUrl(id, "/cancel"), { method: "POST" });
    return response.json();
  }

  async retryJob(id) {
    const response = await this.request(jobUrl(id, "/retry"), { method: "POST" });
    return response.json();
  }
}
