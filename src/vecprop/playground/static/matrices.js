// The matrices of one layer for the last mini-batch: heat maps with their shapes and equations, the value
// under the mouse, and any entry written out with its numbers ((1), (5), (C), (A) as eq. (10), (B), (D)).
import { drawMatrix, fmt } from "./draw.js";

const TERMS = 8;  // terms of a sum written out before "..."

/** "dTheta[2]" -> ["dTheta", 2] */
export const parse = name => { const m = /^(.*)\[(\d+)\]$/.exec(name); return [m[1], Number(m[2])]; };

export function panelsOf(l, L) {
  return {
    forward: [`A[${l - 1}]`, `Theta[${l}]`, `b[${l}]`, `Z[${l}]`, `A[${l}]`],
    backward: [`dA[${l}]`, `dZ[${l}]`, `dTheta[${l}]`, `db[${l}]`, ...(l > 1 ? [`dA[${l - 1}]`] : [])],
  };
}

export class Matrices {
  constructor(els) { this.els = els; this.panels = {}; }

  /** Draw layer l's panels from the frame's step (every panel keeps data-shape = its whole shape). */
  update(frame, walk, l, setup) {
    this.frame = frame; this.setup = setup; this.l = l;
    this.steps = Object.fromEntries((walk || []).map(s => [s.name, s]));
    const M = frame.step ? frame.step.matrices : {}, L = frame.network.sizes.length - 1;
    const { forward, backward } = panelsOf(l, L);
    for (const [root, names] of [[this.els.forward, forward], [this.els.backward, backward]]) {
      const key = names.join(",") + (frame.step ? "" : "-empty");
      if (root.dataset.key !== key) {
        root.dataset.key = key;
        root.replaceChildren(...names.map(name => this.panel(name)));
      }
      for (const name of names) this.fill(name, M[name]);
    }
    const m = frame.step ? frame.step.m : 0;
    this.els.batchInfo.textContent = frame.step
      ? `the last mini-batch: m = ${m} examples (epoch ${frame.step.epoch}, batch ${frame.step.batch}), J = ${fmt(frame.step.J)}`
      + (m > frame.step.idx.length ? `; the first ${frame.step.idx.length} columns are drawn` : "")
      : "take a step to fill the matrices";
    this.els.eq10.textContent = frame.step ? `eq. (10): ${this.entry(`dTheta[${l}]`, this.pin?.i ?? 0, this.pin?.j ?? 0)}` : "";
  }

  panel(name) {
    const [symbol, layer] = parse(name);
    const div = document.createElement("div");
    div.className = "matrix";
    div.dataset.testid = `matrix-${symbol}-${layer}`;
    div.dataset.name = name;
    const head = document.createElement("div");
    head.className = "mhead";
    const { tag, equation } = this.describe(name);
    head.innerHTML = `<span class="tag"></span><b></b><span class="shape"></span>`;
    head.children[0].textContent = tag;
    head.children[1].textContent = name;
    const eq = document.createElement("div");
    eq.className = "eq"; eq.textContent = equation;
    const canvas = document.createElement("canvas");
    canvas.onmousemove = e => this.hover(name, canvas, e);
    canvas.onclick = e => { this.hover(name, canvas, e); if (symbol === "dTheta") this.pin = this.last; };
    const absent = document.createElement("div");
    absent.className = "absent";
    div.append(head, eq, canvas, absent);
    this.panels[name] = div;
    return div;
  }

  describe(name) {
    const [symbol, l] = parse(name), step = this.steps[name], L = this.frame.network.sizes.length - 1;
    if (step) return { tag: step.tag, equation: step.equation };
    if (name === "A[0]") return { tag: "X", equation: "X = A[0]: the features of the batch, one column per example" };
    if (symbol === "Theta" || symbol === "b") return { tag: "θ", equation: `the ${symbol}[${l}] this step used (before its update)` };
    if (symbol === "dA" && l === L) return { tag: "(5)", equation: `dA[${L}] = err'(A[${L}], Y)` };
    return { tag: "", equation: "" };
  }

  fill(name, view) {
    const div = this.panels[name], canvas = div.querySelector("canvas"), absent = div.querySelector(".absent");
    const [symbol, l] = parse(name), L = this.frame.network.sizes.length - 1;
    if (!view) {
      canvas.hidden = true;
      div.dataset.formed = "no";
      delete div.dataset.shape;
      div.querySelector(".shape").textContent = "";
      absent.textContent = !this.frame.step ? "(no step yet)"
        : symbol === "dA" && l === L ? `not formed: ${this.frame.network.activations[L - 1]} + ${this.frame.network.loss} fuse `
          + `(5) and (C) into dZ[${L}] = A[${L}] - Y. Tick "(5) and (C) unfused" to see it.` : "(not computed)";
      return;
    }
    canvas.hidden = false;
    absent.textContent = "";
    div.dataset.formed = "yes";
    div.dataset.shape = `${view.shape[0]}x${view.shape[1]}`;
    const geom = drawMatrix(canvas, view.values);
    canvas.dataset.cw = geom.cw; canvas.dataset.ch = geom.ch;
    div.querySelector(".shape").textContent = `(${view.shape[0]}, ${view.shape[1]})`
      + (geom.power ? ` ×1e${geom.power}` : "");
  }

  hover(name, canvas, e) {
    const view = this.frame.step.matrices[name];
    const i = Math.floor(e.offsetY / Number(canvas.dataset.ch)), j = Math.floor(e.offsetX / Number(canvas.dataset.cw));
    if (!view || i < 0 || j < 0 || i >= view.values.length || j >= view.values[0].length) return;
    const v = view.values[i][j], h = this.els.hover;
    h.textContent = `${name} entry (${i}, ${j}) = ${v === null ? "NaN or inf" : v.toPrecision(8)}`;
    h.dataset.name = name; h.dataset.i = i; h.dataset.j = j; h.dataset.value = v === null ? "nan" : String(v);
    this.last = { i, j };
    this.els.entry.textContent = this.entry(name, i, j);
  }

  highlight(name) {
    for (const [n, div] of Object.entries(this.panels)) div.classList.toggle("highlight", n === name);
  }

  /** Entry (i, j) of a matrix written out with the numbers of its equation; "" where it has none. */
  entry(name, i, j) {
    const M = this.frame.step?.matrices || {}, get = (n, r, c) => M[n]?.values[r]?.[c];
    const [symbol, l] = parse(name), L = this.frame.network.sizes.length - 1, m = this.frame.step?.m;
    const v = get(name, i, j);
    if (v === undefined) return "";
    const sum = (k, term) => {
      const parts = [];
      for (let t = 0; t < Math.min(k, TERMS); t++) parts.push(term(t));
      return parts.join(" + ") + (k > TERMS ? ` + ... (${k - TERMS} more)` : "");
    };
    const act = this.frame.network.activations[l - 1], e = `${name}_${i}^(${j})`;
    switch (symbol) {
      case "Z": {
        const n = M[`Theta[${l}]`].values[0].length;
        return `(1) ${e} = sum_k Theta[${l}]_${i}k A[${l - 1}]_k^(${j}) + b[${l}]_${i} = `
          + `${sum(n, k => `${fmt(get(`Theta[${l}]`, i, k))}*${fmt(get(`A[${l - 1}]`, k, j))}`)} + ${fmt(get(`b[${l}]`, i, 0))} = ${fmt(v)}`;
      }
      case "A":
        if (l === 0) return `${e} = ${fmt(v)}: feature ${i} of example ${j}`;
        return `(1) ${e} = ${act}(Z[${l}]_${i}^(${j})) = ${act}(${fmt(get(`Z[${l}]`, i, j))})`
          + (M[`M[${l}]`] ? ` * M = ... * ${fmt(get(`M[${l}]`, i, j))}` : "") + ` = ${fmt(v)}`;
      case "dA":
        if (l === L) return `(5) ${e} = err'(A, Y) for ${this.frame.network.loss} = err'(${fmt(get(`A[${L}]`, i, j))}, `
          + `${fmt(this.frame.step.Y.values[i][j])}) = ${fmt(v)}`;
        return `(D) ${e} = sum_k Theta[${l + 1}]_k${i} dZ[${l + 1}]_k^(${j}) = `
          + `${sum(this.frame.network.sizes[l + 1], k => `${fmt(get(`Theta[${l + 1}]`, k, i))}*${fmt(get(`dZ[${l + 1}]`, k, j))}`)} = ${fmt(v)}`;
      case "dZ":
        if (l === L && !M[`dA[${L}]`]) return `(C) fused: ${e} = A[${L}] - Y = ${fmt(get(`A[${L}]`, i, j))} - ${fmt(this.frame.step.Y.values[i][j])} = ${fmt(v)}`;
        if (M[`alpha'[${l}]`]) return `(C) ${e} = dA * ${act}'(Z) = ${fmt(get(`dA[${l}]`, i, j))}`
          + (M[`M[${l}]`] ? ` * ${fmt(get(`M[${l}]`, i, j))} (mask)` : "") + ` * ${fmt(get(`alpha'[${l}]`, i, j))} = ${fmt(v)}`;
        return `(C) softmax: ${e} = A_${i} (dA_${i} - sum_k A_k dA_k) = ${fmt(get(`A[${l}]`, i, j))} * (${fmt(get(`dA[${l}]`, i, j))} - `
          + `(${sum(this.frame.network.sizes[l], k => `${fmt(get(`A[${l}]`, k, j))}*${fmt(get(`dA[${l}]`, k, j))}`)})) = ${fmt(v)}`;
      case "dTheta": {
        const l2 = Number(this.setup.l2);
        return `(A) dTheta[${l}]_${i}${j} = 1/m sum_c dZ[${l}]_${i}^(c) A[${l - 1}]_${j}^(c) = 1/${m} (`
          + sum(m, c => `${fmt(get(`dZ[${l}]`, i, c))}*${fmt(get(`A[${l - 1}]`, j, c))}`) + ")"
          + (l2 ? ` + ${l2}/${m} * ${fmt(get(`Theta[${l}]`, i, j))}` : "") + ` = ${fmt(v)}`;
      }
      case "db":
        return `(B) db[${l}]_${i} = 1/m sum_c dZ[${l}]_${i}^(c) = 1/${m} (`
          + sum(m, c => fmt(get(`dZ[${l}]`, i, c))) + `) = ${fmt(v)}`;
      case "Theta_new": case "b_new": {
        const p = symbol.replace("_new", ""), before = get(`${p}[${l}]`, i, j), grad = get(`d${p}[${l}]`, i, j);
        return `update: ${p}[${l}]_${i}${j} ${fmt(before)} -> ${fmt(v)} (change ${fmt(v - before)}; d${p} = ${fmt(grad)}, `
          + `lr = ${this.setup.lr}, optimizer ${this.setup.opt})`;
      }
      default:
        return `${name} entry (${i}, ${j}) = ${fmt(v)}`;
    }
  }
}
