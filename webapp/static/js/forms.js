// What every job form shares: the API's field errors shown under the fields they name,
// and the submit round trip (busy button, status line, a form-level error otherwise).

/**
 * Show `message` under `field` in `form`; false if the form has no such field.
 * `names` maps the API's field names to the form's data-field names where they differ.
 */
export function showFieldError(form, field, message, names = {}) {
  const name = names[field] || field;
  const wrapper = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (!wrapper) return false;
  const prefix = `${field}: `; // the API prefixes messages with the field's name
  wrapper.querySelector(".field-error").textContent = message.startsWith(prefix)
    ? message.slice(prefix.length)
    : message;
  wrapper.classList.add("has-error");
  const control = wrapper.querySelector("textarea, select, input");
  control.setAttribute("aria-invalid", "true");
  if (control.type !== "file") control.focus(); // file inputs may be visually hidden
  return true;
}

/** Remove the error shown under one field. */
export function clearFieldError(wrapper) {
  wrapper.classList.remove("has-error");
  wrapper.querySelector(".field-error").textContent = "";
  wrapper.querySelector("[aria-invalid]")?.removeAttribute("aria-invalid");
}

/** Remove every field error of `form` and its form-level error. */
export function clearErrors(form, formError) {
  for (const wrapper of form.querySelectorAll(".has-error")) clearFieldError(wrapper);
  formError.textContent = "";
}

/**
 * Submit a job from `form`: `send()` posts it, `onSent(job)` resets the form. The
 * status line says what happened; API errors go under their field, or to `formError`.
 */
export async function sendJob(parts, send, onSent) {
  const { form, button, status, formError, busyText, names, isShown, onUnauthorized } = parts;
  button.disabled = true;
  status.textContent = busyText;
  try {
    const job = await send();
    onSent(job);
    const hidden = isShown(job) ? "" : " (hidden by the current filter)";
    status.textContent = `Submitted job #${job.id.slice(0, 8)}${hidden}.`;
  } catch (error) {
    status.textContent = "";
    if (error.status === 401) return onUnauthorized();
    const wait = error.retryAfterS ? ` Try again in ${Math.ceil(error.retryAfterS)} s.` : "";
    if (!error.field || !showFieldError(form, error.field, error.message, names)) {
      formError.textContent = `${error.message}${wait}`;
    }
  } finally {
    button.disabled = false;
  }
}
