// What the journey editor knows of each node kind: the ports edges leave it by (as
// guanxi/journey/graph.py's ports()), a new node's starting configuration, and a one-line
// summary for the canvas. Every word comes from the page (W), already translated.

export const KINDS = [
  "entry", "wait", "branch", "split", "send", "tag", "score", "set_field", "stage", "assign",
  "task", "notify", "webhook", "enrol", "goal", "exit",
];

// the colour of the stripe a node carries, by what it does
export const FAMILY = {
  entry: "#15803d", goal: "#15803d", exit: "#6b7280",
  wait: "#2563eb", branch: "#2563eb", split: "#2563eb",
  send: "#c2410c", notify: "#c2410c", webhook: "#c2410c",
  tag: "#7c3aed", score: "#7c3aed", set_field: "#7c3aed", stage: "#7c3aed",
  assign: "#0f766e", task: "#0f766e", enrol: "#0f766e",
};

export function portsOf(node) {
  if (node.kind === "exit") return [];
  if (node.kind === "branch") return ["yes", "no"];
  if (node.kind === "split") return (node.variants || []).map((v) => v.key);
  if (node.kind === "wait" && node.mode === "event") return ["event", "timeout"];
  return ["out"];
}

export const hasInput = (node) => node.kind !== "entry";

export const DAY = 86400;
export const UNITS = [["days", DAY], ["hours", 3600], ["minutes", 60]];

// the largest unit that divides the seconds exactly: 2 days, not 48 hours
export function splitSeconds(seconds) {
  const s = Number(seconds) || 0;
  const [unit, size] = UNITS.find(([, size]) => s % size === 0 && s >= size) || UNITS[2];
  return { amount: Math.max(s / size, 0), unit, size };
}

export function duration(seconds, W) {
  const { amount, unit } = splitSeconds(seconds);
  return W.units_n[unit].replace("{n}", amount);
}

const first = (list) => (list.length ? list[0].id : null);

// a node that validates on its own (so the draft saves) whenever the workspace has what it
// names; otherwise the save's problems point at the missing choice
export function blank(kind, id, P, W) {
  const stage = P.stages.length ? P.stages[0].value : "lead";
  const condition = { kind: "field", field: "stage", op: "eq", value: stage };
  const template = P.templates[0];
  const byKind = {
    entry: { trigger: { type: "manual" } },
    wait: { mode: "duration", seconds: DAY },
    branch: { condition },
    split: { variants: [{ key: "a", weight: 50 }, { key: "b", weight: 50 }] },
    send: {
      channel: template ? template.channel : P.channels[0],
      template_id: template ? template.id : null,
      marketing: true,
    },
    tag: { add: P.tags.length ? [P.tags[0].id] : [], remove: [] },
    score: { model_id: first(P.models), points: 10 },
    set_field: { field: P.writable[0] || "city", value: "" },
    stage: { stage },
    assign: { owner_id: first(P.members) },
    task: { title: W.default_task, due_in_s: DAY, assignee: "owner" },
    notify: { user: "owner", text: W.default_notice },
    webhook: { endpoint_id: first(P.webhooks), payload_fields: [] },
    enrol: { journey_id: first(P.journeys) },
    goal: { condition: { ...condition, value: (P.stages.find((s) => s.value === "customer") || { value: stage }).value } },
    exit: {},
  };
  return { id, kind, ...byKind[kind] };
}

// "send2": the kind and the first number no node uses yet
export function freshId(kind, taken) {
  for (let n = 1; ; n += 1) {
    if (!taken.has(`${kind}${n}`)) return `${kind}${n}`;
  }
}

const nameIn = (list, id) => {
  const found = list.find((x) => String(x.id) === String(id));
  return found ? found.name : `#${id}`;
};
const stageName = (P, key) => (P.stages.find((s) => s.value === key) || { label: key }).label;
const fieldName = (P, name) => (P.fields.find((f) => f.name === name) || { label: name }).label;

function trigger(t, P, W) {
  const what = W.triggers[t.type] || t.type;
  const detail = {
    segment_entered: () => nameIn(P.segments, t.segment_id),
    segment_exited: () => nameIn(P.segments, t.segment_id),
    scheduled: () => nameIn(P.segments, t.segment_id),
    event: () => t.event_type,
    tag_added: () => nameIn(P.tags, t.tag_id),
    stage_changed: () => stageName(P, t.stage),
    form_submitted: () => (t.form_id ? nameIn(P.forms, t.form_id) : W.any_form),
    anniversary: () => fieldName(P, t.field),
  }[t.type];
  return detail ? `${what}: ${detail()}` : what;
}

function condition(c, P, W) {
  if (!c || typeof c !== "object") return "";
  if (c.kind === "field") return `${fieldName(P, c.field)} ${P.op_labels[c.op] || c.op} ${c.value ?? ""}`;
  if (c.kind === "tag") return `${P.condition_kinds.tag}: ${(c.tags || []).map((t) => nameIn(P.tags, t)).join(", ")}`;
  if (c.kind === "segment") return `${P.condition_kinds.segment}: ${nameIn(P.segments, c.segment)}`;
  return P.condition_kinds[c.kind] || c.kind;
}

// the node's configuration in a few words, for the canvas
export function summary(n, P, W) {
  const list = (ids, from) => (ids || []).map((id) => nameIn(from, id)).join(", ");
  switch (n.kind) {
    case "entry": return n.trigger ? trigger(n.trigger, P, W) : "";
    case "wait":
      if (n.mode === "until") return `${(n.weekdays || []).map((d) => W.weekdays[d - 1]).join(" ")} ${n.time || ""}`;
      if (n.mode === "event") return `${n.event_type || ""} ≤ ${duration(n.timeout_s, W)}`;
      return duration(n.seconds, W);
    case "branch": case "goal": return condition(n.condition, P, W);
    case "split": return (n.variants || []).map((v) => `${v.key} ${v.weight}`).join(" · ");
    case "send": return `${W.channels[n.channel] || n.channel}: ${n.template_id ? nameIn(P.templates, n.template_id) : "—"}`;
    case "tag": return [n.add && n.add.length ? `+ ${list(n.add, P.tags)}` : "", n.remove && n.remove.length ? `− ${list(n.remove, P.tags)}` : ""].join(" ").trim();
    case "score": return `${nameIn(P.models, n.model_id)} ${n.points > 0 ? "+" : ""}${n.points}`;
    case "set_field": return `${fieldName(P, n.field)} = ${n.value ?? "∅"}`;
    case "stage": return stageName(P, n.stage);
    case "assign": return n.owner_id ? nameIn(P.members, n.owner_id) : W.in_turn.replace("{n}", (n.round_robin || []).length);
    case "task": return n.title || "";
    case "notify": return n.text || "";
    case "webhook": return nameIn(P.webhooks, n.endpoint_id);
    case "enrol": return nameIn(P.journeys, n.journey_id);
    default: return "";
  }
}
