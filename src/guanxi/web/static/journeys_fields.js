// Form controls for the journey editor's side panel: each takes the current value and a
// callback with the new one, so the panel can keep the node's JSON in step as people type.
import { UNITS, splitSeconds } from "./journeys_nodes.js";

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "testid") node.dataset.testid = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// a titled field: a label around a single control, a named group around several
export function row(title, ...controls) {
  const single = controls.length === 1 && /^(INPUT|SELECT|TEXTAREA)$/.test(controls[0]?.tagName);
  const props = single ? { className: "journey-field" } : { className: "journey-field", role: "group", "aria-label": title };
  return el(single ? "label" : "div", props, el("span", { textContent: title }), ...controls);
}

// a picker of {value, label}; a current value not among them shows as "choose" (empty)
export function choose(options, current, onChange, { testid, placeholder } = {}) {
  const known = options.some((o) => String(o.value) === String(current ?? ""));
  const select = el("select", { testid, onchange: () => onChange(select.value === "" ? null : select.value) });
  if (!known || placeholder) select.append(el("option", { value: "", textContent: placeholder || "—" }));
  for (const o of options) select.append(el("option", { value: String(o.value), textContent: o.label }));
  select.value = known ? String(current) : "";
  return select;
}

export const named = (list) => list.map((x) => ({ value: x.id, label: x.name }));

export function text(value, onInput, props = {}) {
  const input = el("input", { type: "text", value: value ?? "", ...props, oninput: () => onInput(input.value) });
  return input;
}

export function number(value, onInput, props = {}) {
  const input = el("input", {
    type: "number", value: value ?? "", ...props,
    oninput: () => input.value !== "" && !Number.isNaN(Number(input.value)) && onInput(Number(input.value)),
  });
  return input;
}

export function area(value, onInput, props = {}) {
  const box = el("textarea", { rows: 3, ...props, oninput: () => onInput(box.value) });
  box.value = value ?? "";
  return box;
}

// check boxes for a set of ids
export function checks(options, chosen, onChange, testid) {
  const picked = new Set((chosen || []).map(String));
  const box = el("div", { className: "journey-checks", testid });
  for (const o of options) {
    const input = el("input", {
      type: "checkbox", checked: picked.has(String(o.value)), value: String(o.value),
      onchange: () => {
        if (input.checked) picked.add(input.value);
        else picked.delete(input.value);
        onChange(options.map((x) => String(x.value)).filter((v) => picked.has(v)));
      },
    });
    box.append(el("label", { className: "check" }, input, o.label));
  }
  return box;
}

// seconds as an amount and a unit (days, hours, minutes)
export function seconds(value, onChange, W, { min = 1, testid } = {}) {
  const parts = splitSeconds(value);
  const amount = el("input", { type: "number", min, step: "any", value: parts.amount, testid });
  const unit = el("select", {});
  for (const [name, size] of UNITS) unit.append(el("option", { value: size, textContent: W.units[name] }));
  unit.value = String(parts.size);
  const changed = () => {
    const total = Math.round(Number(amount.value) * Number(unit.value));
    if (amount.value !== "" && total >= min) onChange(total);
  };
  amount.addEventListener("input", changed);
  unit.addEventListener("change", changed);
  return el("span", { className: "journey-inline" }, amount, unit);
}

// JSON typed by hand (a condition): passed on only while it parses as an object
export function json(value, onValid, W, testid) {
  const box = el("textarea", { rows: 8, spellcheck: false, className: "journey-json", testid });
  const note = el("small", { className: "journey-note" });
  box.value = JSON.stringify(value ?? {}, null, 2);
  box.addEventListener("input", () => {
    try {
      const parsed = JSON.parse(box.value);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(W.not_an_object);
      note.textContent = "";
      box.classList.remove("invalid");
      onValid(parsed);
    } catch (error) {
      note.textContent = `${W.invalid_json} ${error.message}`;
      box.classList.add("invalid");
    }
  });
  const set = (next) => {
    box.value = JSON.stringify(next, null, 2);
    box.dispatchEvent(new Event("input"));
  };
  return { box, note, set };
}

const FILTER_OPS = ["eq", "ne", "contains", "gt", "gte", "lt", "lte"];
const NUMERIC = new Set(["gt", "gte", "lt", "lte"]);

// event property filters: property, operator, value (a number for comparisons)
export function filters(list, onChange, P, W) {
  const items = (list || []).map((f) => ({ ...f }));
  const box = el("div", { className: "journey-filters" });
  const emit = () => onChange(items.filter((f) => f.property).map((f) => ({
    ...f, value: NUMERIC.has(f.op) && f.value !== "" && !Number.isNaN(Number(f.value)) ? Number(f.value) : f.value,
  })));
  const draw = () => {
    box.replaceChildren();
    items.forEach((f, i) => {
      const ops = FILTER_OPS.map((op) => ({ value: op, label: P.op_labels[op] || op }));
      box.append(el(
        "div", { className: "journey-inline" },
        text(f.property, (v) => { f.property = v.trim(); emit(); }, { placeholder: W.property, size: 8 }),
        choose(ops, f.op, (v) => { f.op = v || "eq"; emit(); }),
        text(f.value, (v) => { f.value = v; emit(); }, { placeholder: W.value, size: 8 }),
        el("button", { type: "button", className: "link", textContent: "×", title: W.remove, onclick: () => { items.splice(i, 1); emit(); draw(); } }),
      ));
    });
    box.append(el("button", { type: "button", textContent: W.add_filter, onclick: () => { items.push({ property: "", op: "eq", value: "" }); draw(); } }));
  };
  draw();
  return box;
}
