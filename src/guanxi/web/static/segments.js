// The segment builder: edits, in place, the condition tree the segments API takes (kept in the
// form's hidden "condition" input) and asks the console for a live count, debounced, whenever
// the tree changes. Choices and labels come from the page (#segment-schema), already translated.
(() => {
  "use strict";
  const mount = document.querySelector("[data-segment-builder]");
  if (!mount) return;
  const S = JSON.parse(document.getElementById("segment-schema").textContent);
  const W = S.words;
  const form = mount.closest("form");
  const output = form.querySelector('input[name="condition"]');
  const previewBox = form.querySelector("[data-segment-preview]");
  const csrf = form.querySelector('input[name="csrf_token"]').value;
  const COMPARE = ["eq", "ne", "gt", "gte", "lt", "lte"];
  const FILTER_OPS = ["eq", "ne", "contains", "gt", "gte", "lt", "lte"];
  const GRADES = ["A", "B", "C", "D"];
  const DELAY_MS = 400;

  // -- the tree: the API's shape, except that "not" is a flag (negate) on the node it wraps --

  const isGroup = (node) => node.kind === "and" || node.kind === "or";
  const group = (kind, items = []) => ({ kind, negate: false, items });

  function load(json) {
    if (json.kind === "not") {
      const inner = load(json.condition);
      inner.negate = !inner.negate;
      return inner;
    }
    if (isGroup(json)) return group(json.kind, (json.kind === "and" ? json.all : json.any).map(load));
    return { ...structuredClone(json), negate: false };
  }

  function dump(node) {
    let out;
    if (isGroup(node)) {
      out = { kind: node.kind, [node.kind === "and" ? "all" : "any"]: node.items.map(dump) };
    } else {
      out = { ...node };
      delete out.negate;
    }
    return node.negate ? { kind: "not", condition: out } : out;
  }

  function initial() {
    let json = null;
    try {
      json = JSON.parse(output.value || "null");
    } catch {
      json = null; // a draft that was not JSON: start again
    }
    const tree = json && typeof json === "object" ? load(json) : group("and");
    return isGroup(tree) && !tree.negate ? tree : group("and", [tree]);
  }

  // -- choices and defaults --

  const fieldsOf = (kind) => (kind === "account" ? S.account_fields : S.contact_fields);
  const fieldInfo = (kind, name) =>
    fieldsOf(kind).find((f) => f.name === name) || { name, label: name, type: "text", options: [] };
  const propsOf = (type) => (S.event_types.find((e) => e.name === type) || { props: [] }).props;
  const firstNumeric = (type) => (propsOf(type).find((p) => p.numeric) || { name: "" }).name;
  const firstId = (list) => (list.length ? list[0].id : "");
  const firstType = () =>
    S.event_types.some((e) => e.name === "page_view") ? "page_view" : S.event_types[0].name;
  const toNumber = (text) => (text === "" || text === null || isNaN(Number(text)) ? null : Number(text));

  function blankValue(info, op) {
    if (op === "is_set" || op === "is_not_set") return null;
    if (op === "in" || op === "not_in") return [];
    if (info.type === "boolean") return true;
    if (info.options.length) return info.options[0].value;
    return info.type === "number" ? null : "";
  }

  function setField(node, name) {
    const info = fieldInfo(node.kind, name);
    const ops = S.ops[info.type] || [];
    node.field = name;
    if (!ops.includes(node.op)) node.op = ops[0];
    node.value = blankValue(info, node.op);
    return node;
  }

  function setOp(node, op) {
    const info = fieldInfo(node.kind, node.field);
    const wantsList = op === "in" || op === "not_in";
    const fits = op.startsWith("is_")
      ? node.value === null
      : wantsList === Array.isArray(node.value) && node.value !== null;
    node.op = op;
    if (!fits) node.value = blankValue(info, op);
  }

  const DEFAULTS = {
    field: () => setField({ kind: "field", field: "", op: "eq", value: "" }, S.contact_fields[0].name),
    account: () =>
      setField({ kind: "account", quantifier: "any", field: "", op: "eq", value: "" }, "industry"),
    event: () => ({ kind: "event", type: firstType(), where: [], window: { days: 30 }, measure: "count", op: "gte", value: 1 }),
    event_time: () => ({ kind: "event_time", type: firstType(), where: [], which: "last", op: "after", days_ago: 30 }),
    tag: () => ({ kind: "tag", op: "any", tags: S.tags.length ? [S.tags[0].id] : [] }),
    score: () => ({ kind: "score", model: firstId(S.models), part: "score", op: "gte", value: 50 }),
    grade: () => ({ kind: "grade", model: firstId(S.models), grades: ["A"] }),
    segment: () => ({ kind: "segment", segment: firstId(S.segments), op: "in" }),
  };
  const NEEDS = { tag: S.tags, score: S.models, grade: S.models, segment: S.segments };

  // -- dates: the browser's local days, sent as instants; "to" a day includes that day --

  const pad = (n) => String(n).padStart(2, "0");
  function localDay(iso, shift = 0) {
    if (!iso) return "";
    const d = new Date(iso);
    d.setDate(d.getDate() + shift);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }
  function fromDay(day, shift = 0) {
    if (!day) return null;
    const d = new Date(`${day}T00:00:00`);
    d.setDate(d.getDate() + shift);
    return d.toISOString();
  }

  // -- controls --

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "testid") node.dataset.testid = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && key !== "list") node[key] = value; // an input's list is read-only
      else node.setAttribute(key, value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }
  const text = (words) => el("span", { textContent: words });

  // a picker of [value, label] pairs; a choice redraws the tree (it may change what follows)
  function pick(choices, current, onChange, testid) {
    const box = el("select", { testid });
    for (const [value, label] of choices) {
      box.append(el("option", { value, textContent: label, selected: String(value) === String(current) }));
    }
    box.addEventListener("change", () => {
      onChange(box.value);
      redraw();
    });
    return box;
  }

  function pickMany(choices, current, onChange, testid) {
    const box = el("select", { multiple: true, size: Math.min(Math.max(choices.length, 2), 5), testid });
    for (const [value, label] of choices) {
      box.append(el("option", { value, textContent: label, selected: current.map(String).includes(String(value)) }));
    }
    box.addEventListener("change", () => {
      onChange([...box.selectedOptions].map((o) => o.value));
      changed();
    });
    return box;
  }

  function field(type, current, onInput, testid, extra = {}) {
    const box = el("input", { type, value: current ?? "", testid, ...extra });
    box.addEventListener("input", () => {
      onInput(box.value);
      changed();
    });
    return box;
  }

  let lists = 0;
  function propertyField(type, current, onInput, numericOnly, testid) {
    const id = `segment-props-${++lists}`;
    const names = propsOf(type).filter((p) => p.numeric || !numericOnly);
    return el(
      "span",
      {},
      field("text", current, onInput, testid, { size: 12, placeholder: W.property, list: id }),
      el("datalist", { id }, ...names.map((p) => el("option", { value: p.name }))),
    );
  }

  const removeButton = (parent, node) =>
    el("button", {
      type: "button", className: "link", textContent: W.remove, testid: "remove",
      onclick: () => {
        parent.items.splice(parent.items.indexOf(node), 1);
        redraw();
      },
    });

  function negation(node) {
    const box = el("input", { type: "checkbox", checked: node.negate, testid: "negate" });
    box.addEventListener("change", () => {
      node.negate = box.checked;
      redraw();
    });
    return el("label", {}, box, W.not);
  }

  // -- editors, one per kind of condition --

  function valueEditor(info, node) {
    if (node.op === "is_set" || node.op === "is_not_set") return null;
    const set = (value) => { node.value = value; };
    const options = info.options.map((o) => [o.value, o.label]);
    if (node.op === "in" || node.op === "not_in") {
      if (options.length) return pickMany(options, node.value, set, "cond-value");
      const split = (v) => v.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
      return field("text", node.value.join(", "), (v) => set(split(v)), "cond-value", { placeholder: W.values_hint });
    }
    if (info.type === "boolean") {
      return pick([["true", W.yes], ["false", W.no]], String(node.value), (v) => set(v === "true"), "cond-value");
    }
    if (options.length) return pick(options, node.value, set, "cond-value");
    if (info.type === "number") return field("number", node.value, (v) => set(toNumber(v)), "cond-value", { step: "any" });
    return field(info.type === "date" ? "date" : "text", node.value, set, "cond-value");
  }

  function fieldEditor(node) {
    const info = fieldInfo(node.kind, node.field);
    const fields = fieldsOf(node.kind).map((f) => [f.name, f.label]);
    if (!fields.some(([name]) => name === node.field)) fields.push([node.field, node.field]);
    return [
      pick(fields, node.field, (v) => setField(node, v), "cond-field"),
      pick((S.ops[info.type] || []).map((o) => [o, S.op_labels[o]]), node.op, (v) => setOp(node, v), "cond-op"),
      valueEditor(info, node),
    ];
  }

  function typePicker(node) {
    const types = S.event_types.map((e) => [e.name, e.label]);
    return pick(types, node.type, (v) => {
      node.type = v;
      node.where = [];
      if (node.measure === "sum") node.property = firstNumeric(v);
    }, "event-type");
  }

  function windowEditor(node) {
    const w = node.window || {};
    const mode = w.days !== undefined && w.days !== null ? "days" : w.since || w.until ? "range" : "all";
    const choose = (v) => {
      node.window = v === "days" ? { days: 30 } : v === "range" ? { since: fromDay(localDay(new Date().toISOString(), -30)), until: null } : {};
    };
    const parts = [pick([["all", W.all_time], ["days", W.last_days], ["range", W.between]], mode, choose, "window")];
    if (mode === "days") {
      parts.push(field("number", w.days, (v) => { node.window = { days: toNumber(v) ?? 0 }; }, "window-days", { min: 1, max: 3650 }), text(W.days));
    } else if (mode === "range") {
      parts.push(
        text(W.from), field("date", localDay(w.since), (v) => { w.since = fromDay(v); }, "since"),
        text(W.to), field("date", localDay(w.until, -1), (v) => { w.until = fromDay(v, 1); }, "until"),
      );
    }
    return parts;
  }

  function eventEditor(node) {
    const did = !(node.measure === "count" && node.op === "eq" && Number(node.value) === 0);
    const mode = (v) => {
      delete node.property;
      Object.assign(node, v === "not" ? { measure: "count", op: "eq", value: 0 } : { measure: "count", op: "gte", value: 1 });
    };
    const parts = [pick([["did", W.did], ["not", W.did_not]], did ? "did" : "not", mode, "event-mode"), typePicker(node)];
    if (did) {
      const measure = (v) => {
        node.measure = v;
        if (v === "sum") node.property = firstNumeric(node.type);
        else delete node.property;
      };
      parts.push(pick([["count", W.count], ["sum", W.sum]], node.measure, measure, "measure"));
      if (node.measure === "sum") parts.push(propertyField(node.type, node.property, (v) => { node.property = v; }, true, "sum-property"));
      parts.push(
        pick(COMPARE.map((o) => [o, S.op_labels[o]]), node.op, (v) => { node.op = v; }, "event-op"),
        field("number", node.value, (v) => { node.value = toNumber(v); }, "event-value", { step: "any", min: 0 }),
      );
    }
    return [...parts, ...windowEditor(node)];
  }

  function timeEditor(node) {
    const moment = (v) => {
      if (v === "at") {
        delete node.days_ago;
        node.at = fromDay(localDay(new Date().toISOString()));
      } else {
        delete node.at;
        node.days_ago = 30;
      }
    };
    const when = node.at
      ? field("date", localDay(node.at), (v) => { node.at = fromDay(v); }, "at")
      : field("number", node.days_ago, (v) => { node.days_ago = toNumber(v); }, "days-ago", { min: 0 });
    return [
      pick([["last", W.last], ["first", W.first]], node.which, (v) => { node.which = v; }, "which"),
      typePicker(node),
      pick([["after", W.after], ["before", W.before]], node.op, (v) => { node.op = v; }, "time-op"),
      when,
      pick([["days", W.days_ago], ["at", W.on_date]], node.at ? "at" : "days", moment, "moment"),
    ];
  }

  const modelPicker = (node) =>
    pick(S.models.map((m) => [m.id, m.name]), node.model, (v) => { node.model = v; }, "model");

  function gradeBox(node, grade) {
    const box = el("input", { type: "checkbox", checked: node.grades.includes(grade), testid: `grade-${grade}` });
    box.addEventListener("change", () => {
      node.grades = GRADES.filter((g) => (g === grade ? box.checked : node.grades.includes(g)));
      changed();
    });
    return el("label", {}, box, grade);
  }

  const EDITORS = {
    field: fieldEditor,
    account: (node) => [
      pick([["any", W.any_account], ["all", W.all_accounts]], node.quantifier, (v) => { node.quantifier = v; }, "quantifier"),
      ...fieldEditor(node),
    ],
    event: eventEditor,
    event_time: timeEditor,
    tag: (node) => [
      pick([["any", W.tag_any], ["all", W.tag_all], ["none", W.tag_none]], node.op, (v) => { node.op = v; }, "tag-op"),
      pickMany(S.tags.map((t) => [t.id, t.name]), node.tags, (v) => { node.tags = v; }, "tags"),
    ],
    score: (node) => [
      pick(["score", "engagement", "fit"].map((p) => [p, W[`part_${p}`]]), node.part, (v) => { node.part = v; }, "part"),
      text(W.in_model),
      modelPicker(node),
      pick(COMPARE.map((o) => [o, S.op_labels[o]]), node.op, (v) => { node.op = v; }, "score-op"),
      field("number", node.value, (v) => { node.value = toNumber(v); }, "score-value", { step: "any" }),
    ],
    grade: (node) => [text(W.in_model), modelPicker(node), text(W.grade_in), ...GRADES.map((g) => gradeBox(node, g))],
    segment: (node) => [
      pick([["in", W.seg_in], ["not_in", W.seg_not_in]], node.op, (v) => { node.op = v; }, "segment-op"),
      pick(S.segments.map((s) => [s.id, s.name]), node.segment, (v) => { node.segment = v; }, "segment"),
    ],
  };

  function drawFilters(node) {
    const box = el("div", { className: "filters" });
    const numeric = (name) => propsOf(node.type).some((p) => p.name === name && p.numeric);
    const cast = (f, raw) => (numeric(f.property) && toNumber(raw) !== null ? toNumber(raw) : String(raw));
    for (const f of node.where) {
      box.append(el("div", { className: "row", testid: "filter" },
        text(W.where),
        propertyField(node.type, f.property, (v) => { f.property = v; f.value = cast(f, f.value); }, false, "filter-property"),
        pick(FILTER_OPS.map((o) => [o, S.op_labels[o]]), f.op, (v) => { f.op = v; }, "filter-op"),
        field("text", f.value, (v) => { f.value = cast(f, v); }, "filter-value"),
        el("button", {
          type: "button", className: "link", textContent: W.remove,
          onclick: () => {
            node.where.splice(node.where.indexOf(f), 1);
            redraw();
          },
        }),
      ));
    }
    const first = propsOf(node.type)[0];
    box.append(el("button", {
      type: "button", className: "link", textContent: W.add_filter, testid: "add-filter",
      onclick: () => {
        node.where.push({ property: first ? first.name : "", op: first && first.numeric ? "gte" : "contains", value: "" });
        redraw();
      },
    }));
    return box;
  }

  function drawLeaf(node, parent) {
    const kinds = Object.entries(S.kinds).filter(([k]) => k === node.kind || !NEEDS[k] || NEEDS[k].length);
    const swap = (k) => {
      parent.items[parent.items.indexOf(node)] = { ...DEFAULTS[k](), negate: node.negate };
    };
    const box = el("div", { className: "leaf" + (node.negate ? " negated" : ""), testid: "condition" },
      el("div", { className: "row" }, negation(node), pick(kinds, node.kind, swap, "cond-kind"), ...EDITORS[node.kind](node), removeButton(parent, node)));
    if (node.where) box.append(drawFilters(node));
    return box;
  }

  function drawGroup(node, parent) {
    const add = (item) => () => {
      node.items.push(item());
      redraw();
    };
    const box = el("fieldset", { className: "group" + (node.negate ? " negated" : ""), testid: "group" },
      el("div", { className: "row" },
        negation(node),
        pick([["and", W.and], ["or", W.or]], node.kind, (v) => { node.kind = v; }, "group-kind"),
        el("button", { type: "button", textContent: W.add_condition, testid: "add-condition", onclick: add(DEFAULTS.field) }),
        el("button", { type: "button", textContent: W.add_group, testid: "add-group", onclick: add(() => group("and", [DEFAULTS.field()])) }),
        parent ? removeButton(parent, node) : null,
      ));
    if (!node.items.length) box.append(el("p", { className: "muted", textContent: W.empty_group }));
    for (const item of node.items) box.append(isGroup(item) ? drawGroup(item, node) : drawLeaf(item, node));
    return box;
  }

  // -- the tree on the page, in the form, and counted --

  const root = initial();
  let timer = null;
  let asked = 0;

  function redraw() {
    mount.replaceChildren(drawGroup(root, null));
    changed();
  }

  function changed() {
    const tree = dump(root);
    output.value = JSON.stringify(tree);
    clearTimeout(timer);
    timer = setTimeout(() => preview(tree), DELAY_MS);
  }

  async function preview(tree) {
    const mine = ++asked;
    if (!root.items.length) {
      previewBox.replaceChildren(el("p", { className: "muted", textContent: W.empty_group }));
      return;
    }
    previewBox.style.opacity = "0.5";
    try {
      const response = await fetch(mount.dataset.preview, {
        method: "POST",
        headers: { "X-CSRF-Token": csrf },
        body: new URLSearchParams({ condition: JSON.stringify(tree) }),
      });
      const html = await response.text();
      if (mine === asked) previewBox.innerHTML = html; // rendered and escaped by the server
    } catch {
      if (mine === asked) previewBox.replaceChildren(el("p", { className: "error", textContent: W.preview_failed }));
    } finally {
      if (mine === asked) previewBox.style.opacity = "";
    }
  }

  redraw();
})();
