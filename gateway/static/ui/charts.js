// Charts with uPlot (vendored, loaded by index.html as window.uPlot). Every chart drawn is
// kept in `window.dashboard.charts` by name, so what is plotted (`chart.data`) can be read
// back, by a developer in the console or by the browser tests.

const uPlot = window.uPlot;

export const charts = {};
window.dashboard = Object.assign(window.dashboard || {}, { charts });

const COLOURS = ["#1b6ac9", "#c2410c", "#15803d", "#7e22ce", "#b91c1c"];

function width(container) {
  return Math.max(320, Math.min(960, container.clientWidth || container.parentElement.clientWidth || 640));
}

/** Draw (or redraw) the chart `name` in `container`. */
export function draw(name, container, { data, series, scales, axes, hooks, legend }) {
  charts[name]?.destroy();
  container.replaceChildren();
  const options = {
    width: width(container),
    height: 280,
    scales: scales || { x: { time: false } },
    series: [
      series[0],
      ...series.slice(1).map((one, index) => ({
        stroke: COLOURS[index % COLOURS.length],
        width: 1.5,
        spanGaps: true,
        ...one,
      })),
    ],
    axes,
    hooks,
    legend: legend || { show: true, live: true },
  };
  const chart = new uPlot(options, data, container);
  charts[name] = chart;
  container.dataset.drawn = String(Date.now());
  return chart;
}

/** Forget the chart `name`. */
export function clear(name, container) {
  charts[name]?.destroy();
  delete charts[name];
  container.replaceChildren();
  delete container.dataset.drawn;
}

/** "1:05:00" from seconds. */
export function clock(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** "5 min", "1 h", "30 s": a mean-max duration. */
export function span(seconds) {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
