/* lidarannotation: a bird's-eye (top-down) view of each point-cloud frame; cuboids are drawn as
 * rotated rectangles, with centre z and height in fields beside the view.
 * Answer (annotation/tasktypes/lidarannotation.py):
 * {"annotations": [{uuid, label, frame, center: {x, y, z}, size: {x, y, z}, yaw}]}
 * size.x is the length along the heading, size.y the width, size.z the height; yaw in radians.
 * Frames load from their URL as PCD (ascii or binary x y z float fields), KITTI .bin (float32
 * x y z intensity) or JSON ({points: [{x, y, z}]} or [[x, y, z], …]). */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;
  const DEFAULT = { length: 4.0, width: 2.0, height: 1.6, z: 0.0 };

  function parsePCD(buffer) {
    const bytes = new Uint8Array(buffer);
    let headerEnd = 0, header = "";
    // The header is ascii lines up to and including DATA.
    for (let i = 0; i < Math.min(bytes.length, 4096); i++) {
      if (bytes[i] === 10) {
        const line = new TextDecoder().decode(bytes.subarray(headerEnd, i));
        header += line + "\n";
        headerEnd = i + 1;
        if (line.startsWith("DATA")) break;
      }
    }
    const field = (name) => (header.match(new RegExp("^" + name + " (.*)$", "m")) || [, ""])[1].trim().split(/\s+/);
    const fields = field("FIELDS"), sizes = field("SIZE").map(Number), types = field("TYPE");
    const count = Number(field("POINTS")[0]) || 0;
    const data = field("DATA")[0];
    const ix = fields.indexOf("x"), iy = fields.indexOf("y"), iz = fields.indexOf("z");
    const points = [];
    if (data === "ascii") {
      const lines = new TextDecoder().decode(bytes.subarray(headerEnd)).split("\n");
      for (const line of lines) {
        const v = line.trim().split(/\s+/).map(Number);
        if (v.length > Math.max(ix, iy, iz) && !Number.isNaN(v[ix])) points.push([v[ix], v[iy], v[iz]]);
      }
    } else if (data === "binary") {
      const stride = sizes.reduce((a, b) => a + b, 0);
      const offset = (k) => sizes.slice(0, k).reduce((a, b) => a + b, 0);
      const dv = new DataView(buffer, headerEnd);
      const read = (base, k) => (types[k] === "F" && sizes[k] === 8 ? dv.getFloat64(base + offset(k), true) : dv.getFloat32(base + offset(k), true));
      for (let p = 0; p < count && (p + 1) * stride <= dv.byteLength; p++) points.push([read(p * stride, ix), read(p * stride, iy), read(p * stride, iz)]);
    } else {
      throw new Error("PCD data " + data + " is not supported in the browser (ascii or binary only)");
    }
    return points;
  }

  function parseFrame(url, buffer) {
    const head = new TextDecoder().decode(new Uint8Array(buffer, 0, Math.min(16, buffer.byteLength)));
    if (head.startsWith("# .PCD") || head.startsWith("VERSION")) return parsePCD(buffer);
    if (head.trim().startsWith("{") || head.trim().startsWith("[")) {
      const json = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer)));
      const list = Array.isArray(json) ? json : json.points || [];
      return list.map((p) => (Array.isArray(p) ? [p[0], p[1], p[2]] : [p.x, p.y, p.z]));
    }
    if (/\.bin(\?|$)/.test(url)) {
      const f = new Float32Array(buffer, 0, Math.floor(buffer.byteLength / 16) * 4);
      const out = [];
      for (let i = 0; i < f.length; i += 4) out.push([f[i], f[i + 1], f[i + 2]]);
      return out;
    }
    throw new Error("unknown point-cloud format");
  }

  Quorum.tools.lidarannotation = function mount(root, params, ctx) {
    const labels = params.labels || [];
    const frames = params.frames || [];
    const state = { frame: 0, cuboids: [], selected: -1, drag: null, draft: null, points: {}, errors: {} };

    const frameBar = el("div", { class: "qw-toolbar", role: "toolbar", "aria-label": "Frames" });
    const labelBar = el("div", { class: "qw-labels", role: "radiogroup", "aria-label": "Label for new cuboids (keys 1–9)" });
    const canvas = el("canvas", { class: "qw-canvas", tabindex: "0", "data-testid": "bev-canvas",
      "aria-label": "Top-down view; x to the right, y up, metres. Drag to draw a cuboid; R / Shift+R rotate the selected one." });
    const stage = el("div", { class: "qw-stage" }, [canvas]);
    const status = el("p", { class: "qw-status", "aria-live": "polite" });
    const fields = el("fieldset", { class: "qw-fields", disabled: true }, [el("legend", { text: "Selected cuboid" })]);
    const list = el("ol", { class: "qw-shapes", "aria-label": "Cuboids" });
    root.replaceChildren(frameBar, labelBar, stage, status, fields, el("h3", { text: "Cuboids in this frame" }), list);

    const picker = Quorum.LabelPicker(labelBar, function (label) {
      const c = state.cuboids[state.selected];
      if (c) { c.label = label; refresh(); }
    });
    picker.set(labels);

    const frameLabel = el("span", { class: "qw-frame-label" });
    frameBar.append(
      el("button", { type: "button", text: "◀ Previous frame ([)", onclick: function () { goFrame(state.frame - 1); } }),
      frameLabel,
      el("button", { type: "button", text: "Next frame (]) ▶", onclick: function () { goFrame(state.frame + 1); } }),
      el("button", { type: "button", text: "Zoom in (+)", onclick: function () { view.zoomAt(1.25, canvas.width / 2, canvas.height / 2); } }),
      el("button", { type: "button", text: "Zoom out (−)", onclick: function () { view.zoomAt(0.8, canvas.width / 2, canvas.height / 2); } }),
      el("button", { type: "button", text: "Delete cuboid (Del)", onclick: function () { removeSelected(); } }),
    );

    const inputs = {};
    const mountNumber = (Quorum.lidarMounts = (Quorum.lidarMounts || 0) + 1);  // unique ids for read-only copies
    for (const [key, text, step] of [["cx", "Centre x (m)", "0.1"], ["cy", "Centre y (m)", "0.1"], ["cz", "Centre z (m)", "0.1"],
      ["length", "Length (m)", "0.1"], ["width", "Width (m)", "0.1"], ["height", "Height (m)", "0.1"], ["yaw", "Yaw (degrees)", "1"]]) {
      const id = "lidar-" + key + (mountNumber > 1 ? "-" + mountNumber : "");
      inputs[key] = el("input", { id: id, type: "number", step: step, name: key });
      inputs[key].addEventListener("input", fromFields);
      fields.append(el("div", { class: "qw-field" }, [el("label", { for: id, text: text }), inputs[key]]));
    }

    function resize() {
      const w = Math.max(320, Math.round(stage.clientWidth || 800));
      canvas.width = w;
      canvas.height = Math.round(Math.min(w * 0.7, Math.max(320, window.innerHeight * 0.6)));
    }
    resize();
    const view = Quorum.CanvasView(canvas, { flipY: true });
    view.onChange = draw;
    view.fit(-25, -18, 25, 18);

    function goFrame(index) {
      if (index < 0 || index >= frames.length) return;
      state.frame = index;
      state.selected = -1;
      frameLabel.textContent = "Frame " + (index + 1) + " of " + frames.length;
      load(index);
      refresh();
    }
    async function load(index) {
      if (state.points[index] || state.errors[index]) return;
      try {
        const response = await fetch(frames[index].url, { credentials: "same-origin" });
        if (!response.ok) throw new Error("HTTP " + response.status);
        state.points[index] = parseFrame(frames[index].url, await response.arrayBuffer());
        status.textContent = "Frame " + (index + 1) + ": " + state.points[index].length + " points.";
      } catch (e) {
        state.errors[index] = e.message;
        status.textContent = "Frame " + (index + 1) + " could not be loaded (" + e.message + "); you can still place cuboids on the grid.";
      }
      if (index === state.frame) draw();
    }

    function corners(c) {
      const cos = Math.cos(c.yaw), sin = Math.sin(c.yaw), hl = c.size.x / 2, hw = c.size.y / 2;
      return [[hl, hw], [hl, -hw], [-hl, -hw], [-hl, hw]].map(([a, b]) => [c.center.x + a * cos - b * sin, c.center.y + a * sin + b * cos]);
    }
    function hit(c, p) {
      const dx = p[0] - c.center.x, dy = p[1] - c.center.y, cos = Math.cos(-c.yaw), sin = Math.sin(-c.yaw);
      const a = dx * cos - dy * sin, b = dx * sin + dy * cos;
      return Math.abs(a) <= c.size.x / 2 && Math.abs(b) <= c.size.y / 2;
    }

    function draw() {
      const g = canvas.getContext("2d");
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.fillStyle = "#111418";
      g.fillRect(0, 0, canvas.width, canvas.height);
      view.apply(g);
      g.lineWidth = 1 / view.scale;
      g.strokeStyle = "#2b313a";
      g.beginPath();
      for (let m = -100; m <= 100; m += 10) { g.moveTo(m, -100); g.lineTo(m, 100); g.moveTo(-100, m); g.lineTo(100, m); }
      g.stroke();
      g.fillStyle = "#f5f5f5";
      g.fillRect(-0.5, -0.5, 1, 1);  // the sensor
      const points = state.points[state.frame] || [];
      const r = 1.5 / view.scale;
      for (const [x, y, z] of points) {
        g.fillStyle = z > 1 ? "#ffd166" : z > -0.5 ? "#06d6a0" : "#118ab2";
        g.fillRect(x - r / 2, y - r / 2, r, r);
      }
      const shown = state.cuboids.filter((c) => c.frame === state.frame);
      if (state.draft) shown.push(state.draft);
      for (const c of shown) {
        const selected = state.cuboids.indexOf(c) === state.selected;
        const cs = corners(c);
        g.beginPath();
        cs.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
        g.closePath();
        g.fillStyle = picker.color(c.label) + (selected ? "66" : "33");
        g.fill();
        g.lineWidth = (selected ? 3 : 2) / view.scale;
        g.strokeStyle = picker.color(c.label);
        g.stroke();
        g.beginPath();  // heading
        g.moveTo(c.center.x, c.center.y);
        g.lineTo((cs[0][0] + cs[1][0]) / 2, (cs[0][1] + cs[1][1]) / 2);
        g.stroke();
      }
    }
    function toFields() {
      const c = state.cuboids[state.selected];
      fields.disabled = !c;
      if (!c) { for (const input of Object.values(inputs)) input.value = ""; return; }
      inputs.cx.value = c.center.x.toFixed(2); inputs.cy.value = c.center.y.toFixed(2); inputs.cz.value = c.center.z.toFixed(2);
      inputs.length.value = c.size.x.toFixed(2); inputs.width.value = c.size.y.toFixed(2); inputs.height.value = c.size.z.toFixed(2);
      inputs.yaw.value = ((c.yaw * 180) / Math.PI).toFixed(1);
    }
    function fromFields() {
      const c = state.cuboids[state.selected];
      if (!c) return;
      const num = (input, fallback) => (input.value === "" || Number.isNaN(Number(input.value)) ? fallback : Number(input.value));
      c.center = { x: num(inputs.cx, c.center.x), y: num(inputs.cy, c.center.y), z: num(inputs.cz, c.center.z) };
      c.size = { x: num(inputs.length, c.size.x), y: num(inputs.width, c.size.y), z: num(inputs.height, c.size.z) };
      c.yaw = (num(inputs.yaw, (c.yaw * 180) / Math.PI) * Math.PI) / 180;
      refreshList();
      draw();
    }
    function refreshList() {
      list.replaceChildren(...state.cuboids.map(function (c, i) {
        if (c.frame !== state.frame) return "";
        return el("li", { class: i === state.selected ? "qw-selected" : "" }, [
          el("button", { type: "button", class: "qw-link", "aria-pressed": String(i === state.selected),
            text: c.label + " · " + c.size.x.toFixed(1) + "×" + c.size.y.toFixed(1) + "×" + c.size.z.toFixed(1) + " m",
            onclick: function () { state.selected = i; refresh(); } }),
          " ",
          el("button", { type: "button", class: "qw-small", text: "Delete", onclick: function () { state.selected = i; removeSelected(); } }),
        ]);
      }));
      root.dataset.shapes = String(state.cuboids.length);
    }
    function refresh() { toFields(); refreshList(); draw(); }
    function removeSelected() {
      if (state.selected < 0) return;
      state.cuboids.splice(state.selected, 1);
      state.selected = -1;
      refresh();
    }

    canvas.addEventListener("mousedown", function (event) {
      if (event.button !== 0) return;
      canvas.focus();
      const p = view.mouse(event);
      const index = state.cuboids.findIndex((c) => c.frame === state.frame && hit(c, p));
      if (index >= 0) { state.selected = index; state.drag = { kind: "move", last: p }; refresh(); return; }
      state.selected = -1;
      state.drag = { kind: "draw", start: p };
      refresh();
    });
    window.addEventListener("mousemove", function (event) {
      if (!state.drag || view.isPanning()) return;
      const p = view.mouse(event);
      if (state.drag.kind === "move") {
        const c = state.cuboids[state.selected];
        c.center.x += p[0] - state.drag.last[0];
        c.center.y += p[1] - state.drag.last[1];
        state.drag.last = p;
        toFields();
      } else {
        const [sx, sy] = state.drag.start;
        state.draft = { uuid: Quorum.uuid(), label: picker.current, frame: state.frame, yaw: 0,
          center: { x: (sx + p[0]) / 2, y: (sy + p[1]) / 2, z: DEFAULT.z },
          size: { x: Math.abs(p[0] - sx), y: Math.abs(p[1] - sy), z: DEFAULT.height } };
      }
      draw();
    });
    window.addEventListener("mouseup", function () {
      const drag = state.drag;
      state.drag = null;
      if (!drag) return;
      if (drag.kind === "draw") {
        let c = state.draft;
        state.draft = null;
        if (!c || c.size.x < 0.2 || c.size.y < 0.2) {  // a click: a default-sized car at that spot
          c = { uuid: Quorum.uuid(), label: picker.current, frame: state.frame, yaw: 0,
            center: { x: drag.start[0], y: drag.start[1], z: DEFAULT.z }, size: { x: DEFAULT.length, y: DEFAULT.width, z: DEFAULT.height } };
        }
        state.cuboids.push(c);
        state.selected = state.cuboids.length - 1;
        status.textContent = "Cuboid " + c.label + " added; set its centre z and height in the fields.";
      }
      refresh();
    });

    function onKey(event) {
      if (Quorum.isTyping(event.target)) return false;
      const c = state.cuboids[state.selected];
      if (event.key === "[") { goFrame(state.frame - 1); return true; }
      if (event.key === "]") { goFrame(state.frame + 1); return true; }
      if ((event.key === "r" || event.key === "R") && c) { c.yaw += ((event.shiftKey ? -5 : 5) * Math.PI) / 180; refresh(); return true; }
      if ((event.key === "Delete" || event.key === "Backspace") && c) { removeSelected(); return true; }
      if (event.key === "Escape") { state.selected = -1; refresh(); return true; }
      if (picker.onKey(event)) return true;
      return view.onKey(event);
    }

    function getAnswer() {
      const r = (v) => Math.round(v * 1000) / 1000;
      for (const [i, c] of state.cuboids.entries()) {
        if (!(c.size.x > 0 && c.size.y > 0 && c.size.z > 0)) throw new Error("Cuboid " + (i + 1) + " (" + c.label + ", frame " + (c.frame + 1) + ") needs a length, width and height above 0.");
      }
      return {
        annotations: state.cuboids.map((c) => ({
          uuid: c.uuid, label: c.label, frame: c.frame,
          center: { x: r(c.center.x), y: r(c.center.y), z: r(c.center.z) },
          size: { x: r(c.size.x), y: r(c.size.y), z: r(c.size.z) },
          yaw: r(c.yaw),
        })),
      };
    }

    /** Cuboids to start from (a model's pre-labels or an answer under review). */
    function loadAnswer(answer, message) {
      state.cuboids = ((answer && answer.annotations) || []).filter((a) => a && a.center && a.size && a.frame < frames.length).map((a) => ({
        uuid: a.uuid || Quorum.uuid(), label: labels.includes(a.label) ? a.label : labels[0], frame: a.frame,
        center: { x: +a.center.x, y: +a.center.y, z: +a.center.z }, size: { x: +a.size.x, y: +a.size.y, z: +a.size.z }, yaw: +a.yaw || 0,
      }));
      state.selected = -1;
      refresh();
      if (message) status.textContent = message;
    }

    window.addEventListener("resize", function () { resize(); view.fit.apply(null, view.fitBox); });
    goFrame(0);
    if (ctx && ctx.initial) loadAnswer(ctx.initial);
    return { getAnswer: getAnswer, onKey: onKey, view: view, load: loadAnswer };
  };
})();
