// The operators' page: reads /api/v1/stats with this browser's session and redraws every 10 s.

const REFRESH_MS = 10000;
const $ = (id) => document.getElementById(id);

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${(value / 60).toFixed(1)} min`;
}

function pair(p) {
  return p ? `${seconds(p.p50)} / ${seconds(p.p95)}` : "–";
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)} %`;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = cell;
    tr.append(td);
  }
  return tr;
}

function fill(tableId, rows, columns) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows.map(row));
  if (!rows.length) {
    const tr = row(["Nothing in this period"]);
    tr.firstChild.colSpan = columns;
    tr.firstChild.className = "empty";
    body.append(tr);
  }
}

function tile(title, figure, detail) {
  const section = document.createElement("section");
  section.className = "tile";
  const h2 = document.createElement("h2");
  h2.textContent = title;
  const big = document.createElement("p");
  big.className = "figure";
  big.textContent = figure;
  const small = document.createElement("p");
  small.className = "detail";
  small.textContent = detail;
  section.append(h2, big, small);
  return section;
}

function draw(stats) {
  const tiles = [];
  for (const [name, w] of Object.entries(stats.windows)) {
    tiles.push(tile(`Success, last ${name}`, percent(w.success_rate),
      `${w.completed} completed · ${w.failed} failed · ${w.canceled} canceled`));
    tiles.push(tile(`Throughput, last ${name}`, `${w.throughput_per_min} / min`, "completed jobs"));
  }
  $("summary").replaceChildren(...tiles);

  const queues = stats.queues || [];
  fill("queues", queues.map((q) => [q.queue, q.lanes.high, q.lanes.default, q.lanes.low, q.total,
    q.oldest_age_s === null ? "–" : seconds(q.oldest_age_s)]), 6);
  const flying = stats.in_flight.map((f) => `${f.jobs} ${f.lane}/${f.tier}`).join(" · ");
  $("in-flight").textContent = stats.queues === null
    ? "The broker did not answer." : `Processing now: ${flying || "none"}`;

  const kinds = [];
  const stages = [];
  for (const [name, w] of Object.entries(stats.windows)) {
    for (const k of w.kinds) {
      kinds.push([name, k.kind, k.completed, k.failed, k.canceled, percent(k.success_rate),
        pair(k.duration_s), pair(k.queue_wait_s)]);
    }
    for (const s of w.stages) {
      stages.push([name, s.kind, s.stage, s.count, pair(s.duration_s), pair(s.queue_wait_s)]);
    }
  }
  fill("kinds", kinds, 8);
  fill("stages", stages, 6);

  const flower = $("flower-link");
  flower.href = stats.flower_url;
  flower.hidden = false;
}

async function refresh() {
  const status = $("ops-status");
  try {
    const response = await fetch("/api/v1/stats", { credentials: "same-origin" });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message || `the server answered ${response.status}`);
    }
    draw(await response.json());
    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    status.classList.remove("error");
  } catch (error) {
    status.textContent = `Could not load the figures: ${error.message}`;
    status.classList.add("error");
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
