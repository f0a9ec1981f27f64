// The network as TensorFlow Playground draws it: a column per layer, each unit's A[l] as a small map,
// Theta[l] as edges (width |Theta_ij|, blue > 0, orange < 0). Built when the network changes, redrawn per frame.
import { drawUnit } from "./draw.js";

export const LABELS = { x1: "x₁", x2: "x₂", x1_sq: "x₁²", x2_sq: "x₂²", x1_x2: "x₁x₂", sin_x1: "sin x₁", sin_x2: "sin x₂" };
const SHOWN = 8, NODE = 30, GAP = 40, TOP = 64, LEFT = 54;
const SVGNS = "http://www.w3.org/2000/svg";

export class NetworkView {
  constructor(root, handlers) { this.root = root; this.on = handlers; this.key = ""; }

  /** Rebuild the columns when the network, features or selected layer changed; then draw maps and edges. */
  update(frame, setup, activations) {
    const key = JSON.stringify([frame.network.sizes, frame.network.activations, setup.features, setup.layer,
      frame.all_features, this.root.clientWidth]);
    if (key !== this.key) { this.key = key; this.build(frame, setup, activations); }
    this.draw(frame);
  }

  build(frame, setup, activations) {
    const { sizes, activations: acts } = frame.network, L = sizes.length - 1;
    const all = frame.all_features, chosen = setup.features.split(",");
    const width = Math.max(this.root.clientWidth, 140 * (L + 1)), step = (width - LEFT - 90) / L;
    this.root.replaceChildren();
    this.svg = document.createElementNS(SVGNS, "svg");
    this.root.append(this.svg);
    this.columns = [];  // per layer: [{canvas, x, y}] of the units drawn
    for (let l = 0; l <= L; l++) {
      const x = LEFT + l * step, units = [];
      const n = l === 0 ? all.length : sizes[l];
      const head = document.createElement("div");
      head.className = "colname" + (l === Number(setup.layer) ? " selected" : "");
      head.textContent = l === 0 ? "features A[0]" : l === L ? `output A[${L}]` : `layer ${l}`;
      head.dataset.testid = `layer-${l}`;
      head.style.cssText = `position:absolute; left:${x + NODE / 2}px; top:0; transform:translateX(-50%)`;
      if (l > 0) { head.title = `show the matrices of layer ${l}`; head.onclick = () => this.on.selectLayer(l); }
      this.root.append(head);
      if (l > 0 && l < L) this.root.append(this.layerControls(l, x, sizes[l], activations, acts[l - 1]));
      if (l === L) this.root.append(this.note(`${acts[L - 1]}`, x + NODE / 2, 20));
      for (let i = 0; i < Math.min(n, SHOWN); i++) {
        const y = TOP + i * GAP, canvas = document.createElement("canvas");
        canvas.width = canvas.height = 20;
        canvas.className = "node";
        canvas.style.cssText = `left:${x}px; top:${y}px; width:${NODE}px; height:${NODE}px`;
        if (l === 0) {
          const name = all[i], on = chosen.includes(name);
          canvas.classList.add("feature");
          if (!on) canvas.classList.add("off");
          canvas.title = `${name}: click to ${on ? "drop" : "use"} it`;
          canvas.dataset.testid = `feature-${name}`;
          canvas.onclick = () => this.on.toggleFeature(name);
          const label = this.note(LABELS[name] || name, x - 6, y + 8);
          label.style.transform = "translateX(-100%)";
          this.root.append(label);
          units.push({ canvas, x, y, on, row: on ? chosen.indexOf(name) : -1, feature: name });
        } else {
          canvas.title = `unit ${i} of layer ${l}: A[${l}] over the plane`;
          units.push({ canvas, x, y, on: true, row: i });
        }
        this.root.append(canvas);
      }
      if (n > SHOWN) this.root.append(this.note(`+${n - SHOWN} more`, x, TOP + SHOWN * GAP - 8));
      this.columns.push(units);
    }
    const height = TOP + Math.min(Math.max(...sizes.slice(1), all.length), SHOWN) * GAP + 10;
    this.root.style.height = `${height}px`;
    this.svg.setAttribute("width", width); this.svg.setAttribute("height", height);
  }

  layerControls(l, x, width, activations, act) {
    const box = document.createElement("div");
    box.className = "colctl";
    box.style.cssText = `left:${x + NODE / 2}px; top:18px; transform:translateX(-50%)`;
    const row = document.createElement("div");
    for (const [text, delta] of [["+", 1], ["−", -1]]) {
      const b = document.createElement("button");
      b.textContent = text; b.title = `${delta > 0 ? "one more" : "one fewer"} unit in layer ${l} (now ${width})`;
      b.dataset.testid = `units-${delta > 0 ? "plus" : "minus"}-${l}`;
      b.onclick = () => this.on.width(l, delta);
      row.append(b);
    }
    const select = document.createElement("select");
    select.dataset.testid = `act-${l}`;
    for (const name of activations) select.add(new Option(name, name, false, name === act));
    select.onchange = () => this.on.activation(l, select.value);
    box.append(row, select);
    return box;
  }

  note(text, x, y) {
    const el = document.createElement("div");
    el.className = "nodelabel"; el.textContent = text;
    el.style.left = `${x}px`; el.style.top = `${y}px`;
    return el;
  }

  /** Unit maps from the frame, and Theta[l] as edges between the units drawn. */
  draw(frame) {
    const maps = frame.maps, Theta = frame.network.Theta;
    this.columns.forEach((units, l) => units.forEach(u => {
      const unit = l === 0 ? maps.features[frame.all_features.indexOf(u.feature)] : maps.units[l][u.row];
      if (unit) drawUnit(u.canvas, unit, maps.unit_n);
    }));
    const lines = [];
    for (let l = 1; l < this.columns.length; l++) {
      const W = Theta[l - 1];
      let top = 0;
      for (const row of W) for (const v of row) if (v !== null) top = Math.max(top, Math.abs(v));
      for (const to of this.columns[l]) for (const from of this.columns[l - 1]) {
        if (!from.on) continue;
        const w = W[to.row][from.row];
        if (w === null || w === undefined) continue;
        const width = 0.4 + 4 * Math.abs(w) / (top || 1);
        lines.push(`<line x1="${from.x + NODE}" y1="${from.y + NODE / 2}" x2="${to.x}" y2="${to.y + NODE / 2}" ` +
          `stroke="${w > 0 ? "#0877bd" : "#f59322"}" stroke-width="${width.toFixed(2)}" stroke-opacity="0.75"/>`);
      }
    }
    this.svg.innerHTML = lines.join("");
  }
}
