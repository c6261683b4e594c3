// The journey canvas on AntV X6 (static/vendor/x6.min.js, from npm): one X6 node per journey
// node, carrying the node's JSON as its data; ports on the right for each way out (out,
// yes/no, a split's variants, event/timeout) and one on the left to enter. Edges are drawn by
// dragging from a way out to a way in; a way out leads to one place, so a new edge from it
// replaces the old one. toGraph() reads the canvas back as the draft the API takes.
import { FAMILY, hasInput, portsOf, summary } from "./journeys_nodes.js";

const X6 = window.X6;
const SHAPE = "guanxi-journey-node";
const WIDTH = 210;
const IN = "#in"; // not a valid port name in a graph, so no way out can take it
const COLOURS = { line: "#d1d5db", ink: "#1f2430", muted: "#6b7280", brand: "#c2410c", danger: "#b91c1c" };

X6.Graph.registerNode(
  SHAPE,
  {
    inherit: "rect",
    width: WIDTH,
    height: 64,
    markup: [
      { tagName: "rect", selector: "body" },
      { tagName: "rect", selector: "stripe" },
      { tagName: "text", selector: "kind" },
      { tagName: "text", selector: "title" },
      { tagName: "text", selector: "badge" },
    ],
    attrs: {
      body: { refWidth: "100%", refHeight: "100%", rx: 8, ry: 8, fill: "#fff", stroke: COLOURS.line, strokeWidth: 1 },
      stripe: { width: 6, refHeight: "100%", rx: 3, ry: 3 },
      kind: { refX: 16, refY: 20, fontSize: 11, fill: COLOURS.muted, textAnchor: "start", textVerticalAnchor: "middle" },
      title: { refX: 16, refY: 42, fontSize: 13, fill: COLOURS.ink, textAnchor: "start", textVerticalAnchor: "middle" },
      badge: {
        refX: "100%", refX2: -4, refY: -9, fontSize: 11, fontWeight: 600, fill: COLOURS.brand,
        textAnchor: "end", textVerticalAnchor: "middle",
      },
    },
    ports: {
      groups: {
        in: {
          position: "left",
          attrs: { circle: { r: 6, magnet: "passive", stroke: COLOURS.muted, strokeWidth: 1.5, fill: "#fff" } },
        },
        out: {
          position: "right",
          label: { position: { name: "left", args: { x: -10 } } },
          attrs: {
            circle: { r: 6, magnet: true, stroke: COLOURS.brand, strokeWidth: 1.5, fill: "#fff" },
            text: { fontSize: 11, fill: COLOURS.ink },
          },
        },
      },
    },
  },
  true,
);

// as much of the text as one line of a node holds (a Chinese character takes two places)
function fit(text, room) {
  let used = 0;
  let out = "";
  for (const ch of String(text)) {
    used += /[\u2e80-\uffff]/.test(ch) ? 2 : 1;
    if (used > room) return `${out}…`;
    out += ch;
  }
  return out;
}

// ways out with a name (yes/no, variants, event/timeout) write it inside the node's right edge
const labelled = (json) => portsOf(json).some((p) => p !== "out");
const heightFor = (outs) => Math.max(64, outs * 24 + 16);
const edgeLine = (colour) => ({ line: { stroke: colour, strokeWidth: 1.5, targetMarker: { name: "block", width: 8, height: 6 } } });

export function createCanvas(container, { P, W, readOnly, onSelect, onChange }) {
  const graph = new X6.Graph({
    container,
    autoResize: true, // the size of the container's parent, which the page's CSS sets
    grid: { size: 10, visible: true },
    background: { color: "#fafafa" },
    panning: { enabled: true },
    mousewheel: { enabled: true, modifiers: ["ctrl", "meta"] },
    interacting: readOnly
      ? false
      : { nodeMovable: true, magnetConnectable: true, edgeMovable: false, arrowheadMovable: false, vertexAddable: false },
    connecting: {
      allowBlank: false,
      allowLoop: false,
      allowNode: false,
      allowEdge: false,
      allowMulti: true,
      snap: { radius: 24 },
      highlight: true,
      connector: { name: "smooth" },
      validateMagnet: ({ magnet }) => magnet.getAttribute("port-group") === "out",
      validateConnection: ({ sourceCell, targetCell, targetPort }) =>
        targetPort === IN && sourceCell !== targetCell,
      createEdge: () => graph.createEdge({ attrs: edgeLine(COLOURS.muted), zIndex: 0 }),
    },
    highlighting: {
      magnetAvailable: { name: "stroke", args: { padding: 3, attrs: { stroke: "#15803d", "stroke-width": 2 } } },
    },
  });
  let chosen = null; // the selected cell
  let troubled = new Set(); // ids of nodes with a problem
  let counts = null; // {node id: stats} of the published version

  const portLabel = (port) => (Object.hasOwn(W.ports, port) ? W.ports[port] : port);
  const outPort = (port) => ({ id: port, group: "out", attrs: { text: { text: portLabel(port) } } });

  function paint(node) {
    const json = node.getData();
    const selected = chosen === node;
    const bad = troubled.has(node.id);
    const stat = counts && counts[node.id];
    node.setAttrs({
      body: {
        stroke: selected ? COLOURS.brand : bad ? COLOURS.danger : COLOURS.line,
        strokeWidth: selected || bad ? 2 : 1,
        strokeDasharray: bad ? "5 3" : null,
      },
      stripe: { fill: FAMILY[json.kind] || COLOURS.muted },
      kind: { text: fit(`${W.kinds[json.kind] || json.kind} · ${node.id}`, 32) },
      title: { text: fit(json.label || summary(json, P, W) || "—", labelled(json) ? 16 : 26) },
      badge: { text: stat ? W.badge.replace("{entered}", stat.entered).replace("{waiting}", stat.waiting) : "" },
    });
  }

  // the node's ports as its kind and configuration want them; edges of a renamed way out
  // follow it, edges of a vanished one go
  function syncPorts(node, json, renamed = {}) {
    const want = portsOf(json);
    const have = node.getPorts().filter((p) => p.group === "out").map((p) => p.id);
    want.filter((p) => !have.includes(p)).forEach((p) => node.addPort(outPort(p)));
    for (const edge of graph.getConnectedEdges(node, { outgoing: true })) {
      const target = renamed[edge.getSourcePortId()];
      if (target && want.includes(target)) edge.setSource({ cell: node.id, port: target });
    }
    for (const gone of have.filter((p) => !want.includes(p))) {
      graph.getConnectedEdges(node, { outgoing: true }).filter((e) => e.getSourcePortId() === gone).forEach((e) => e.remove());
      node.removePort(gone);
    }
    const entered = node.getPorts().some((p) => p.id === IN);
    if (hasInput(json) && !entered) node.addPort({ id: IN, group: "in" });
    if (!hasInput(json) && entered) {
      graph.getConnectedEdges(node, { incoming: true }).forEach((e) => e.remove());
      node.removePort(IN);
    }
    node.resize(WIDTH, heightFor(want.length));
  }

  function place(json, x, y) {
    const { x: _x, y: _y, ...data } = json;
    const node = graph.addNode({ id: json.id, shape: SHAPE, x, y, data });
    syncPorts(node, data);
    paint(node);
    return node;
  }

  // columns by distance from the entry, for nodes stored without a position (made by the API)
  function layout(nodes, edges) {
    const depth = {};
    const entry = nodes.find((n) => n.kind === "entry");
    const queue = entry ? [entry.id] : [];
    if (entry) depth[entry.id] = 0;
    while (queue.length) {
      const at = queue.shift();
      for (const e of edges.filter((e) => e.source === at && !(e.target in depth))) {
        depth[e.target] = depth[at] + 1;
        queue.push(e.target);
      }
    }
    const rows = {};
    return Object.fromEntries(nodes.map((n) => {
      const column = depth[n.id] ?? 0;
      rows[column] = (rows[column] || 0) + 1;
      return [n.id, { x: 60 + column * 260, y: 60 + (rows[column] - 1) * 110 }];
    }));
  }

  function load(draft) {
    graph.clearCells();
    const nodes = draft.nodes || [];
    const edges = draft.edges || [];
    const spots = layout(nodes, edges);
    for (const n of nodes) place(n, n.x ?? spots[n.id].x, n.y ?? spots[n.id].y);
    for (const e of edges) {
      if (!graph.getCellById(e.source) || !graph.getCellById(e.target)) continue;
      graph.addEdge({ source: { cell: e.source, port: e.port || "out" }, target: { cell: e.target, port: IN }, attrs: edgeLine(COLOURS.muted) });
    }
    if (nodes.length) fitView();
  }

  function toGraph() {
    const nodes = graph.getNodes().map((node) => {
      const { x, y } = node.getPosition();
      return { ...node.getData(), id: node.id, x: Math.round(x), y: Math.round(y) };
    });
    const edges = graph.getEdges().map((e) => ({
      source: e.getSourceCellId(), target: e.getTargetCellId(), port: e.getSourcePortId() || "out",
    }));
    return { nodes, edges };
  }

  function select(cell) {
    const before = chosen;
    chosen = cell;
    if (before && before.isNode() && graph.hasCell(before)) paint(before);
    if (before && before.isEdge() && graph.hasCell(before)) before.setAttrs(edgeLine(COLOURS.muted));
    if (cell && cell.isNode()) paint(cell);
    if (cell && cell.isEdge()) cell.setAttrs(edgeLine(COLOURS.brand));
    onSelect(cell ? (cell.isNode() ? { node: { ...cell.getData(), id: cell.id } } : { edge: edgeOf(cell) }) : null);
  }

  const edgeOf = (e) => ({ source: e.getSourceCellId(), target: e.getTargetCellId(), port: e.getSourcePortId() });

  // right of the selected node (or of the rightmost one), below anything already there
  function freeSpot() {
    const nodes = graph.getNodes();
    const rightmost = nodes.reduce((best, n) => (!best || n.getPosition().x > best.getPosition().x ? n : best), null);
    const from = chosen && chosen.isNode() ? chosen : rightmost;
    const area = graph.getGraphArea();
    let { x, y } = from ? from.getPosition() : { x: area.x - 210, y: area.y + 60 };
    x += 270;
    const taken = (ty) => nodes.some((n) => n.getBBox().intersectsWithRect(new X6.Rectangle(x, ty, WIDTH, 64)));
    while (taken(y)) y += 90;
    return { x: Math.round(x / 10) * 10, y: Math.round(y / 10) * 10 };
  }

  // as much of the graph in view as stays readable, from its top left corner
  function fitView() {
    graph.zoomToFit({ padding: 40, maxScale: 1, minScale: 0.6 });
    graph.positionPoint(graph.getContentArea().getTopLeft(), 40, 40);
  }

  graph.on("node:click", ({ node }) => select(node));
  graph.on("edge:click", ({ edge }) => select(edge));
  graph.on("blank:click", () => select(null));
  graph.on("node:moved", () => onChange());
  graph.on("edge:connected", ({ edge }) => {
    const port = edge.getSourcePortId();
    graph.getConnectedEdges(edge.getSourceCell(), { outgoing: true })
      .filter((other) => other !== edge && other.getSourcePortId() === port)
      .forEach((other) => other.remove());
    onChange();
  });
  if (!readOnly) {
    graph.on("edge:mouseenter", ({ edge }) => edge.addTools({ name: "button-remove", args: { distance: "50%", onClick: () => remove(edge) } }));
    graph.on("edge:mouseleave", ({ edge }) => edge.removeTools());
  }

  function remove(cell = chosen) {
    if (!cell || readOnly) return;
    if (cell === chosen) select(null);
    cell.remove();
    onChange();
  }

  return {
    load,
    toGraph,
    ids: () => new Set(graph.getNodes().map((n) => n.id)),
    add(json) {
      const { x, y } = freeSpot();
      const node = place(json, x, y);
      if (!graph.getGraphArea().containsRect(node.getBBox())) graph.centerCell(node);
      select(node);
      onChange();
      return node;
    },
    // the selected node's new configuration (renamed: {old way out: new})
    update(json, renamed) {
      if (!chosen || !chosen.isNode()) return;
      const { id, x, y, ...data } = json;
      chosen.setData(data, { overwrite: true });
      syncPorts(chosen, data, renamed);
      paint(chosen);
      onChange();
    },
    remove: () => remove(),
    focus(id) {
      const node = graph.getCellById(id);
      if (!node) return;
      select(node);
      graph.centerCell(node);
    },
    markProblems(problems) {
      troubled = new Set(problems.map((p) => p.node).filter(Boolean));
      graph.getNodes().forEach(paint);
    },
    showStats(stats) {
      counts = stats ? Object.fromEntries(stats.nodes.map((s) => [s.node, s])) : null;
      graph.getNodes().forEach(paint);
    },
    zoom(how) {
      if (how === "fit") fitView();
      else graph.zoom(how === "in" ? 0.1 : -0.1, { minScale: 0.3, maxScale: 2 });
    },
  };
}
