// The page: sign in with an API key, submit image jobs, and watch the history live.
// All state comes from the API, so a reload shows exactly what the server knows.

import { Api, keyStore } from "./api.js";
import { offerPriorities, setupComposer } from "./composer.js";
import { JobList } from "./joblist.js";
import { LiveUpdates } from "./live.js";
import { Viewer } from "./media.js";
import { setupScriptForm } from "./script.js";
import { setupTryon } from "./tryon.js";

const $ = (id) => document.getElementById(id);
const viewer = new Viewer((error) => showBanner(error.message));
let session = null; // { api, me, list, live } while signed in
let signingOut = Promise.resolve(); // a new session must not race the end of the last

// --- Session -----------------------------------------------------------------------

async function startSession(key) {
  const api = new Api(key);
  await signingOut;
  const me = await api.startSession(); // proves the key and sets the read-only cookie
  keyStore.save(key);
  const list = new JobList({ api });
  const live = new LiveUpdates({
    api,
    list,
    onUnauthorized: () => signOut("Your API key is no longer accepted. Sign in again."),
    onTrouble: (error) => showBanner(error && `${error.message} Retrying…`),
    onLive: (on) => { $("live").hidden = !on; },
  });
  session = { api, me, list, live };
  showUser(me);
  show("workspace");
  await reloadList();
  live.start();
}

function showUser(me) {
  $("session-name").textContent = me.name;
  const tier = $("session-tier");
  tier.textContent = me.tier === "vip" ? "VIP" : me.tier;
  tier.className = `tier tier-${me.tier}`;
  $("session").hidden = false;
  offerPriorities(me.priorities);
}

function signOut(message = "") {
  if (session) {
    session.live.stop();
    session.list.clear();
    session = null;
  }
  signingOut = Api.endSession(); // even without a session here: the cookie may outlive the key
  viewer.close();
  keyStore.clear();
  $("session").hidden = true;
  $("api-key").value = "";
  $("signin-error").textContent = message;
  show("signin");
  $("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  const error = $("signin-error");
  error.textContent = key ? "" : "Enter your API key.";
  if (!key) return;
  const button = event.submitter || $("signin-form").querySelector("button");
  button.disabled = true;
  try {
    await startSession(key);
  } catch (failure) {
    error.textContent = failure.status === 401
      ? "That API key was not accepted. Check that you copied all of it."
      : failure.message;
  } finally {
    button.disabled = false;
  }
}

/** Another tab signed out or in with another key: follow it (the cookie is shared). */
function onStorage(event) {
  if (event.key !== keyStore.KEY || !session || event.newValue === session.api.key) return;
  if (event.newValue) window.location.reload();
  else signOut("You signed out in another tab.");
}

function show(view) {
  $("boot").hidden = true;
  $("signin").hidden = view !== "signin";
  $("workspace").hidden = view !== "workspace";
}

// --- The job list ------------------------------------------------------------------

async function reloadList() {
  const filters = { status: $("filter-status").value, kind: $("filter-kind").value };
  try {
    await session.list.reload(filters);
    showBanner(null);
  } catch (error) {
    if (error.status === 401) return signOut("Your API key is no longer accepted.");
    showBanner(`Could not load your jobs: ${error.message}`);
  }
  session?.live.kick();
}

async function loadMore(event) {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await session.list.loadMore();
    session.live.kick();
  } catch (error) {
    showBanner(`Could not load more jobs: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

/** The buttons on a card: each answers with the job (or a new one) as it now stands. */
const JOB_ACTIONS = {
  cancel: { verb: "cancel", run: (api, job) => api.cancelJob(job.id) },
  retry: { verb: "retry", run: (api, job) => api.retryJob(job.id) },
  rerun: {
    verb: "re-run",
    run: (api, job) => api.submitJob({
      kind: job.kind,
      input: job.input,
      priority: session.me.priorities.includes(job.priority) ? job.priority : undefined,
    }),
  },
};

async function onListClick(event) {
  const card = event.target.closest("[data-job-id]");
  const job = card && session && session.list.job(card.dataset.jobId);
  if (!job) return;
  if (event.target.closest("[data-ref=thumb]")) return viewer.open(job);
  const button = event.target.closest("[data-action]");
  const action = button && JOB_ACTIONS[button.dataset.action];
  if (!action) return;
  const { list, live, api } = session;
  button.disabled = true;
  try {
    const answer = await action.run(api, job);
    list.upsert(answer);
    if (answer.id !== job.id) revealNewJob(answer);
  } catch (error) {
    if (error.status === 401) return signOut("Your API key is no longer accepted.");
    const wait = error.retryAfterS ? ` Try again in ${Math.ceil(error.retryAfterS)} s.` : "";
    showBanner(`Could not ${action.verb} the job: ${error.message}${wait}`);
    if (error.status === 409) live.pollNow(job.id); // it moved on meanwhile: show where to
  } finally {
    button.disabled = false;
    live.kick();
  }
}

function revealNewJob(job) {
  const card = document.querySelector(`[data-job-id="${CSS.escape(job.id)}"]`);
  if (card) card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  else showBanner(`Submitted job #${job.id.slice(0, 8)}; the current filter hides it.`);
}

function showBanner(message) {
  const banner = $("list-error");
  banner.textContent = message || "";
  banner.hidden = !message;
}

// --- Wiring --------------------------------------------------------------------------

function boot() {
  const forms = {
    submit: async (body) => {
      const job = await session.api.submitJob(body);
      session.list.upsert(job);
      session.live.kick();
      return job;
    },
    isShown: (job) => session.list.matches(job),
    onUnauthorized: () => signOut("Your API key is no longer accepted."),
  };
  setupComposer(forms);
  setupScriptForm(forms);
  setupTryon(forms);
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", (event) => {
    event.preventDefault();
    signOut();
  });
  for (const id of ["filter-status", "filter-kind"]) {
    $(id).addEventListener("change", () => session && reloadList());
  }
  $("load-more").addEventListener("click", loadMore);
  $("job-list").addEventListener("click", onListClick);
  window.addEventListener("storage", onStorage);

  const key = keyStore.load();
  if (!key) return show("signin");
  startSession(key).catch((error) => {
    if (error.status === 401) return signOut("Your saved API key is no longer accepted.");
    show("signin");
    $("api-key").value = key;
    $("signin-error").textContent = error.message;
  });
}

boot();
