// The "New job" form: kind tabs, the prompt counter, the priorities this account may
// use, and submitting, with the API's field errors shown under the fields they name.

import { clearErrors, sendJob, showFieldError } from "./forms.js";

const $ = (id) => document.getElementById(id);

/**
 * Wire the form. submit(body) posts a job and answers it; isShown(job) says whether
 * the list's filters show it; onUnauthorized() when the key is refused.
 */
export function setupComposer(handlers) {
  setupTabs();
  const form = $("panel-image");
  form.addEventListener("submit", (event) => submitImage(event, handlers));
  $("prompt").addEventListener("input", updateCounter);
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  updateCounter();
}

/** Show only the priorities in `allowed`; a hidden choice falls back to default. */
export function offerPriorities(allowed) {
  const form = $("panel-image");
  let withheld = 0;
  for (const choice of form.querySelectorAll("[data-priority]")) {
    choice.hidden = !allowed.includes(choice.dataset.priority);
    if (!choice.hidden) continue;
    withheld++;
    if (choice.querySelector("input").checked) form.elements.priority.value = "default";
  }
  const note = $("priority-note");
  note.textContent = withheld ? note.dataset.standard : note.dataset.vip;
}

async function submitImage(event, { submit, isShown, onUnauthorized }) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form, $("image-form-error"));
  const prompt = $("prompt").value.trim();
  if (!prompt) return showFieldError(form, "input.prompt", "Write a prompt first.");
  const parts = {
    form,
    button: $("submit-image"),
    status: $("image-form-status"),
    formError: $("image-form-error"),
    busyText: "Submitting…",
    isShown,
    onUnauthorized,
  };
  const body = {
    kind: "image",
    input: { prompt, size: $("size").value, quality: $("quality").value },
    priority: form.elements.priority.value,
  };
  await sendJob(parts, () => submit(body), () => {
    $("prompt").value = "";
    updateCounter();
  });
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
