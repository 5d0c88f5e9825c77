// Result files: plain URLs, since the session cookie lets <img> and links read them.

export function artifact(job, name) {
  const artifacts = (job.result && job.result.artifacts) || [];
  return artifacts.find((a) => a.name === name) || null;
}

/** kind -> the result file that a card's download and the viewer show. */
const MAIN_ARTIFACT = { image: "image.png", tryon: "tryon.png" };

export function mainArtifact(job) {
  return artifact(job, MAIN_ARTIFACT[job.kind] || "image.png");
}

/** What a job asks for, in one line: its prompt, its novel, or what a try-on is for. */
export function jobSummary(job) {
  const input = job.input || {};
  if (job.kind === "tryon") return input.occasion ? `Try-on for ${input.occasion}` : "Try-on";
  return input.prompt || input.text || "";
}

export function downloadName(job, file) {
  const dot = file.name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [file.name.slice(0, dot), file.name.slice(dot)] : [file.name, ""];
  return `${job.kind}-${job.id.slice(0, 8)}-${stem}${ext}`;
}

/** Point a link at a result file so that a click saves it (the server's file name wins). */
export function linkDownload(link, job, file) {
  link.href = `${file.url}?download=1`;
  link.download = downloadName(job, file);
}

/** The full-size image dialog. */
export class Viewer {
  constructor(onError) {
    this.onError = onError;
    this.dialog = document.getElementById("viewer");
    this.image = document.getElementById("viewer-image");
    this.download = document.getElementById("viewer-download");
    document.getElementById("viewer-close").addEventListener("click", () => this.close());
    this.dialog.addEventListener("close", () => this.image.removeAttribute("src"));
    // A click on the backdrop (the dialog box itself, outside its content) closes it.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.close();
    });
    const loaded = () => this.dialog.classList.remove("is-loading");
    this.image.addEventListener("load", loaded);
    this.image.addEventListener("error", () => {
      if (!this.image.getAttribute("src")) return; // cleared on close
      loaded();
      this.close();
      this.onError(new Error("Could not load the image."));
    });
  }

  open(job) {
    const file = mainArtifact(job);
    if (!file) return;
    const result = job.result || {};
    document.getElementById("viewer-title").textContent = jobSummary(job) || "Result";
    document.getElementById("viewer-meta").textContent = [
      result.width && result.height ? `${result.width} × ${result.height}` : "",
      result.provider ? `by ${result.provider}` : "",
    ].filter(Boolean).join(" · ");
    this.image.alt = `Generated image: ${jobSummary(job)}`;
    linkDownload(this.download, job, file);
    this.dialog.classList.add("is-loading");
    this.image.src = file.url;
    this.dialog.showModal();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }
}
