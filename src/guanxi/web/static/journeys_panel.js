// The editor's side panel: the selected node's configuration with pickers of the workspace's
// own templates, tags, segments, stages, models, members, webhook endpoints, forms and
// journeys (handed over by the page, P); the selected edge; or, with nothing selected, the
// journey's re-entry setting. Branch and goal conditions are the segments' condition JSON,
// checked as it is typed and by the server on save.
import { DAY } from "./journeys_nodes.js";
import { area, checks, choose, el, filters, json, named, number, row, seconds, text } from "./journeys_fields.js";

const TRIGGER_DEFAULTS = (P) => ({
  manual: {},
  segment_entered: { segment_id: P.segments[0]?.id ?? null },
  segment_exited: { segment_id: P.segments[0]?.id ?? null },
  event: { event_type: "form_submit", filters: [] },
  tag_added: { tag_id: P.tags[0]?.id ?? null },
  stage_changed: { stage: P.stages[0]?.value ?? "" },
  form_submitted: {},
  anniversary: { field: P.date_fields[0] ?? "custom.birthday", days_before: 0, time: "09:00" },
  scheduled: { segment_id: P.segments[0]?.id ?? null, at: new Date(Date.now() + DAY * 1000).toISOString(), repeat: "once" },
});
const WAIT_DEFAULTS = {
  duration: { seconds: DAY },
  until: { weekdays: [1], time: "09:00" },
  event: { event_type: "email_opened", filters: [], timeout_s: 3 * DAY },
};

const options = (labels) => Object.entries(labels).map(([value, label]) => ({ value, label }));
const localInput = (iso) => {
  const d = iso ? new Date(iso) : new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

// branch and goal conditions to start from, with the workspace's first tag, model, segment
function examples(P) {
  const found = { stage: { kind: "field", field: "stage", op: "eq", value: P.stages[0]?.value ?? "lead" } };
  found.event = { kind: "event", type: "email_opened", where: [], window: { days: 7 }, measure: "count", op: "gte", value: 1 };
  if (P.tags.length) found.tag = { kind: "tag", op: "any", tags: [P.tags[0].id] };
  if (P.models.length) found.score = { kind: "score", model: P.models[0].id, part: "score", op: "gte", value: 50 };
  if (P.segments.length) found.segment = { kind: "segment", segment: P.segments[0].id, op: "in" };
  return found;
}

export function createPanel(root, { P, W, readOnly, onNode, onSettings, onDelete }) {
  const people = [{ value: "owner", label: W.contact_owner }, ...named(P.members)];
  // the page's datalist of event types (the dry run's form uses it too)
  const eventType = (value, onInput, testid) => text(value, onInput, { list: "journey-event-types", maxLength: 64, testid });

  // one editor per kind: (node, set) → controls; set(patch, {redraw, renamed}) commits
  const EDITORS = {
    entry(n, set) {
      const t = n.trigger || { type: "manual" };
      const put = (patch, redraw) => set({ trigger: { ...t, ...patch } }, { redraw });
      const out = [row(W.trigger, choose(options(W.triggers), t.type, (type) => set({ trigger: { type, ...TRIGGER_DEFAULTS(P)[type] } }, { redraw: true }), { testid: "trigger-type" }))];
      if (["segment_entered", "segment_exited", "scheduled"].includes(t.type)) out.push(row(W.segment, choose(named(P.segments), t.segment_id, (v) => put({ segment_id: v }))));
      if (t.type === "event") out.push(row(W.event_type, eventType(t.event_type, (v) => put({ event_type: v.trim() }))), row(W.filters, filters(t.filters, (v) => put({ filters: v }), P, W)));
      if (t.type === "tag_added") out.push(row(W.tag, choose(named(P.tags), t.tag_id, (v) => put({ tag_id: v }))));
      if (t.type === "stage_changed") out.push(row(W.stage, choose(P.stages, t.stage, (v) => put({ stage: v }))));
      if (t.type === "form_submitted") out.push(row(W.form, choose(named(P.forms), t.form_id, (v) => put({ form_id: v }), { placeholder: W.any_form })));
      if (t.type === "anniversary") {
        const dates = P.date_fields.map((f) => ({ value: f, label: f }));
        out.push(
          row(W.field, dates.length ? choose(dates, t.field, (v) => put({ field: v })) : text(t.field, (v) => put({ field: v.trim() }))),
          row(W.days_before, number(t.days_before, (v) => put({ days_before: v }), { min: 0, max: 365 })),
          row(W.time, el("input", { type: "time", value: t.time, oninput: (e) => put({ time: e.target.value }) })),
        );
      }
      if (t.type === "scheduled") {
        out.push(
          row(W.at, el("input", { type: "datetime-local", value: localInput(t.at), oninput: (e) => e.target.value && put({ at: new Date(e.target.value).toISOString() }) })),
          row(W.repeat, choose(options(W.repeats), t.repeat, (v) => put({ repeat: v || "once" }))),
        );
      }
      if (t.type === "manual") out.push(el("p", { className: "muted", textContent: W.manual_hint }));
      return out;
    },
    wait(n, set) {
      const mode = row(W.wait_mode, choose(options(W.wait_modes), n.mode, (m) => {
        const { seconds: _s, weekdays: _w, time: _t, event_type: _e, filters: _f, timeout_s: _o, ...rest } = n;
        set({ ...rest, mode: m, ...WAIT_DEFAULTS[m] }, { redraw: true, replace: true });
      }, { testid: "wait-mode" }));
      if (n.mode === "until") {
        const days = W.weekdays.map((label, i) => ({ value: i + 1, label }));
        return [mode, row(W.weekdays_label, checks(days, n.weekdays, (v) => set({ weekdays: v.map(Number) }))),
          row(W.time, el("input", { type: "time", value: n.time, oninput: (e) => set({ time: e.target.value }) }))];
      }
      if (n.mode === "event") {
        return [mode, row(W.event_type, eventType(n.event_type, (v) => set({ event_type: v.trim() }))),
          row(W.filters, filters(n.filters, (v) => set({ filters: v }), P, W)),
          row(W.timeout, seconds(n.timeout_s, (v) => set({ timeout_s: v }), W))];
      }
      return [mode, row(W.wait_for, seconds(n.seconds, (v) => set({ seconds: v }), W, { testid: "wait-seconds" }))];
    },
    branch: (n, set) => conditionEditor(n, set),
    goal: (n, set) => [el("p", { className: "muted", textContent: W.goal_hint }), ...conditionEditor(n, set)],
    split(n, set) {
      const variants = (n.variants || []).map((v) => ({ ...v }));
      const rows = variants.map((v, i) => {
        let saved = v.key; // the key the canvas knows: edges follow it when it changes
        const usable = (key) => /^[A-Za-z0-9_-]{1,40}$/.test(key) && !variants.some((o) => o !== v && o.key === key);
        return el(
        "div", { className: "journey-inline" },
        text(v.key, (key) => {
          if (!usable(key.trim())) return;
          v.key = key.trim();
          set({ variants }, { renamed: { [saved]: v.key } });
          saved = v.key;
        }, { size: 8, maxLength: 40, testid: `variant-key-${i}` }),
        number(v.weight, (w) => { v.weight = w; set({ variants }); }, { min: 1, max: 10000, style: "width:6rem" }),
        variants.length > 2 ? el("button", { type: "button", className: "link", textContent: "×", title: W.remove, onclick: () => set({ variants: variants.filter((_, j) => j !== i) }, { redraw: true }) }) : null,
        );
      });
      const next = () => {
        const keys = new Set(variants.map((v) => v.key));
        for (const c of "abcdefghij") if (!keys.has(c)) return c;
        return `v${variants.length + 1}`;
      };
      const add = variants.length < 10 ? el("button", { type: "button", textContent: W.add_variant, testid: "add-variant", onclick: () => set({ variants: [...variants, { key: next(), weight: 50 }] }, { redraw: true }) }) : null;
      return [el("p", { className: "muted", textContent: W.split_hint }), row(W.variants, ...rows), add];
    },
    send(n, set) {
      const channels = P.channels.map((c) => ({ value: c, label: W.channels[c] || c }));
      const mine = P.templates.filter((t) => t.channel === n.channel);
      return [
        row(W.channel, choose(channels, n.channel, (c) => set({ channel: c, template_id: P.templates.find((t) => t.channel === c)?.id ?? null }, { redraw: true }), { testid: "send-channel" })),
        row(W.template, mine.length ? choose(named(mine), n.template_id, (v) => set({ template_id: v }), { testid: "send-template" }) : el("span", { className: "muted", textContent: W.no_template })),
        el("label", { className: "check" }, el("input", { type: "checkbox", checked: n.marketing !== false, onchange: (e) => set({ marketing: e.target.checked }) }), W.marketing),
        row(W.sender, choose([{ value: "", label: W.sender_default }, { value: "owner", label: W.sender_owner }], n.sender ?? "", (v) => set({ sender: v || undefined }))),
      ];
    },
    tag: (n, set) => [
      row(W.add_tags, checks(named(P.tags), n.add, (v) => set({ add: v }), "tags-add")),
      row(W.remove_tags, checks(named(P.tags), n.remove, (v) => set({ remove: v }), "tags-remove")),
    ],
    score: (n, set) => [
      row(W.model, choose(named(P.models), n.model_id, (v) => set({ model_id: v }))),
      row(W.points, number(n.points, (v) => set({ points: v }), { step: "any" })),
      row(W.reason, text(n.reason, (v) => set({ reason: v || undefined }), { maxLength: 200 })),
    ],
    set_field(n, set) {
      const fields = P.fields.filter((f) => P.writable.includes(f.name));
      const type = (fields.find((f) => f.name === n.field) || { type: "text" }).type;
      const cleared = n.value === null;
      let value;
      if (type === "number") value = number(n.value, (v) => set({ value: v }), { step: "any" });
      else if (type === "boolean") value = choose([{ value: "true", label: W.yes }, { value: "false", label: W.no }], String(n.value), (v) => set({ value: v === "true" }));
      else if (type === "multi_select") value = text(Array.isArray(n.value) ? n.value.join(", ") : n.value, (v) => set({ value: v.split(/[,，]/).map((s) => s.trim()).filter(Boolean) }));
      else value = text(n.value, (v) => set({ value: v }));
      value.disabled = cleared;
      return [
        row(W.field, choose(fields.map((f) => ({ value: f.name, label: f.label })), n.field, (v) => set({ field: v, value: "" }, { redraw: true }))),
        row(W.value, value),
        el("label", { className: "check" }, el("input", { type: "checkbox", checked: cleared, onchange: (e) => set({ value: e.target.checked ? null : "" }, { redraw: true }) }), W.clear_field),
      ];
    },
    stage: (n, set) => [row(W.stage, choose(P.stages, n.stage, (v) => set({ stage: v })))],
    assign(n, set) {
      const inTurn = !n.owner_id;
      const how = choose([{ value: "one", label: W.one_owner }, { value: "turn", label: W.in_turn_mode }], inTurn ? "turn" : "one", (v) =>
        set(v === "turn" ? { owner_id: undefined, round_robin: P.members.map((m) => m.id) } : { owner_id: P.members[0]?.id ?? null, round_robin: undefined }, { redraw: true }));
      return [row(W.assign_mode, how), inTurn
        ? row(W.members, checks(named(P.members), n.round_robin, (v) => set({ round_robin: v })))
        : row(W.owner, choose(named(P.members), n.owner_id, (v) => set({ owner_id: v })))];
    },
    task: (n, set) => [
      row(W.task_title, text(n.title, (v) => set({ title: v }), { maxLength: 200 })),
      row(W.due_in, seconds(n.due_in_s, (v) => set({ due_in_s: v }), W, { min: 0 })),
      row(W.assignee, choose(people, n.assignee, (v) => set({ assignee: v || "owner" }))),
    ],
    notify: (n, set) => [
      row(W.user, choose(people, n.user, (v) => set({ user: v || "owner" }))),
      row(W.notice_text, area(n.text, (v) => set({ text: v }), { maxLength: 1000 })),
    ],
    webhook: (n, set) => [
      row(W.endpoint, P.webhooks.length ? choose(named(P.webhooks), n.endpoint_id, (v) => set({ endpoint_id: v })) : el("span", { className: "muted", textContent: W.no_webhook })),
      row(W.payload_fields, checks(P.fields.map((f) => ({ value: f.name, label: f.label })), n.payload_fields, (v) => set({ payload_fields: v }))),
    ],
    enrol: (n, set) => [row(W.journey, choose(named(P.journeys), n.journey_id, (v) => set({ journey_id: v })))],
    exit: () => [el("p", { className: "muted", textContent: W.exit_hint })],
  };

  function conditionEditor(n, set) {
    const editor = json(n.condition, (c) => set({ condition: c }), W, "condition-json");
    const found = examples(P);
    const pick = choose(Object.keys(found).map((k) => ({ value: k, label: W.examples[k] })), "", (k) => k && editor.set(found[k]), { placeholder: W.insert_example });
    return [row(W.condition, editor.box, editor.note), el("p", { className: "muted" }, el("small", { textContent: W.condition_hint })), pick];
  }

  function counts(stat) {
    const line = (label, value) => el("div", {}, el("dt", { textContent: label }), el("dd", { textContent: value }));
    const list = el("dl", { className: "fields journey-counts", testid: "node-counts" });
    for (const key of ["entered", "waiting", "done", "failed"]) list.append(line(W.counts[key], stat[key]));
    for (const [reason, n] of Object.entries(stat.skipped)) list.append(line(`${W.skipped}: ${W.reasons[reason] || reason}`, n));
    for (const [status, n] of Object.entries(stat.messages)) list.append(line(`${W.messages}: ${W.message_statuses[status] || status}`, n));
    return [el("h3", { textContent: W.counts_title }), list];
  }

  const show = (...parts) => root.replaceChildren(...parts.filter(Boolean));

  function showNode(node, stat) {
    let current = structuredClone(node);
    const fieldset = el("fieldset", { disabled: readOnly, className: "journey-config" });
    const set = (patch, { redraw = false, renamed, replace = false } = {}) => {
      current = replace ? { ...patch, id: current.id } : { ...current, ...patch };
      for (const [k, v] of Object.entries(current)) if (v === undefined) delete current[k];
      onNode(structuredClone(current), renamed);
      if (redraw) draw();
    };
    const draw = () => fieldset.replaceChildren(...[
      row(W.label, text(current.label, (v) => set({ label: v.trim() || undefined }), { maxLength: 120, placeholder: W.label_hint, testid: "node-label" })),
      ...(EDITORS[current.kind] || (() => []))(current, set),
    ].filter(Boolean));
    draw();
    show(
      el("h2", { textContent: W.kinds[node.kind] || node.kind }),
      el("p", { className: "muted" }, el("small", { textContent: `${W.node_id}: ` }), el("code", { textContent: node.id, testid: "node-id" })),
      fieldset,
      ...(stat ? counts(stat) : []),
      readOnly ? null : el("p", {}, el("button", { type: "button", className: "danger", textContent: W.delete_node, testid: "delete-node", onclick: onDelete })),
    );
  }

  function showEdge(edge) {
    const where = edge.port && edge.port !== "out" ? ` (${W.ports[edge.port] || edge.port})` : "";
    show(
      el("h2", { textContent: W.edge_title }),
      el("p", { textContent: `${edge.source}${where} → ${edge.target}` }),
      readOnly ? null : el("button", { type: "button", className: "danger", textContent: W.delete_edge, testid: "delete-edge", onclick: onDelete }),
    );
  }

  function showSettings(settings) {
    const reentry = { policy: "never", ...(settings.reentry || {}) };
    const put = (patch) => {
      Object.assign(reentry, patch);
      if (reentry.policy !== "always") delete reentry.min_interval_s;
      onSettings({ ...settings, reentry: { ...reentry } });
    };
    const interval = row(W.min_interval, seconds(reentry.min_interval_s || DAY, (v) => put({ min_interval_s: v }), W));
    interval.hidden = reentry.policy !== "always";
    root.replaceChildren(
      el("h2", { textContent: W.settings_title }),
      el("p", { className: "muted", textContent: readOnly ? W.read_only_hint : W.select_hint }),
      el("fieldset", { disabled: readOnly, className: "journey-config" },
        row(W.reentry, choose(options(W.reentry_options), reentry.policy, (v) => {
          put({ policy: v || "never" });
          interval.hidden = reentry.policy !== "always";
        }, { testid: "reentry" })),
        interval),
    );
  }

  return { showNode, showEdge, showSettings };
}
