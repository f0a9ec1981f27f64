// Canvas drawing: colour scales, the output and unit maps, the points, the loss curves, matrix heat maps.

export const ORANGE = [245, 147, 34], BLUE = [8, 119, 189], MID = [236, 237, 235];
export const CLASS_COLORS = [ORANGE, BLUE, [46, 160, 67], [130, 80, 223], [207, 34, 46], [170, 120, 0],
  [90, 90, 90], [0, 150, 160]];  // class 0 orange and class 1 blue, as TensorFlow Playground's -1 and +1

const mix = (a, b, t) => [0, 1, 2].map(i => a[i] + (b[i] - a[i]) * t);
const css = c => `rgb(${c.map(Math.round).join(",")})`;

/** t in [-1, 1]: -1 orange, 0 grey-white, +1 blue. */
export function diverging(t) {
  t = Math.max(-1, Math.min(1, t));
  return t < 0 ? mix(MID, ORANGE, -t) : mix(MID, BLUE, t);
}

export function decode(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A number for reading: 4 significant digits, or an exponent when tiny or huge. */
export function fmt(x, digits = 4) {
  if (x === null || x === undefined) return "NaN/inf";
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(digits))) : x.toExponential(digits - 1);
}

const scratch = {};  // one offscreen canvas per map size, reused by every frame

function paint(canvas, n, colorAt, smooth) {
  if (!scratch[n]) {
    const off = document.createElement("canvas");
    off.width = off.height = n;
    scratch[n] = { off, ctx: off.getContext("2d"), img: new ImageData(n, n) };
  }
  const { off, ctx: octx, img } = scratch[n];
  for (let i = 0; i < n * n; i++) {
    const c = colorAt(i);
    img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
  }
  octx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = smooth;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

/** The output over the plane: p(class 1), a mix of class colours, or a value, lightened so points stand out. */
export function drawOutput(canvas, output, n) {
  const maps = output.maps.map(decode);
  let colorAt;
  if (output.kind === "binary") colorAt = i => diverging(2 * maps[0][i] / 255 - 1);
  else if (output.kind === "value") colorAt = i => diverging(2 * maps[0][i] / 255 - 1);
  else colorAt = i => {
    let c = [0, 0, 0], total = 0;
    maps.forEach((m, k) => { const p = m[i] / 255; total += p; c = c.map((v, j) => v + p * CLASS_COLORS[k % 8][j]); });
    return total > 0 ? mix(MID, c.map(v => v / total), Math.min(1, Math.max(...maps.map(m => m[i])) / 255)) : MID;
  };
  paint(canvas, n, i => mix(colorAt(i), [255, 255, 255], 0.35), true);
}

/** One unit's A[l] over the plane, symmetric around 0. */
export function drawUnit(canvas, unit, n) {
  const q = decode(unit.map);
  paint(canvas, n, i => diverging(2 * q[i] / 255 - 1), true);
}

export function toCanvas(domain, canvas, x1, x2) {
  const [a, b, c, d] = domain;
  return [(x1 - a) / (b - a) * canvas.width, (d - x2) / (d - c) * canvas.height];
}

export function toPlane(domain, canvas, px, py) {
  const [a, b, c, d] = domain;
  return [a + px / canvas.width * (b - a), d - py / canvas.height * (d - c)];
}

/** Training points filled, test points hollow; classes by colour, values on the diverging scale. */
export function drawPoints(canvas, points, domain, output, showTest) {
  const ctx = canvas.getContext("2d");
  const sets = showTest ? [[points.train, false], [points.test, true]] : [[points.train, false]];
  for (const [set, hollow] of sets) {
    for (let i = 0; i < set.x1.length; i++) {
      const [x, y] = toCanvas(domain, canvas, set.x1[i], set.x2[i]);
      const v = set.y[i];
      const c = output.kind === "value"
        ? diverging(2 * (v - output.lo) / ((output.hi - output.lo) || 1) - 1) : CLASS_COLORS[v % 8];
      ctx.beginPath();
      ctx.arc(x, y, 3.2, 0, 2 * Math.PI);
      if (hollow) { ctx.strokeStyle = css(c); ctx.lineWidth = 1.6; ctx.stroke(); }
      else { ctx.fillStyle = css(c); ctx.fill(); ctx.strokeStyle = "#fff"; ctx.lineWidth = 1; ctx.stroke(); }
    }
  }
}

/** Training (grey) and test (dark) cost per epoch. */
export function drawCurve(canvas, rows) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = "#dfe2e5"; ctx.strokeRect(0.5, 0.5, W - 1, H - 1);
  const values = rows.flatMap(r => [r[1], r[2]]).filter(v => v !== null);
  if (rows.length < 2 || !values.length) return;
  const top = values.reduce((a, b) => Math.max(a, b), 0) || 1, last = rows.length - 1;
  const every = Math.ceil(rows.length / W);  // at most one point per pixel, however long the run
  for (const [col, color] of [[1, "#9aa0a6"], [2, "#183d4e"]]) {
    ctx.beginPath(); ctx.strokeStyle = color; ctx.lineWidth = 1.5;
    for (let i = 0; i <= last; i = i === last ? last + 1 : Math.min(i + every, last)) {
      const x = 2 + i / last * (W - 4), y = H - 3 - (rows[i][col] ?? top) / top * (H - 8);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    }
    ctx.stroke();
  }
  ctx.fillStyle = "#6a717a"; ctx.font = "10px sans-serif";
  ctx.fillText(`${fmt(top, 3)}`, 4, 11); ctx.fillText(`epoch ${rows[last][0]}`, W - 60, H - 5);
}

/** A matrix as a heat map (symmetric scale, NaN/inf grey). Cells large enough print their numbers, as
 * numpy does, over a common power of ten when the entries are tiny or huge; returns it as `power`. */
export function drawMatrix(canvas, values, maxW = 220, maxH = 150) {
  const rows = values.length, cols = values[0].length;
  const cw = Math.max(3, Math.min(38, Math.floor(maxW / cols))), ch = Math.max(3, Math.min(20, Math.floor(maxH / rows)));
  if (canvas.width !== cols * cw || canvas.height !== rows * ch) { canvas.width = cols * cw; canvas.height = rows * ch; }
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  let s = 0;
  for (const row of values) for (const v of row) if (v !== null) s = Math.max(s, Math.abs(v));
  s = s || 1;
  const power = s >= 0.01 && s < 100 ? 0 : Math.floor(Math.log10(s)), unit = 10 ** power;
  const text = cw >= 32 && ch >= 14;
  ctx.font = "10px ui-monospace, monospace"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
    const v = values[i][j];
    ctx.fillStyle = v === null ? "#888" : css(diverging(v / s));
    ctx.fillRect(j * cw, i * ch, cw - (cw > 4), ch - (ch > 4));
    if (text) {
      const u = v === null ? null : v / unit + 0;  // + 0: no "-0.00"
      ctx.fillStyle = v !== null && Math.abs(v / s) > 0.6 ? "#fff" : "#1f2328";
      ctx.fillText(u === null ? "nan" : Math.abs(u) >= 9.995 ? u.toFixed(0) : u.toFixed(2).replace("-0.00", "0.00"),
        j * cw + cw / 2, i * ch + ch / 2);
    }
  }
  return { cw, ch, power: text ? power : 0 };
}
