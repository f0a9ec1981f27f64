// The form: shows the server's canonical setup, and turns each change into a setup patch.
// The setup's keys and checks live in Python (playground/setup.py); the page only edits its text values.

const CHOICES = {
  lr: ["0.00001", "0.0001", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"],
  l2: ["0", "0.0001", "0.001", "0.01", "0.1", "1", "3", "10"],
  dropout: ["0", "0.1", "0.2", "0.3", "0.5"],
};
const FIELDS = ["data", "n", "noise", "ratio", "seed", "head", "opt", "lr", "batch", "l2", "dropout", "stop"];

const $ = id => document.getElementById(id);

/** Select the option equal to value as a number (or text), adding it when a link asks for another. */
function choose(select, value) {
  let option = [...select.options].find(o => o.value === value || (o.value !== "" && Number(o.value) === Number(value)));
  if (!option) { option = new Option(value, value); select.add(option); }
  select.value = option.value;
}

export class Controls {
  constructor(onPatch) {
    for (const [key, values] of Object.entries(CHOICES)) for (const v of values) $(key).add(new Option(v, v));
    for (const key of FIELDS) {
      const el = $(key);
      el.addEventListener("change", () => onPatch(key === "data" ? { data: el.value, noise: "", head: "" } : { [key]: el.value }));
      if (el.type === "range") el.addEventListener("input", () => { $(`${key}-out`).textContent = el.value; });
    }
    $("unfused").addEventListener("change", () => onPatch({ unfused: $("unfused").checked ? "1" : "0" }));
  }

  /** Write the setup into the form, except the field being edited. */
  show(setup, frame) {
    for (const key of FIELDS) {
      const el = $(key);
      if (el === document.activeElement && el.type === "number") continue;
      if (el.tagName === "SELECT") choose(el, setup[key]);
      else el.value = setup[key];
      if (el.type === "range") $(`${key}-out`).textContent = setup[key];
    }
    $("unfused").checked = setup.unfused === "1";
    $("unfused").disabled = !frame.network.fused && setup.unfused !== "1";
    $("noise").disabled = $("n").disabled = setup.data === "csv";
    $("data").querySelector("option[value=csv]").disabled = setup.data !== "csv";
    const click = $("click-class"), want = frame.classes
      ? ["off", ...frame.classes.map((c, k) => `${k}`)] : ["off", "-1", "0", "1"];
    const labels = frame.classes ? ["nothing", ...frame.classes.map(c => `a point of class ${c}`)]
      : ["nothing", "a point of value -1", "a point of value 0", "a point of value 1"];
    if ([...click.options].map(o => o.value).join() !== want.join()) {
      click.replaceChildren(...want.map((v, k) => new Option(labels[k], v)));
    }
  }
}
