// The connect page and developer dashboard: what the gateway's API answers for the key given,
// drawn as tables and uPlot charts. Everything comes from /v1 on this origin.

import { api, ApiError, keys } from "/ui/api.js";
import { clear, clock, draw, span } from "/ui/charts.js";

const $ = (id) => document.getElementById(id);
const dashboard = window.dashboard;

const UNITS = { heart_rate: "bpm", power: "W", speed: "m/s", cadence: "rpm", altitude: "m" };
const LABELS = { heart_rate: "Heart rate", power: "Power", speed: "Speed", cadence: "Cadence", altitude: "Altitude" };
const TIMESERIES_METRICS = ["power", "heart_rate", "speed", "cadence", "altitude"];
const MEAN_MAX_METRICS = ["power", "speed", "heart_rate"];

// ---- small helpers -------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function say(message) {
  $("status").textContent = message;
}

function fail(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
  if (!(error instanceof ApiError)) console.error(error);
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

/** Run `action`, showing its failure instead of throwing it. */
async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    fail(error);
    return undefined;
  }
}

/** A federated id in a path: its provider prefix's colon stays as it is. */
function idPath(id) {
  return id.split(":").map(encodeURIComponent).join(":");
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

function number(value, digits = 1) {
  return value === null || value === undefined ? "" : Number(value).toFixed(digits).replace(/\.0+$/, "");
}

function rootSport(sport) {
  return (sport || "").split(/[.+]/)[0];
}

// ---- the key -------------------------------------------------------------------------------

async function useKeys(event) {
  event.preventDefault();
  clearError();
  const apiKey = $("api-key").value.trim();
  const adminKey = $("admin-key").value.trim();
  if (!apiKey) return;
  try {
    await api.get("/v1/connections", undefined, apiKey);
  } catch (error) {
    fail(error.status === 401 ? new Error("The gateway does not accept this API key.") : error);
    $("api-key").focus();
    return;
  }
  keys.set(apiKey, adminKey);
  $("api-key").value = "";
  $("admin-key").value = "";
  say("Key accepted: it is kept in this tab only.");
  await showDashboard();
}

function forgetKeys() {
  keys.forget();
  $("dashboard").hidden = true;
  for (const name of Object.keys(dashboard.charts)) clear(name, dashboard.charts[name].root.parentElement);
  say("The keys are forgotten.");
  $("api-key").focus();
}

// ---- providers and connections --------------------------------------------------------------

function syncText(connection) {
  if (!connection || !connection.sync.length) return "";
  return connection.sync
    .map((state) => {
      const synced = state.synced_at ? `, synced ${when(state.synced_at)}` : "";
      return `${state.kind}: ${state.backfill_status} (${state.backfill_indexed} indexed${synced})`;
    })
    .join("; ");
}

async function loadProviders() {
  const [providers, connections] = await Promise.all([api.get("/v1/providers"), api.get("/v1/connections")]);
  const byName = Object.fromEntries(connections.map((connection) => [connection.provider, connection]));
  const rows = providers.map((provider) => {
    const connection = byName[provider.name];
    const oauth = provider.auth_kind.startsWith("oauth2");
    let status = "not connected";
    if (provider.name === "local") status = "built in (the gateway's own store)";
    else if (connection) {
      status = connection.status + (connection.subject ? ` as ${connection.subject}` : "");
      if (connection.detail) status += ` (${connection.detail})`;
    }
    let action = "";
    if (oauth && connection) {
      action = el("button", { type: "button", class: "disconnect", "aria-label": `Disconnect ${provider.display_name}`, dataset: { provider: provider.name } }, "Disconnect");
    } else if (oauth) {
      action = el("button", { type: "button", class: "connect", "aria-label": `Connect ${provider.display_name}`, dataset: { provider: provider.name } }, "Connect");
    }
    return el(
      "tr",
      { dataset: { provider: provider.name, status: connection ? connection.status : provider.name === "local" ? "local" : "none" } },
      el("th", { scope: "row" }, `${provider.display_name} `, el("code", {}, provider.name)),
      el("td", { class: "connection" }, status),
      el("td", { class: "sync" }, syncText(connection)),
      el("td", {}, action),
    );
  });
  $("providers-table").tBodies[0].replaceChildren(...rows);
  dashboard.providers = { providers, connections };
}

async function connect(provider) {
  const start = await api.post(`/v1/connections/${encodeURIComponent(provider)}`, {
    return_to: `${window.location.origin}/ui/`,
  });
  say(`Taking you to ${provider} to approve the connection…`);
  window.location.assign(start.authorization_url);
}

async function disconnect(provider) {
  const outcome = await api.delete(`/v1/connections/${encodeURIComponent(provider)}`);
  const how = outcome.revoked_at_provider ? "revoked at the provider" : outcome.detail;
  say(`Disconnected ${provider}: ${how}.`);
  await Promise.all([loadProviders(), activities.first()]);
}

function providerAction(event) {
  const button = event.target.closest("button[data-provider]");
  if (!button) return;
  clearError();
  const act = button.classList.contains("connect") ? connect : disconnect;
  button.disabled = true;
  guarded(() => act(button.dataset.provider)).finally(() => {
    button.disabled = false;
  });
}

// ---- pages walked by cursor -----------------------------------------------------------------

/** A list walked by its `next_cursor`, remembering the cursors behind for going back. Only
 * the latest request is drawn: a page that arrives after a newer one was asked for (the page
 * size changed while "Next" was on its way) is dropped, so the table never shows a stale page.
 * The table is `aria-busy` while a page is on its way. */
class Pager {
  constructor(table, fetch, render) {
    this.table = table;
    this.fetch = fetch;
    this.render = render;
    this.cursors = [null];
    this.index = 0;
    this.next = null;
    this.asked = 0;
  }

  async show() {
    const asked = ++this.asked;
    $(this.table).setAttribute("aria-busy", "true");
    try {
      const page = await this.fetch(this.cursors[this.index]);
      if (asked !== this.asked) return page;
      this.next = page.next_cursor;
      this.render(page);
      return page;
    } finally {
      if (asked === this.asked) $(this.table).setAttribute("aria-busy", "false");
    }
  }

  first() {
    this.cursors = [null];
    this.index = 0;
    return this.show();
  }

  forward() {
    if (!this.next) return Promise.resolve();
    this.cursors[this.index + 1] = this.next;
    this.cursors.length = this.index + 2;
    this.index += 1;
    return this.show();
  }

  back() {
    if (this.index === 0) return Promise.resolve();
    this.index -= 1;
    return this.show();
  }
}

// ---- activities -----------------------------------------------------------------------------

const activities = new Pager("activities-table", (cursor) =>
  api.get("/v1/activities", { limit: $("activities-limit").value, cursor }), (page) => {
  const rows = page.items.map((activity) =>
    el(
      "tr",
      { dataset: { activityId: activity.id } },
      el("td", {}, when(activity.start)),
      el("td", {}, activity.name || ""),
      el("td", {}, activity.sport),
      el("td", {}, activity.provider),
      el("td", {}, activity.status),
      el("td", {}, clock(activity.duration_s)),
      el("td", {}, activity.distance_m ? `${number(activity.distance_m / 1000, 2)} km` : ""),
      el("td", {}, el("button", {
        type: "button",
        class: "open",
        "aria-label": `Open ${activity.name || activity.sport} of ${when(activity.start)} (${activity.provider})`,
        dataset: { activityId: activity.id },
      }, "Open")),
    ),
  );
  $("activities-table").tBodies[0].replaceChildren(...rows);
  const errors = page.errors.map((error) => `${error.provider}: ${error.detail}`);
  $("activities-errors").textContent = errors.length ? `Not every provider answered: ${errors.join("; ")}` : "";
  $("activities-errors").hidden = !errors.length;
  $("activities-prev").disabled = activities.index === 0;
  $("activities-first").disabled = activities.index === 0;
  $("activities-next").disabled = !page.next_cursor;
  $("activities-page").textContent = `Page ${activities.index + 1}, ${page.items.length} activities`;
  dashboard.activitiesPage = page;
});

// ---- one activity ---------------------------------------------------------------------------

let current = null;

async function openActivity(id) {
  clearError();
  const activity = await api.get(`/v1/activities/${idPath(id)}`);
  current = { activity, samples: null };
  $("activity-heading").textContent = activity.name ? `${activity.name} (${activity.sport})` : `Activity: ${activity.sport}`;
  const facts = [
    ["Id", activity.id],
    ["Provider", activity.provider],
    ["Sport", activity.sport],
    ["Status", activity.status],
    ["Start", when(activity.start)],
    ["Duration", clock(activity.duration_s)],
    ["Distance", activity.distance_m ? `${number(activity.distance_m / 1000, 2)} km` : "—"],
  ];
  $("activity-facts").replaceChildren(...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, String(value))]));
  $("activity-empty").hidden = true;
  $("activity-detail").hidden = false;
  $("hr-result").hidden = true;
  for (const name of ["hrFit", "hrHistory"]) if (dashboard.charts[name]) clear(name, $(name === "hrFit" ? "hr-fit-chart" : "hr-history-chart"));
  $("activity-heading").focus();
  dashboard.activity = activity;

  let samples;
  try {
    samples = await api.get(`/v1/activities/${idPath(id)}/data`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    samples = null;
  }
  current.samples = samples;
  dashboard.samples = samples;
  const columns = samples ? samples.columns : [];
  const series = TIMESERIES_METRICS.filter((metric) => columns.includes(metric));
  const curves = MEAN_MAX_METRICS.filter((metric) => columns.includes(metric));
  fillSelect($("timeseries-metric"), series);
  fillSelect($("mean-max-metric"), curves);
  $("hr-fit").disabled = !(columns.includes("heart_rate") && (columns.includes("speed") || columns.includes("power")));
  if (!samples) {
    clear("timeseries", $("timeseries-chart"));
    clear("meanMax", $("mean-max-chart"));
    $("timeseries-caption").textContent = "This activity has no samples (a planned one, say).";
    $("mean-max-caption").textContent = "";
    $("mean-max-table").tBodies[0].replaceChildren();
    return;
  }
  drawTimeseries();
  if (curves.length) await drawMeanMax();
}

function fillSelect(select, metrics) {
  select.replaceChildren(...metrics.map((metric) => el("option", { value: metric }, LABELS[metric])));
  select.disabled = !metrics.length;
}

function drawTimeseries() {
  const metric = $("timeseries-metric").value;
  const { data } = current.samples;
  if (!metric) {
    clear("timeseries", $("timeseries-chart"));
    $("timeseries-caption").textContent = "No samples of a metric the dashboard draws.";
    return;
  }
  draw("timeseries", $("timeseries-chart"), {
    data: [data.duration, data[metric]],
    series: [
      { label: "Time", value: (u, v) => (v === null ? "" : clock(v)) },
      { label: `${LABELS[metric]} (${UNITS[metric]})`, value: (u, v) => (v === null ? "" : number(v, 2)) },
    ],
    axes: [
      { label: "Time since the start", values: (u, ticks) => ticks.map(clock) },
      { label: `${LABELS[metric]} (${UNITS[metric]})` },
    ],
  });
  $("timeseries-chart").setAttribute("aria-label", `${LABELS[metric]} over the activity's ${clock(data.duration.at(-1))}`);
  $("timeseries-caption").textContent = `${data.duration.length} samples of ${LABELS[metric].toLowerCase()}, from /v1/activities/${current.activity.id}/data.`;
}

/** The activity's curve and the best ever for its sport, on one duration axis. */
async function drawMeanMax() {
  const metric = $("mean-max-metric").value;
  const { activity } = current;
  const sport = rootSport(activity.sport);
  // after=0 asks for the best ever by duration (no prior work), on the activity curve's grid;
  // heart rate takes no `after`, so its best ever comes by intensity, kept per duration.
  const [own, best] = await Promise.all([
    api.get(`/v1/activities/${idPath(activity.id)}/mean-max`, { metric }),
    api.get("/v1/activities/longitudinal-mean-max", { metric, sport, after: metric === "heart_rate" ? undefined : 0 }),
  ]);
  if (current.activity !== activity) return; // another activity was opened meanwhile
  const ownAt = new Map(own.points.map((point) => [point.duration_s, point]));
  const bestAt = new Map();
  for (const point of best.points) {
    const held = bestAt.get(point.duration_s);
    if (!held || point.value > held.value) bestAt.set(point.duration_s, point);
  }
  const durations = [...new Set([...ownAt.keys(), ...bestAt.keys()])].sort((a, b) => a - b);
  const data = [
    durations,
    durations.map((d) => ownAt.get(d)?.value ?? null),
    durations.map((d) => bestAt.get(d)?.value ?? null),
  ];
  const unit = UNITS[metric];
  const describe = (index) => {
    if (index === null || index === undefined || index < 0) return;
    const d = durations[index];
    const mine = ownAt.get(d);
    const top = bestAt.get(d);
    const parts = [`${span(d)}:`];
    parts.push(mine ? `this activity ${number(mine.value)} ${unit} (window from ${when(mine.start)})` : "this activity: none");
    parts.push(top ? `best ever ${number(top.value)} ${unit} in ${top.activity_id} (${top.provider}, ${top.sport}, window from ${when(top.start)})` : "best ever: none");
    $("mean-max-point").textContent = parts.join(" ");
  };
  const chart = draw("meanMax", $("mean-max-chart"), {
    data,
    scales: { x: { time: false, distr: 3 } },
    series: [
      { label: "Duration", value: (u, v) => (v === null ? "" : span(v)) },
      { label: `This activity (${unit})`, value: (u, v) => (v === null ? "" : number(v)), points: { show: true } },
      {
        label: `Best ever, ${sport} (${unit})`,
        value: (u, v, s, i) => (v === null ? "" : `${number(v)} · ${bestAt.get(durations[i])?.activity_id ?? ""}`),
        points: { show: true },
      },
    ],
    axes: [
      { label: "Duration (log scale)", values: (u, ticks) => ticks.map((t) => (t >= 1 ? span(Math.round(t)) : "")) },
      { label: `${LABELS[metric]} (${unit})` },
    ],
    hooks: { setCursor: [(u) => describe(u.cursor.idx)] },
  });
  keyboardCursor(chart, $("mean-max-chart"), durations.length, describe);
  dashboard.meanMax = {
    metric,
    sport,
    activity: own,
    best,
    durations,
    attribution: durations.map((d) => bestAt.get(d) ?? null),
  };
  const providers = new Set(best.points.map((point) => point.provider));
  const activitiesBehind = new Set(best.points.map((point) => point.activity_id));
  $("mean-max-caption").textContent =
    `${own.points.length} durations of this activity (computed by ${own.source}); the best ever of every ${sport} ` +
    `activity comes from ${activitiesBehind.size} activities of ${[...providers].join(" and ") || "no provider"}.`;
  $("mean-max-chart").setAttribute(
    "aria-label",
    `Mean-max ${LABELS[metric].toLowerCase()}: this activity and the best ever, by duration. Focus it and use the arrow keys to read each point.`,
  );
  $("mean-max-table").tBodies[0].replaceChildren(
    ...durations.map((d) => {
      const mine = ownAt.get(d);
      const top = bestAt.get(d);
      return el(
        "tr",
        { dataset: { duration: String(d) } },
        el("th", { scope: "row" }, span(d)),
        el("td", {}, mine ? number(mine.value) : ""),
        el("td", {}, mine ? when(mine.start) : ""),
        el("td", {}, top ? number(top.value) : ""),
        el("td", {}, top ? top.activity_id : ""),
        el("td", {}, top ? top.provider : ""),
        el("td", {}, top ? when(top.start) : ""),
      );
    }),
  );
  describe(durations.length - 1);
}

/** Arrow keys move the chart's cursor from point to point, Home and End to the ends. */
function keyboardCursor(chart, container, count, describe) {
  container.tabIndex = 0;
  let index = -1;
  container.onkeydown = (event) => {
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: count - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    index = Math.max(0, Math.min(count - 1, moves[event.key]));
    const x = chart.data[0][index];
    const y = chart.data[1][index] ?? chart.data[2][index];
    chart.setCursor({ left: chart.valToPos(x, "x"), top: y === null ? 0 : chart.valToPos(y, "y") });
    describe(index);
  };
}

// ---- the heart-rate model --------------------------------------------------------------------

/** The samples the fit used: those with heart rate and its driver (as the gateway picks them). */
function fitSamples(sport) {
  const { data, columns } = current.samples;
  const driver = sport === "cycling" && columns.includes("power") ? "power" : "speed";
  const time = [];
  const heartRate = [];
  for (let i = 0; i < data.duration.length; i += 1) {
    const t = data.duration[i];
    const hr = data.heart_rate[i];
    const drive = data[driver][i];
    if (Number.isFinite(t) && Number.isFinite(hr) && Number.isFinite(drive) && hr > 0) {
      time.push(t);
      heartRate.push(hr);
    }
  }
  return { time, heartRate, driver };
}

const ESTIMATES = [
  ["E", "trueE", "Endurance (E)"],
  ["Vmax", "trueVmax", "Vmax"],
  ["V5", "trueV5", "V5"],
  ["P", "trueP", "HR max (P, bpm)"],
  ["confidence", "trueConfidence", "Confidence"],
];

async function fitHeartRate() {
  const { activity } = current;
  say("Fitting the heart-rate model…");
  const fit = await api.post(`/v1/activities/${idPath(activity.id)}/hr-model`, {
    settings: { returnPrediction: true },
    use_stored_memory: $("hr-use-memory").checked,
  });
  if (current.activity !== activity) return;
  dashboard.hrFit = fit;
  const { time, heartRate, driver } = fitSamples(fit.sport);
  const prediction = fit.result.prediction || [];
  $("hr-result").hidden = false;
  if (prediction.length !== time.length) {
    throw new Error(`the fit predicted ${prediction.length} samples, but the activity has ${time.length} with heart rate and ${driver}`);
  }
  draw("hrFit", $("hr-fit-chart"), {
    data: [time, heartRate, prediction],
    series: [
      { label: "Time", value: (u, v) => (v === null ? "" : clock(v)) },
      { label: "Measured HR (bpm)", value: (u, v) => (v === null ? "" : number(v)) },
      { label: "Predicted HR (bpm)", value: (u, v) => (v === null ? "" : number(v)) },
    ],
    axes: [
      { label: "Time since the start", values: (u, ticks) => ticks.map(clock) },
      { label: "Heart rate (bpm)" },
    ],
  });
  $("hr-fit-caption").textContent =
    `Measured against predicted heart rate over ${fit.samples} samples (${fit.sport}, driven by ${driver}); ` +
    `RMSE ${number(fit.result.rmseBpm, 2)} bpm.`;
  $("hr-estimates").tBodies[0].replaceChildren(
    ...ESTIMATES.map(([session, memory, label]) =>
      el("tr", { dataset: { estimate: session } },
        el("th", { scope: "row" }, label),
        el("td", {}, number(fit.result[session], 4)),
        el("td", {}, number(fit.result[memory], 4))),
    ),
    el("tr", { dataset: { estimate: "rmseBpm" } }, el("th", { scope: "row" }, "RMSE (bpm)"), el("td", {}, number(fit.result.rmseBpm, 3)), el("td", {}, "")),
  );
  await drawHistory(fit.sport);
  say(`Fitted the heart-rate model to ${fit.samples} samples.`);
}

/** The stored memory's estimates after each fit, oldest first. */
async function drawHistory(sport) {
  const profile = await api.get("/v1/hr-model/profile", { sport });
  dashboard.hrProfile = profile;
  const history = [...profile.history].reverse();
  const at = history.map((entry) => Date.parse(entry.fitted_at) / 1000);
  draw("hrHistory", $("hr-history-chart"), {
    data: [at, history.map((e) => e.trueP), history.map((e) => e.trueVmax), history.map((e) => e.trueV5)],
    scales: { x: { time: true }, bpm: {}, speed: {} },
    series: [
      { label: "Fitted at" },
      { label: "HR max P (bpm)", scale: "bpm", points: { show: true } },
      { label: "Vmax", scale: "speed", points: { show: true } },
      { label: "V5", scale: "speed", points: { show: true } },
    ],
    axes: [{}, { scale: "bpm", label: "bpm" }, { scale: "speed", side: 1, label: "model speed", grid: { show: false } }],
  });
  $("hr-history-caption").textContent =
    `The memory's estimates for ${sport} after each of ${history.length} fits (speed in m/s, or W / 100 for rides); ` +
    `now: P ${number(profile.current.P)} bpm, Vmax ${number(profile.current.Vmax, 3)}, confidence ${number(profile.current.confidence, 3)}.`;
}

// ---- lab tests --------------------------------------------------------------------------------

function resultsText(results, prefix = "") {
  return Object.entries(results || {})
    .map(([name, value]) =>
      value && typeof value === "object" ? resultsText(value, `${prefix}${name} `) : `${prefix}${name}: ${value}`,
    )
    .join("; ");
}

const labTests = new Pager("tests-table", (cursor) => api.get("/v1/tests", { limit: 10, cursor }), (page) => {
  $("tests-table").tBodies[0].replaceChildren(
    ...page.items.map((test) =>
      el("tr", { dataset: { testId: test.id } },
        el("td", {}, when(test.start)),
        el("th", { scope: "row" }, test.title || ""),
        el("td", {}, test.sport),
        el("td", {}, test.provider),
        el("td", {}, resultsText(test.results))),
    ),
  );
  $("tests-first").disabled = labTests.index === 0;
  $("tests-next").disabled = !page.next_cursor;
});

// ---- dailies ----------------------------------------------------------------------------------

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

async function loadDailies(event) {
  event?.preventDefault();
  const page = await api.get("/v1/dailies", { start: $("dailies-start").value, end: $("dailies-end").value });
  const measures = [...new Set(page.items.map((item) => item.measure))].sort();
  const days = new Map();
  for (const item of page.items) {
    if (!days.has(item.date)) days.set(item.date, {});
    days.get(item.date)[item.measure] = item;
  }
  const table = $("dailies-table");
  table.tHead.rows[0].replaceChildren(el("th", { scope: "col" }, "Date"), ...measures.map((m) => el("th", { scope: "col" }, m.replaceAll("_", " "))));
  table.tBodies[0].replaceChildren(
    ...[...days.keys()].sort().map((day) =>
      el("tr", { dataset: { date: day } },
        el("th", { scope: "row" }, day),
        ...measures.map((m) => {
          const item = days.get(day)[m];
          return el("td", { title: item ? `${item.provider}, ${item.source || "no source"}` : undefined }, item ? number(item.value, 2) : "");
        })),
    ),
  );
  if (!page.items.length) table.tBodies[0].replaceChildren(el("tr", {}, el("td", {}, "No dailies in this range.")));
  dashboard.dailies = page;
}

// ---- webhook deliveries -------------------------------------------------------------------------

function webhooksNeedTheOperator(why) {
  $("webhooks-note").textContent =
    `${why} The delivery log is the operator's: enter the operator key (GATEWAY_ADMIN_KEY) above to see it.`;
  $("webhooks-controls").hidden = true;
  $("deliveries-table").hidden = true;
}

async function loadWebhooks() {
  // The API shows endpoints and their deliveries to the operator's key only, never to a
  // user's: without the operator key there is nothing to ask.
  if (!keys.admin) {
    webhooksNeedTheOperator("No operator key was given.");
    return;
  }
  let endpoints;
  try {
    endpoints = await api.get("/v1/webhooks", undefined, keys.admin);
  } catch (error) {
    if (!(error instanceof ApiError) || ![401, 403].includes(error.status)) throw error;
    webhooksNeedTheOperator(`The gateway refused the operator key (${error.message}).`);
    return;
  }
  const select = $("webhooks-endpoint");
  select.replaceChildren(...endpoints.items.map((endpoint) => el("option", { value: endpoint.id }, endpoint.description || endpoint.url)));
  $("webhooks-note").textContent = endpoints.items.length
    ? `${endpoints.items.length} endpoint(s) registered.`
    : "No webhook endpoint is registered.";
  $("webhooks-controls").hidden = !endpoints.items.length;
  if (endpoints.items.length) await loadDeliveries();
}

async function loadDeliveries() {
  const endpoint = $("webhooks-endpoint").value;
  const page = await api.get(`/v1/webhooks/${encodeURIComponent(endpoint)}/deliveries`, { limit: 50 }, keys.admin);
  $("deliveries-table").tBodies[0].replaceChildren(
    ...page.items.map((delivery) =>
      el("tr", { dataset: { deliveryId: delivery.id } },
        el("td", {}, when(delivery.created_at)),
        el("th", { scope: "row" }, delivery.event_type),
        el("td", {}, delivery.status),
        el("td", {}, String(delivery.attempts)),
        el("td", {}, delivery.last_status_code === null ? "" : String(delivery.last_status_code)),
        el("td", {}, delivery.last_latency_ms === null ? "" : `${number(delivery.last_latency_ms)} ms`),
        el("td", {}, delivery.last_error || "")),
    ),
  );
  $("deliveries-table").hidden = false;
  dashboard.deliveries = page;
}

// ---- start --------------------------------------------------------------------------------------

async function showDashboard() {
  $("dashboard").hidden = false;
  await Promise.all([
    guarded(loadProviders),
    guarded(() => activities.first()),
    guarded(() => labTests.first()),
    guarded(loadDailies),
    guarded(loadWebhooks),
  ]);
  document.body.dataset.loaded = "true";
}

function wire() {
  $("key-form").addEventListener("submit", useKeys);
  $("forget-key").addEventListener("click", forgetKeys);
  $("refresh-providers").addEventListener("click", () => guarded(loadProviders));
  $("providers-table").addEventListener("click", providerAction);
  $("activities-limit").addEventListener("change", () => guarded(() => activities.first()));
  $("activities-first").addEventListener("click", () => guarded(() => activities.first()));
  $("activities-prev").addEventListener("click", () => guarded(() => activities.back()));
  $("activities-next").addEventListener("click", () => guarded(() => activities.forward()));
  $("activities-table").addEventListener("click", (event) => {
    const button = event.target.closest("button.open");
    if (button) guarded(() => openActivity(button.dataset.activityId));
  });
  $("timeseries-metric").addEventListener("change", () => guarded(async () => drawTimeseries()));
  $("mean-max-metric").addEventListener("change", () => guarded(drawMeanMax));
  $("hr-fit").addEventListener("click", () => {
    clearError();
    $("hr-fit").disabled = true;
    guarded(fitHeartRate).finally(() => {
      $("hr-fit").disabled = false;
    });
  });
  $("tests-first").addEventListener("click", () => guarded(() => labTests.first()));
  $("tests-next").addEventListener("click", () => guarded(() => labTests.forward()));
  $("dailies-form").addEventListener("submit", (event) => guarded(() => loadDailies(event)));
  $("webhooks-endpoint").addEventListener("change", () => guarded(loadDeliveries));
  $("webhooks-refresh").addEventListener("click", () => guarded(loadDeliveries));
}

async function start() {
  wire();
  const today = new Date();
  $("dailies-end").value = isoDate(today);
  $("dailies-start").value = isoDate(new Date(today.getTime() - 30 * 86400_000));
  // Back from a provider's approval page: the callback sent the browser here with ?connected=.
  const back = new URLSearchParams(window.location.search).get("connected");
  if (back) {
    window.history.replaceState(null, "", window.location.pathname);
    say(`Connected ${back}.`);
  }
  if (keys.api) await showDashboard();
  else $("api-key").focus();
}

start();
