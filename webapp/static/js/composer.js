// The "New job" form: kind tabs, the prompt counter, the priorities this account may
// use, and submitting, with the API's field errors shown under the fields they name.

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
  clearErrors(form);
  const prompt = $("prompt").value.trim();
  if (!prompt) return fieldError("input.prompt", "Write a prompt first.");
  const button = $("submit-image");
  const status = $("image-form-status");
  button.disabled = true;
  status.textContent = "Submitting…";
  try {
    const job = await submit({
      kind: "image",
      input: { prompt, size: $("size").value, quality: $("quality").value },
      priority: form.elements.priority.value,
    });
    $("prompt").value = "";
    updateCounter();
    const hidden = isShown(job) ? "" : " (hidden by the current filter)";
    status.textContent = `Submitted job #${job.id.slice(0, 8)}${hidden}.`;
  } catch (error) {
    status.textContent = "";
    if (error.status === 401) return onUnauthorized();
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
