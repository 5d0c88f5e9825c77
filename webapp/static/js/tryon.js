// Try-on: the form (two photos and an occasion, sent as multipart/form-data) and, on a
// completed card, the result: before and after, the styling advice, and every step's image.

import { clearErrors, clearFieldError, sendJob, showFieldError } from "./forms.js";
import { artifact } from "./media.js";

const $ = (id) => document.getElementById(id);

/** The steps shown under a result, in the order the pipeline made them. */
const STEPS = [
  ["garment.png", "Garment"],
  ["styled.png", "Styled"],
  ["tryon_raw.png", "Tried on"],
  ["tryon.png", "Face kept"],
];

/** Wire the form; the handlers are those of the image form (see composer.js). */
export function setupTryon(handlers) {
  const form = $("panel-tryon");
  if (!form) return; // the kind is not offered by this server
  for (const input of form.querySelectorAll("input[type=file]")) {
    input.addEventListener("change", () => showPreview(input));
  }
  form.addEventListener("submit", (event) => submitTryon(event, handlers));
}

function showPreview(input) {
  const wrapper = input.closest(".field");
  const image = wrapper.querySelector("[data-preview]");
  if (image.src) URL.revokeObjectURL(image.src);
  const file = input.files[0];
  image.hidden = !file;
  wrapper.querySelector("[data-drop-text]").textContent = file ? file.name : "Choose a photo";
  if (file) image.src = URL.createObjectURL(file);
  else image.removeAttribute("src");
  clearFieldError(wrapper);
}

async function submitTryon(event, { submit, isShown, onUnauthorized }) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form, $("tryon-form-error"));
  const missing = [
    ["human_image", !$("human_image").files.length, "Choose a photo of the person."],
    ["garment_image", !$("garment_image").files.length, "Choose a photo of the garment."],
    ["occasion", !$("occasion").value.trim(), "Say what the outfit is for."],
  ].filter(([, isMissing]) => isMissing);
  for (const [field, , message] of missing) showFieldError(form, field, message);
  if (missing.length) return;

  const body = new FormData();
  body.set("kind", "tryon");
  body.set("occasion", $("occasion").value.trim());
  body.set("human_image", $("human_image").files[0]);
  body.set("garment_image", $("garment_image").files[0]);
  const parts = {
    form,
    button: $("submit-tryon"),
    status: $("tryon-form-status"),
    formError: $("tryon-form-error"),
    busyText: "Uploading…",
    isShown,
    onUnauthorized,
  };
  await sendJob(parts, () => submit(body), () => {
    form.reset();
    for (const input of form.querySelectorAll("input[type=file]")) showPreview(input);
  });
}

/** Fill a card's extra box with a completed try-on's result; empty it otherwise. */
export function renderTryon(box, job) {
  const shown = job.status === "completed" ? `${job.id}@${job.finished_at}` : "";
  if (box.dataset.shown === shown) return; // cards re-render often: build once per result
  box.dataset.shown = shown;
  box.hidden = !shown;
  if (!shown) return box.replaceChildren();

  const compare = document.createElement("div");
  compare.className = "tryon-compare";
  compare.append(
    figure(artifact(job, "person.png"), "Before", "tryon-before"),
    figure(artifact(job, "tryon.png"), "After", "tryon-after"),
  );
  const advice = document.createElement("p");
  advice.className = "tryon-advice";
  advice.dataset.testid = "tryon-advice";
  advice.textContent = (job.result && job.result.text) || "";
  const steps = document.createElement("div");
  steps.className = "tryon-steps";
  steps.setAttribute("aria-label", "Steps");
  for (const [name, label] of STEPS) {
    const file = artifact(job, name);
    if (file) steps.append(figure(file, label, `tryon-step-${name.replace(".png", "")}`));
  }
  box.replaceChildren(compare, advice, steps);
}

function figure(file, caption, testId) {
  const item = document.createElement("figure");
  item.className = "tryon-figure";
  if (!file) return item;
  const link = document.createElement("a");
  link.href = file.url;
  link.target = "_blank";
  link.rel = "noopener";
  const image = document.createElement("img");
  image.src = file.url;
  image.alt = caption;
  image.loading = "lazy";
  image.dataset.testid = testId;
  link.append(image);
  const text = document.createElement("figcaption");
  text.textContent = caption;
  item.append(link, text);
  return item;
}
