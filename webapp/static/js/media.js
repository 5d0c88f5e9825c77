// Result files: they need the Bearer header, so we fetch them as blobs and hand the
// page object URLs, which we revoke as soon as nothing shows them any more.

export function artifact(job, name) {
  const artifacts = (job.result && job.result.artifacts) || [];
  return artifacts.find((a) => a.name === name) || null;
}

/** Object URLs of thumbnails, one per job, shared across re-renders of its card. */
export class ThumbnailCache {
  constructor(api) {
    this.api = api;
    this.urls = new Map(); // job id -> Promise<object URL>
  }

  load(jobId, url) {
    if (!this.urls.has(jobId)) {
      const pending = this.api.fetchBlob(url).then((blob) => URL.createObjectURL(blob));
      pending.catch(() => this.urls.delete(jobId)); // let a later render try again
      this.urls.set(jobId, pending);
    }
    return this.urls.get(jobId);
  }

  forget(jobId) {
    const pending = this.urls.get(jobId);
    this.urls.delete(jobId);
    if (pending) pending.then(URL.revokeObjectURL, () => {});
  }

  forgetAllBut(keep) {
    for (const jobId of [...this.urls.keys()]) if (!keep.has(jobId)) this.forget(jobId);
  }
}

export function downloadName(job, file) {
  const dot = file.name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [file.name.slice(0, dot), file.name.slice(dot)] : [file.name, ""];
  return `${job.kind}-${job.id.slice(0, 8)}-${stem}${ext}`;
}

/** Save a result file: fetch it with the key, then click a temporary <a download>. */
export async function saveArtifact(api, job, file) {
  const blob = await api.fetchBlob(`${file.url}?download=1`);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = downloadName(job, file);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the blob once the download starts; free it shortly after.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The full-size image dialog. */
export class Viewer {
  constructor(api, onError) {
    this.api = api;
    this.onError = onError;
    this.dialog = document.getElementById("viewer");
    this.image = document.getElementById("viewer-image");
    this.job = null;
    this.url = null;
    document.getElementById("viewer-close").addEventListener("click", () => this.dialog.close());
    document.getElementById("viewer-download").addEventListener("click", () => this.download());
    this.dialog.addEventListener("close", () => this.release());
    // A click on the backdrop (the dialog box itself, outside its content) closes it.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  async open(job) {
    const file = artifact(job, "image.png");
    if (!file) return;
    this.release();
    this.job = job;
    const result = job.result || {};
    document.getElementById("viewer-title").textContent = job.input.prompt || "Result";
    document.getElementById("viewer-meta").textContent = [
      result.width && result.height ? `${result.width} × ${result.height}` : "",
      result.provider ? `by ${result.provider}` : "",
    ].filter(Boolean).join(" · ");
    this.image.removeAttribute("src");
    this.image.alt = `Generated image: ${job.input.prompt || ""}`;
    this.dialog.classList.add("is-loading");
    this.dialog.showModal();
    try {
      const url = URL.createObjectURL(await this.api.fetchBlob(file.url));
      if (this.job !== job || !this.dialog.open) return URL.revokeObjectURL(url);
      this.url = url;
      this.image.src = url;
    } catch (error) {
      this.dialog.close();
      this.onError(error);
    } finally {
      this.dialog.classList.remove("is-loading");
    }
  }

  async download() {
    const file = this.job && artifact(this.job, "image.png");
    if (file) await saveArtifact(this.api, this.job, file).catch(this.onError);
  }

  release() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    this.job = null;
    this.image.removeAttribute("src");
  }
}
