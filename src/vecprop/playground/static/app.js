// The page: one session per tab, actions sent to the server, every answer drawn. The server does all the math.
import { ApiError, post, stats } from "./api.js";
import { Controls } from "./controls.js";
import { drawCurve, drawOutput, drawPoints, fmt, toPlane } from "./draw.js";
import { Matrices, panelsOf, parse } from "./matrices.js";
import { NetworkView } from "./network_view.js";

const $ = id => document.getElementById(id);
const state = { session: null, frame: null, points: null, run: null, rows: [], walk: [], playing: false,
  walkAt: -1, layer: 1, busy: false };

const view = new NetworkView($("netview"), {
  selectLayer: l => patch({ layer: String(l) }),
  toggleFeature: name => {
    const now = state.frame.setup.features.split(",");
    const next = now.includes(name) ? now.filter(f => f !== name) : state.frame.all_features.filter(f => now.includes(f) || f === name);
    if (next.length) patch({ features: next.join(",") });
  },
  width: (l, delta) => {
    const hidden = state.frame.setup.hidden.split(",").map(Number);
    hidden[l - 1] = Math.max(1, Math.min(state.frame.limits.width, hidden[l - 1] + delta));
    patch({ hidden: hidden.join(",") });
  },
  activation: (l, name) => {
    const act = state.frame.setup.act.split(",");
    act[l - 1] = name;
    patch({ act: act.join(",") });
  },
});
const matrices = new Matrices({ forward: $("forward"), backward: $("backward"), hover: $("hover"), entry: $("entry"),
  eq10: $("eq10"), batchInfo: $("batch-info") });
const controls = new Controls(p => patch(p));

function L() { return state.frame ? state.frame.network.sizes.length - 1 : 1; }
function have() { return { points: state.points?.version, run: state.run, history_from: state.rows.length }; }
function layers() { return state.walkAt >= 0 ? [...Array(L()).keys()].map(i => i + 1) : [state.layer]; }

function banner(text, kind = "error") {
  const b = $("banner");
  b.hidden = !text; b.textContent = text || ""; b.className = `banner ${kind === "info" ? "info" : ""}`;
}

/** Send one action for this tab's session and draw the answer; a gone session starts again from the link. */
async function act(action, body = {}) {
  try {
    return render(await post(action, { session: state.session, layers: layers(), have: have(), ...body }));
  } catch (err) {
    if (err instanceof ApiError && err.expired) {
      await start(state.frame.setup);
      banner(`${err.message}. A new session started from this page's link; press play to train again.`, "info");
    } else {
      banner(err.message);
    }
    setPlaying(false);
    return null;
  }
}

async function start(setup) {
  state.rows = []; state.run = null; state.points = null;
  try {
    render(await post("new", { setup, have: {} }), true);
  } catch (err) {
    render(await post("new", { setup: {}, have: {} }), true);
    banner(`The link's setup was refused: ${err.message}. Starting from the default setup.`);
  }
}

function patch(changes) {
  const setup = { ...state.frame.setup, ...changes };
  if ("layer" in changes) state.layer = Number(changes.layer);
  const hidden = setup.hidden === "" ? 0 : setup.hidden.split(",").length;
  if (Number(setup.layer) > hidden + 1) { setup.layer = String(hidden + 1); state.layer = hidden + 1; }
  return act("setup", { setup, layers: [state.layer] });
}

function render(frame, fresh = false) {
  const t0 = performance.now();
  if (fresh) { state.session = frame.session; state.layer = Number(frame.setup.layer); }
  state.frame = frame;
  if (frame.points) state.points = frame.points;
  if (frame.walk) state.walk = frame.walk;
  if (frame.history.run !== state.run) { state.run = frame.history.run; state.rows = []; }
  state.rows = state.rows.slice(0, frame.history.from).concat(frame.history.rows);
  const setup = frame.setup;
  history.replaceState(null, "", "?" + new URLSearchParams(setup).toString());
  controls.show(setup, frame);
  $("stop").value = setup.stop === "0" ? "" : setup.stop;
  $("epoch").textContent = String(frame.epoch).padStart(6, "0");
  for (const set of ["train", "test"]) {
    $(`${set}-loss`).textContent = frame[set].cost === null ? "NaN/inf" : frame[set].cost.toFixed(4);
    $(`${set}-loss`).dataset.value = String(frame[set].cost);
    const metric = frame[set].metric;
    $(`${set}-metric`).textContent = metric === null ? "" : frame[set].metric_name === "accuracy"
      ? `accuracy ${(100 * metric).toFixed(1)}%` : `R² ${metric.toFixed(3)}`;
  }
  const sizes = frame.network.sizes;
  $("net-summary").textContent = `${sizes.join(" → ")} (${frame.network.activations.join(", ")}), ${frame.network.loss}`;
  view.update(frame, setup, frame.hidden_activations);
  drawMap(frame);
  drawCurve($("curve"), state.rows);
  const shown = state.walkAt >= 0 ? walkLayer(state.walk[state.walkAt]) : state.layer;
  layerButtons(sizes.length - 1, shown);
  matrices.update(frame, state.walk, shown, setup);
  if (state.walkAt >= 0) showWalk();
  if (frame.diverged) banner(frame.diverged);
  else if (frame.stopped && state.playing) banner(`Stopped at epoch ${frame.epoch}, as "stop after" asks.`, "info");
  else if (!$("banner").classList.contains("info")) banner("");
  $("step-ms").textContent = frame.step ? frame.step.step_ms.toFixed(3) : "-";
  $("frame-ms").textContent = frame.frame_ms.toFixed(1);
  $("payload").textContent = `${(stats.bytes / 1024).toFixed(1)} KB`;
  $("payload").dataset.value = String(stats.bytes);
  const ms = performance.now() - t0;
  $("render-ms").textContent = ms.toFixed(1);
  $("render-ms").dataset.value = String(ms);
  return frame;
}

function drawMap(frame) {
  const canvas = $("map"), maps = frame.maps;
  drawOutput(canvas, maps.output, maps.n);
  if (state.points) drawPoints(canvas, state.points, maps.domain, maps.output, $("show-test").checked);
}

function layerButtons(n, shown) {
  const root = $("layer-buttons");
  if (root.children.length !== n) {
    root.replaceChildren(...[...Array(n).keys()].map(i => {
      const b = document.createElement("button");
      b.textContent = String(i + 1); b.dataset.testid = `show-layer-${i + 1}`;
      b.onclick = () => patch({ layer: String(i + 1) });
      return b;
    }));
  }
  [...root.children].forEach((b, i) => b.classList.toggle("selected", i + 1 === shown));
}

// ---- play, step, step through ------------------------------------------------------------------
function setPlaying(on) {
  state.playing = on;
  $("play").innerHTML = on ? "&#x275A;&#x275A; pause" : "&#x25B6; play";
  $("play").dataset.playing = on ? "1" : "0";
}

async function loop() {
  while (state.playing) {
    const frame = await act("train", { steps: Number($("speed").value) });
    if (!frame || frame.stopped || frame.diverged) setPlaying(false);
    await new Promise(r => requestAnimationFrame(r));
  }
}

function walkLayer(step) {
  return step.tag === "(D)" ? step.layer + 1 : step.symbol === "J" ? L() : step.layer;
}

function showWalk() {
  const step = state.walk[state.walkAt], l = walkLayer(step);
  $("walk-pos").textContent = `step ${state.walkAt + 1} of ${state.walk.length}, layer ${l}`;
  $("walk-eq").innerHTML = `<span class="tag"></span><span></span>`;
  $("walk-eq").children[0].textContent = step.tag;
  $("walk-eq").children[1].textContent = step.equation;
  $("walk-note").textContent = step.note;
  matrices.highlight(step.name);
  $("walk-entry").textContent = step.symbol === "J" ? `J = ${fmt(state.frame.step.J)} on this mini-batch`
    : matrices.entry(step.name, 0, 0) || `${step.name}: see its panel`;
  $("walk-prev").disabled = state.walkAt === 0;
  $("walk-next").disabled = state.walkAt === state.walk.length - 1;
}

function walkTo(i) {
  state.walkAt = i;
  const l = walkLayer(state.walk[i]);
  layerButtons(L(), l);
  matrices.update(state.frame, state.walk, l, state.frame.setup);
  showWalk();
}

// ---- wiring ------------------------------------------------------------------------------------
$("play").onclick = () => { setPlaying(!state.playing); if (state.playing) { banner(""); loop(); } };
$("step").onclick = () => { setPlaying(false); act("step"); };
$("reset").onclick = () => { setPlaying(false); banner(""); act("reset"); };
$("walk").onclick = async () => {
  setPlaying(false);
  state.walkAt = 0;
  $("walkthrough").hidden = false;
  if (await act("step", { with_steps: true })) walkTo(0);
  $("walkthrough").scrollIntoView({ behavior: "smooth", block: "nearest" });
};
$("walk-prev").onclick = () => walkTo(Math.max(0, state.walkAt - 1));
$("walk-next").onclick = () => walkTo(Math.min(state.walk.length - 1, state.walkAt + 1));
$("walk-done").onclick = () => {
  state.walkAt = -1; $("walkthrough").hidden = true; matrices.highlight(null);
  act("state");
};
$("stop").onchange = () => patch({ stop: $("stop").value || "0" });
$("regenerate").onclick = () => patch({ seed: String(Number(state.frame.setup.seed) + 1) });
$("add-layer").onclick = () => {
  const s = state.frame.setup, hidden = s.hidden ? s.hidden.split(",") : [], act = s.act ? s.act.split(",") : [];
  if (hidden.length >= state.frame.limits.layers) return;
  patch({ hidden: [...hidden, hidden.at(-1) || "4"].join(","), act: [...act, act.at(-1) || "tanh"].join(",") });
};
$("remove-layer").onclick = () => {
  const s = state.frame.setup, hidden = s.hidden ? s.hidden.split(",") : [], act = s.act ? s.act.split(",") : [];
  if (!hidden.length) return;
  patch({ hidden: hidden.slice(0, -1).join(","), act: act.slice(0, -1).join(","), dropout: hidden.length > 1 ? s.dropout : "0" });
};
$("show-test").onchange = () => drawMap(state.frame);
$("map").onclick = e => {
  const label = $("click-class").value;
  if (label === "off") return;
  const [x1, x2] = toPlane(state.frame.maps.domain, $("map"), e.offsetX, e.offsetY);
  act("point", { x1, x2, label: Number(label) });
};
$("csv").onchange = async () => {
  const file = $("csv").files[0];
  if (!file) return;
  if (file.size > 256 * 1024) { banner(`${file.name} is larger than 256 KiB`); return; }
  setPlaying(false);
  if (await act("upload", { csv: await file.text(), task: $("csv-task").value })) {
    banner(`${file.name}: ${state.points.train.x1.length + state.points.test.x1.length} points. `
      + "They live in this tab only: a link does not carry them.", "info");
  }
};
async function download(format) {
  try {
    const blob = await post("export", { session: state.session, format });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `playground-${state.frame.setup.data}-epoch${state.frame.epoch}.${format}`;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (err) { banner(err.message); }
}
$("export").onclick = () => download("npz");
$("export-onnx").onclick = () => download("onnx");
$("copy-link").onclick = async () => {
  try { await navigator.clipboard.writeText(location.href); banner("The link to this setup is copied.", "info"); }
  catch { banner(`The link to this setup: ${location.href}`, "info"); }
};
$("gradcheck").onclick = async () => {
  try {
    const { rows } = await post("gradcheck", { session: state.session });
    const table = $("gradcheck-table");
    table.innerHTML = "<tr><th>layer</th><th>param</th><th>relative error</th><th>ok</th></tr>";
    for (const r of rows) {
      const tr = table.insertRow();
      for (const text of [r.layer, r.param, r.rel_error.toExponential(2), r.ok ? "yes" : "NO"]) tr.insertCell().textContent = text;
      tr.cells[3].className = r.ok ? "ok" : "no";
      tr.dataset.testid = `gradcheck-${r.param}-${r.layer}`;
    }
  } catch (err) { banner(err.message); }
};
document.addEventListener("keydown", e => {
  if (state.walkAt < 0 || e.target.tagName === "INPUT") return;
  if (e.key === "ArrowRight") $("walk-next").click();
  if (e.key === "ArrowLeft") $("walk-prev").click();
});

window.playground = state;  // for the browser tests and the curious: the last frame the page drew
start(Object.fromEntries(new URLSearchParams(location.search)));
