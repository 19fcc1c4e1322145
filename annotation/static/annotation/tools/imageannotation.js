/* imageannotation: shapes on one image, in Scale's answer shape (annotation/tasktypes/imageannotation.py):
 * {"annotations": [{uuid, type, label, attributes?, …geometry}]} with box (left, top, width, height,
 * rotation in radians with can_rotate), polygon / line (vertices), point (x, y), ellipse (x, y, rx, ry)
 * and cuboid (8 vertices: 0–3 the face nearest the camera, 4–7 the far face in the same corner order).
 *
 * Every tool works with the mouse and with the keyboard alone:
 * - the canvas is focusable; in a drawing mode the arrow keys move a crosshair (1 px, Shift 10 px) and
 *   Space places a point: a box or ellipse takes two corners, a cuboid its front face's two corners and
 *   then the far face's offset, a polygon or line one point per press (Enter finishes);
 * - in select mode [ and ] pick the previous / next shape, the arrow keys nudge it (1 px, Shift 10 px),
 *   H cycles its handles (corners, edge midpoints, vertices) so the arrows resize it or move one
 *   vertex, R / Shift+R rotates a box ±5° (with can_rotate); 1–9 relabel it;
 * - with the mouse, a selected shape's handles drag (resize, move a vertex, rotate with the knob) and
 *   the shape body drags (move);
 * - Ctrl+Z / Ctrl+Shift+Z (or Ctrl+Y) undo and redo every change;
 * - the selected shape's attributes (annotation_attributes, limited by their label conditions) are
 *   ordinary form fields under the canvas.
 * ctx.initial (a hypothesis or an answer under review) is the starting state; ctx.readOnly shows it. */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;

  const KINDS = ["box", "polygon", "line", "point", "ellipse", "cuboid"];
  const KEYS = { v: "select", b: "box", p: "polygon", l: "line", o: "point", e: "ellipse", c: "cuboid" };
  const NAMES = { select: "Select (V)", box: "Box (B)", polygon: "Polygon (P)", line: "Line (L)", point: "Point (O)", ellipse: "Ellipse (E)", cuboid: "Cuboid (C)" };
  const STEPS = { box: 2, ellipse: 2, cuboid: 3 };  // points that make one shape (keyboard or clicks)
  const ROTATE_STEP = Math.PI / 36;  // 5°

  function labelsOf(descriptions) {
    const out = [];
    for (const d of descriptions || []) {
      if (typeof d === "string") out.push(d);
      else if (d && d.choice) { out.push(d.choice); out.push(...labelsOf((d.subchoices || []).filter((s) => typeof s === "string" || (s && s.choice)))); }
    }
    return out;
  }
  function round(value, integer) { return integer ? Math.round(value) : Math.round(value * 100) / 100; }
  const clone = (v) => JSON.parse(JSON.stringify(v));
  function rotate(x, y, angle) { const c = Math.cos(angle), s = Math.sin(angle); return [x * c - y * s, x * s + y * c]; }

  /** Which attributes apply to a label (Scale's conditions.label_condition.label: one label or a list). */
  function attributesFor(definitions, label) {
    return Object.entries(definitions || {}).filter(function ([, spec]) {
      const only = ((spec.conditions || {}).label_condition || {}).label;
      if (only === undefined || only === null) return true;
      return (Array.isArray(only) ? only : [only]).includes(label);
    });
  }

  Quorum.tools.imageannotation = function mount(root, params, ctx) {
    ctx = ctx || {};
    const readOnly = Boolean(ctx.readOnly);
    const geometries = params.geometries || {};
    const definitions = params.annotation_attributes || {};
    const kinds = KINDS.filter((k) => geometries[k]);
    const canRotate = Boolean(geometries.box && geometries.box.can_rotate);
    const labelsByKind = {};
    for (const k of kinds) labelsByKind[k] = labelsOf(geometries[k].objects_to_annotate);
    const allLabels = [...new Set(kinds.flatMap((k) => labelsByKind[k]))];
    const colour = (label) => Quorum.PALETTE[Math.max(0, allLabels.indexOf(label)) % Quorum.PALETTE.length];
    const name = ctx.name || "image";

    const toolbar = el("div", { class: "qw-toolbar", role: "toolbar", "aria-label": "Drawing tools" });
    const labelBar = el("div", { class: "qw-labels", role: "radiogroup", "aria-label": "Label for new shapes (keys 1–9)" });
    const canvas = el("canvas", { class: "qw-canvas", tabindex: readOnly ? "-1" : "0", "data-testid": readOnly ? "readonly-canvas" : "image-canvas",
      role: "img", "aria-roledescription": "drawing canvas",
      "aria-label": readOnly ? "The " + name + " drawn over the image." : "The image. Draw with the mouse, or with the keyboard: arrow keys move the crosshair, Space places a point, Enter finishes. In select mode [ and ] pick a shape, arrows nudge it, H picks a handle to resize." });
    const stage = el("div", { class: "qw-stage" }, [canvas]);
    const status = el("p", { class: "qw-status", "aria-live": "polite" });
    const attrBox = el("section", { class: "qw-attributes", "aria-label": "Attributes of the selected shape", hidden: true });
    const list = el("ol", { class: "qw-shapes", "aria-label": readOnly ? "Shapes of the " + name : "Shapes drawn" });
    root.replaceChildren(toolbar, labelBar, stage, status, attrBox, el("h3", { text: "Shapes" }), list);
    if (readOnly) { toolbar.hidden = true; labelBar.hidden = true; }

    const state = { mode: kinds[0] || "select", shapes: [], selected: -1, handle: -1, draft: null, drag: null, image: null,
      cursor: null, clicks: [], undo: [], redo: [] };
    const picker = Quorum.LabelPicker(labelBar, function (label) {
      if (state.selected >= 0 && state.mode === "select") {
        const shape = state.shapes[state.selected];
        if (labelsByKind[shape.type].includes(label) && shape.label !== label) {
          commit(function () { shape.label = label; pruneAttributes(shape); touch(shape); });
          say(shape.type + " relabeled " + label + ".");
        }
      }
    });
    const modeButtons = {};
    for (const mode of ["select", ...kinds]) {
      modeButtons[mode] = el("button", { type: "button", class: "qw-mode", "aria-pressed": "false", "data-mode": mode,
        text: NAMES[mode], onclick: function () { setMode(mode); } });
      toolbar.append(modeButtons[mode]);
    }
    const undoButton = el("button", { type: "button", text: "Undo (Ctrl+Z)", onclick: function () { undo(); } });
    const redoButton = el("button", { type: "button", text: "Redo (Ctrl+Shift+Z)", onclick: function () { redo(); } });
    toolbar.append(
      undoButton, redoButton,
      el("button", { type: "button", text: "Zoom in (+)", onclick: function () { view.zoomAt(1.25, canvas.width / 2, canvas.height / 2); } }),
      el("button", { type: "button", text: "Zoom out (−)", onclick: function () { view.zoomAt(0.8, canvas.width / 2, canvas.height / 2); } }),
      el("button", { type: "button", text: "Fit (F)", onclick: function () { view.fit.apply(null, view.fitBox); } }),
      el("button", { type: "button", text: "Delete shape (Del)", onclick: function () { removeSelected(); } }),
    );

    function say(text) { status.textContent = text; }
    function setMode(mode) {
      state.mode = mode;
      state.draft = null;
      state.clicks = [];
      for (const [m, b] of Object.entries(modeButtons)) b.setAttribute("aria-pressed", String(m === mode));
      if (mode === "select") {
        const shape = state.shapes[state.selected];
        picker.set(shape ? labelsByKind[shape.type] : allLabels, shape ? shape.label : picker.current);
      } else {
        picker.set(labelsByKind[mode], picker.current);
      }
      canvas.style.cursor = mode === "select" ? "default" : "crosshair";
      refresh();
    }

    // --- history --------------------------------------------------------------------------------
    function snapshot() { return { shapes: clone(state.shapes), selected: state.selected }; }
    /** Apply a change to the shapes as one undoable step. */
    function commit(change) {
      state.undo.push(snapshot());
      if (state.undo.length > 200) state.undo.shift();
      state.redo = [];
      change();
      refresh();
    }
    function restore(from, to) {
      if (!from.length) return false;
      to.push(snapshot());
      const s = from.pop();
      state.shapes = s.shapes;
      state.selected = Math.min(s.selected, state.shapes.length - 1);
      state.handle = -1;
      state.draft = null;
      state.clicks = [];
      refresh();
      return true;
    }
    function undo() { if (restore(state.undo, state.redo)) say("Undone."); else say("Nothing to undo."); }
    function redo() { if (restore(state.redo, state.undo)) say("Redone."); else say("Nothing to redo."); }
    function touch(shape) { delete shape.prelabel; }

    // Image size: the task's declared size wins (shapes must lie inside it), else the file's.
    let width = params.attachment_width || 1000;
    let height = params.attachment_height || 750;
    const image = new Image();
    image.onload = function () {
      state.image = image;
      width = params.attachment_width || image.naturalWidth;
      height = params.attachment_height || image.naturalHeight;
      view.fit(0, 0, width, height);
      root.dataset.imageLoaded = "true";
    };
    image.onerror = function () { say("The image could not be loaded; you can still draw on the blank area."); draw(); };
    image.src = params.attachment;

    function resize() {
      const w = Math.max(readOnly ? 240 : 320, Math.round(stage.clientWidth || 800));
      canvas.width = w;
      canvas.height = Math.round(Math.min(w * 0.7, Math.max(readOnly ? 200 : 320, window.innerHeight * (readOnly ? 0.4 : 0.65))));
    }
    resize();
    const view = Quorum.CanvasView(canvas);
    view.onChange = draw;
    view.fit(0, 0, width, height);

    // --- geometry -------------------------------------------------------------------------------
    function clampX(x) { return Math.max(0, Math.min(width, x)); }
    function clampY(y) { return Math.max(0, Math.min(height, y)); }
    function boxCorners(s) {  // tl, tr, br, bl in image coordinates, rotation included
      const cx = s.left + s.width / 2, cy = s.top + s.height / 2, r = s.rotation || 0;
      return [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(function ([sx, sy]) {
        const [dx, dy] = rotate(sx * s.width / 2, sy * s.height / 2, r);
        return [cx + dx, cy + dy];
      });
    }
    function extent(s) {
      if (s.type === "box") {
        if (s.rotation) { const c = boxCorners(s); const xs = c.map((p) => p[0]), ys = c.map((p) => p[1]); return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]; }
        return [s.left, s.top, s.left + s.width, s.top + s.height];
      }
      if (s.type === "point") return [s.x, s.y, s.x, s.y];
      if (s.type === "ellipse") return [s.x - s.rx, s.y - s.ry, s.x + s.rx, s.y + s.ry];
      const xs = s.vertices.map((v) => v.x), ys = s.vertices.map((v) => v.y);
      return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    }
    function hit(s, p) {
      const tolerance = 6 / view.scale;
      if (s.type === "box") {
        const cx = s.left + s.width / 2, cy = s.top + s.height / 2;
        const [lx, ly] = rotate(p[0] - cx, p[1] - cy, -(s.rotation || 0));
        return Math.abs(lx) <= s.width / 2 + tolerance && Math.abs(ly) <= s.height / 2 + tolerance;
      }
      if (s.type === "point") return Math.hypot(p[0] - s.x, p[1] - s.y) <= 2 * tolerance;
      if (s.type === "ellipse") return Math.pow((p[0] - s.x) / (s.rx + tolerance), 2) + Math.pow((p[1] - s.y) / (s.ry + tolerance), 2) <= 1;
      if (s.type === "cuboid") {
        const [x0, y0, x1, y1] = extent(s);
        return p[0] >= x0 - tolerance && p[0] <= x1 + tolerance && p[1] >= y0 - tolerance && p[1] <= y1 + tolerance;
      }
      const vs = s.vertices;
      for (let i = 0; i + 1 < vs.length; i++) if (Quorum.segmentDistance(p, [vs[i].x, vs[i].y], [vs[i + 1].x, vs[i + 1].y]) <= tolerance) return true;
      if (s.type === "polygon") return Quorum.pointInPolygon(p, vs) || Quorum.segmentDistance(p, [vs[0].x, vs[0].y], [vs[vs.length - 1].x, vs[vs.length - 1].y]) <= tolerance;
      return false;
    }
    function translate(s, dx, dy) {
      // Keep the whole shape inside the image (a rotated box by its centre).
      if (s.type === "box" && s.rotation) {
        const cx = s.left + s.width / 2 + dx, cy = s.top + s.height / 2 + dy;
        s.left = clampX(cx) - s.width / 2; s.top = clampY(cy) - s.height / 2;
        return;
      }
      const [x0, y0, x1, y1] = extent(s);
      dx = Math.max(-x0, Math.min(width - x1, dx));
      dy = Math.max(-y0, Math.min(height - y1, dy));
      if (s.type === "box") { s.left += dx; s.top += dy; } else if (s.type === "point" || s.type === "ellipse") { s.x += dx; s.y += dy; } else s.vertices.forEach((v) => { v.x += dx; v.y += dy; });
    }

    /** A shape's handles: [{x, y, kind, …}] — box corners and edge midpoints (and the rotation knob),
     * ellipse edge points, vertices of polygons, lines and cuboids. */
    function handles(s) {
      if (s.type === "box") {
        const cx = s.left + s.width / 2, cy = s.top + s.height / 2, r = s.rotation || 0;
        const out = [[-1, -1], [0, -1], [1, -1], [1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0]].map(function ([sx, sy]) {
          const [dx, dy] = rotate(sx * s.width / 2, sy * s.height / 2, r);
          return { x: cx + dx, y: cy + dy, kind: "resize", sx: sx, sy: sy };
        });
        if (canRotate) {
          const [dx, dy] = rotate(0, -s.height / 2 - 24 / view.scale, r);
          out.push({ x: cx + dx, y: cy + dy, kind: "rotate" });
        }
        return out;
      }
      if (s.type === "ellipse") return [[1, 0], [0, 1], [-1, 0], [0, -1]].map(([sx, sy]) => ({ x: s.x + sx * s.rx, y: s.y + sy * s.ry, kind: "radius", sx: sx, sy: sy }));
      if (s.type === "point") return [];
      return s.vertices.map((v, i) => ({ x: v.x, y: v.y, kind: "vertex", index: i }));
    }
    /** The box's frame (centre, size, rotation) a resize works in: taken once at the start of a
     * mouse drag, so the opposite corner stays put even when the box flips over it. */
    function frameOf(s) { return { cx: s.left + s.width / 2, cy: s.top + s.height / 2, w: s.width, h: s.height, r: s.rotation || 0 }; }
    /** Move handle ``h`` of shape ``s`` to image point p. */
    function moveHandle(s, h, p, frame) {
      if (h.kind === "vertex") {
        const v = s.vertices[h.index];
        v.x = clampX(p[0]); v.y = clampY(p[1]);
      } else if (h.kind === "radius") {
        if (h.sx) s.rx = Math.max(0.5, Math.abs(clampX(p[0]) - s.x));
        if (h.sy) s.ry = Math.max(0.5, Math.abs(clampY(p[1]) - s.y));
      } else if (h.kind === "rotate") {
        const cx = s.left + s.width / 2, cy = s.top + s.height / 2;
        s.rotation = Math.atan2(p[0] - cx, -(p[1] - cy));
      } else {  // resize a box in its own frame: the opposite corner or edge stays where it is
        const f = frame || frameOf(s);
        const q = f.r ? p : [clampX(p[0]), clampY(p[1])];
        const [mx, my] = rotate(q[0] - f.cx, q[1] - f.cy, -f.r);
        let x0 = -f.w / 2, x1 = f.w / 2, y0 = -f.h / 2, y1 = f.h / 2;
        if (h.sx) { const anchor = -h.sx * f.w / 2; x0 = Math.min(anchor, mx); x1 = Math.max(anchor, mx); }
        if (h.sy) { const anchor = -h.sy * f.h / 2; y0 = Math.min(anchor, my); y1 = Math.max(anchor, my); }
        const w = Math.max(1, x1 - x0), hh = Math.max(1, y1 - y0);
        const [ox, oy] = rotate((x0 + x1) / 2, (y0 + y1) / 2, f.r);
        s.width = w; s.height = hh; s.left = f.cx + ox - w / 2; s.top = f.cy + oy - hh / 2;
      }
    }

    // --- drawing --------------------------------------------------------------------------------
    function trace(g, s) {
      g.beginPath();
      if (s.type === "box") { const c = boxCorners(s); c.forEach((p, i) => (i ? g.lineTo(p[0], p[1]) : g.moveTo(p[0], p[1]))); g.closePath(); }
      else if (s.type === "ellipse") g.ellipse(s.x, s.y, s.rx, s.ry, s.rotation || 0, 0, 2 * Math.PI);
      else if (s.type === "point") g.arc(s.x, s.y, 4 / view.scale, 0, 2 * Math.PI);
      else if (s.type === "cuboid") {
        const v = s.vertices;
        for (const [a, b] of [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]]) {
          if (!v[a] || !v[b]) continue;
          g.moveTo(v[a].x, v[a].y); g.lineTo(v[b].x, v[b].y);
        }
      }
      else { s.vertices.forEach((v, i) => (i ? g.lineTo(v.x, v.y) : g.moveTo(v.x, v.y))); if (s.type === "polygon" && !s.open) g.closePath(); }
    }
    function draw() {
      const g = canvas.getContext("2d");
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.fillStyle = "#20232a";
      g.fillRect(0, 0, canvas.width, canvas.height);
      view.apply(g);
      if (state.image) g.drawImage(state.image, 0, 0, width, height);
      else { g.fillStyle = "#3a3f4b"; g.fillRect(0, 0, width, height); }
      const shapes = state.draft ? [...state.shapes, state.draft] : state.shapes;
      shapes.forEach(function (s, i) {
        const selected = i === state.selected && s !== state.draft;
        g.lineWidth = (selected ? 3 : 2) / view.scale;
        g.strokeStyle = colour(s.label);
        g.setLineDash(s === state.draft || s.prelabel ? [6 / view.scale, 4 / view.scale] : []);
        trace(g, s);
        if (s.type === "point") { g.fillStyle = colour(s.label); g.fill(); }
        else if (s.type === "cuboid") {
          g.stroke();
          if (s.vertices.length >= 4) {  // shade the near face
            g.beginPath(); s.vertices.slice(0, 4).forEach((v, k) => (k ? g.lineTo(v.x, v.y) : g.moveTo(v.x, v.y))); g.closePath();
            g.fillStyle = colour(s.label) + (selected ? "55" : "22"); g.fill();
          }
        }
        else if (s.type !== "line") { g.fillStyle = colour(s.label) + (selected ? "55" : "22"); g.fill(); }
        g.stroke();
        if (s.vertices && !selected) for (const v of s.vertices) { g.fillStyle = "#fff"; g.fillRect(v.x - 2.5 / view.scale, v.y - 2.5 / view.scale, 5 / view.scale, 5 / view.scale); }
      });
      g.setLineDash([]);
      const sel = state.shapes[state.selected];
      if (sel && !readOnly) {
        handles(sel).forEach(function (h, k) {
          const size = (k === state.handle ? 10 : 7) / view.scale;
          g.fillStyle = k === state.handle ? "#ffd400" : "#fff";
          g.strokeStyle = "#111";
          g.lineWidth = 1 / view.scale;
          g.beginPath();
          if (h.kind === "rotate") g.arc(h.x, h.y, size / 1.6, 0, 2 * Math.PI); else g.rect(h.x - size / 2, h.y - size / 2, size, size);
          g.fill(); g.stroke();
        });
      }
      // The keyboard crosshair and the points placed so far.
      if (state.cursor && !readOnly && document.activeElement === canvas) {
        const [x, y] = state.cursor, arm = 12 / view.scale;
        g.lineWidth = 1.5 / view.scale;
        g.strokeStyle = "#ffd400";
        g.beginPath(); g.moveTo(x - arm, y); g.lineTo(x + arm, y); g.moveTo(x, y - arm); g.lineTo(x, y + arm); g.stroke();
        g.strokeStyle = "#111"; g.lineWidth = 0.75 / view.scale;
        g.strokeRect(x - 2 / view.scale, y - 2 / view.scale, 4 / view.scale, 4 / view.scale);
      }
    }
    function shapeText(s) {
      const [x0, y0, x1, y1] = extent(s);
      const [w, h] = s.type === "box" ? [s.width, s.height] : [x1 - x0, y1 - y0];
      let text = s.type + " · " + s.label + " · " + Math.round(w) + "×" + Math.round(h);
      if (s.type === "box" && s.rotation) text += " · " + Math.round(s.rotation * 180 / Math.PI) + "°";
      const attrs = Object.entries(s.attributes || {}).map(([k, v]) => k + ": " + (Array.isArray(v) ? v.join("/") : v));
      if (attrs.length) text += " · " + attrs.join(", ");
      if (s.prelabel) text += " · pre-label";
      return text;
    }
    function refresh() {
      list.replaceChildren(...state.shapes.map(function (s, i) {
        if (readOnly) return el("li", { text: shapeText(s) });
        return el("li", { class: i === state.selected ? "qw-selected" : "" }, [
          el("button", { type: "button", class: "qw-link", text: shapeText(s),
            "aria-pressed": String(i === state.selected), onclick: function () { select(i); setMode("select"); } }),
          " ",
          el("button", { type: "button", class: "qw-small", text: "Delete", "aria-label": "Delete " + s.type + " " + s.label,
            onclick: function () { state.selected = i; removeSelected(); } }),
        ]);
      }));
      root.dataset.shapes = String(state.shapes.length);
      undoButton.disabled = !state.undo.length;
      redoButton.disabled = !state.redo.length;
      renderAttributes();
      draw();
    }
    function select(i) {
      state.selected = i;
      state.handle = -1;
      const s = state.shapes[i];
      if (s) say("Selected " + shapeText(s) + ".");
    }
    function removeSelected() {
      if (state.selected < 0) return;
      const gone = state.shapes[state.selected];
      commit(function () { state.shapes.splice(state.selected, 1); state.selected = -1; state.handle = -1; });
      say(gone.type + " " + gone.label + " deleted.");
    }

    // --- attributes -----------------------------------------------------------------------------
    function pruneAttributes(shape) {
      if (!shape.attributes) return;
      const allowed = new Set(attributesFor(definitions, shape.label).map(([n]) => n));
      for (const key of Object.keys(shape.attributes)) if (!allowed.has(key)) delete shape.attributes[key];
      if (!Object.keys(shape.attributes).length) delete shape.attributes;
    }
    function setAttribute(shape, attr, value) {
      commit(function () {
        shape.attributes = shape.attributes || {};
        if (value === null || (Array.isArray(value) && !value.length)) delete shape.attributes[attr];
        else shape.attributes[attr] = value;
        if (!Object.keys(shape.attributes).length) delete shape.attributes;
        touch(shape);
      });
    }
    let attributesKey = "";
    function renderAttributes() {
      const shape = state.shapes[state.selected];
      const applicable = shape && !readOnly ? attributesFor(definitions, shape.label) : [];
      const key = shape ? state.selected + "|" + shape.uuid + "|" + shape.label + "|" + JSON.stringify(shape.attributes || {}) : "";
      if (key === attributesKey) return;  // keep focus in the form while it is in use
      attributesKey = key;
      if (!applicable.length) {
        attrBox.replaceChildren();
        attrBox.hidden = true;
        return;
      }
      attrBox.hidden = false;
      const current = shape.attributes || {};
      const fields = applicable.map(function ([attr, spec], n) {
        const id = "attr-" + n;
        const title = spec.description || attr;
        if (spec.allow_multiple) {
          const chosen = new Set(Array.isArray(current[attr]) ? current[attr] : current[attr] ? [current[attr]] : []);
          return el("fieldset", { class: "qw-attribute" }, [el("legend", { text: title }),
            ...spec.choices.map(function (choice, k) {
              const box = el("input", { type: "checkbox", id: id + "-" + k, value: choice, checked: chosen.has(choice),
                onchange: function () {
                  const picked = [...attrBox.querySelectorAll("input[name='" + id + "']:checked")].map((i) => i.value);
                  setAttribute(shape, attr, picked);
                } });
              box.name = id;
              return el("span", { class: "qw-option" }, [box, el("label", { for: id + "-" + k, text: choice })]);
            })]);
        }
        const selectEl = el("select", { id: id, onchange: function (event) { setAttribute(shape, attr, event.target.value || null); } },
          [el("option", { value: "", text: "— not set —" }), ...spec.choices.map((c) => el("option", { value: c, text: c, selected: current[attr] === c }))]);
        return el("div", { class: "qw-attribute" }, [el("label", { for: id, text: title }), selectEl]);
      });
      const focused = attrBox.contains(document.activeElement) ? document.activeElement.id : null;
      attrBox.replaceChildren(el("h3", { text: "Attributes of " + shape.type + " " + shape.label }), el("div", { class: "qw-fields" }, fields));
      if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    }

    // --- making shapes --------------------------------------------------------------------------
    function newShape(kind, points) {
      const label = picker.current;
      const [[ax, ay], [bx, by]] = [points[0], points[1] || points[0]];
      const box = { left: Math.min(ax, bx), top: Math.min(ay, by), width: Math.abs(bx - ax), height: Math.abs(by - ay) };
      const base = { uuid: Quorum.uuid(), type: kind, label: label };
      if (kind === "box") return Object.assign(base, box, canRotate ? { rotation: 0 } : {});
      if (kind === "ellipse") return Object.assign(base, { x: box.left + box.width / 2, y: box.top + box.height / 2, rx: box.width / 2, ry: box.height / 2 });
      if (kind === "point") return Object.assign(base, { x: ax, y: ay });
      if (kind === "cuboid") {
        const face = [[box.left, box.top], [box.left + box.width, box.top], [box.left + box.width, box.top + box.height], [box.left, box.top + box.height]];
        const depth = points[2] ? [points[2][0] - bx, points[2][1] - by] : [0, 0];
        return Object.assign(base, { vertices: face.map(([x, y]) => ({ x: x, y: y, type: "face" })).concat(
          face.map(([x, y]) => ({ x: clampX(x + depth[0]), y: clampY(y + depth[1]), type: "side" }))) });
      }
      return Object.assign(base, { vertices: points.map(([x, y]) => ({ x: x, y: y })) });
    }
    function big(s) {
      if (s.type === "box") return s.width >= 1 && s.height >= 1;
      if (s.type === "ellipse") return s.rx >= 0.5 && s.ry >= 0.5;
      if (s.type === "cuboid") { const [x0, y0, x1, y1] = extent(s); return x1 - x0 >= 1 && y1 - y0 >= 1; }
      return true;
    }
    function addShape(s) {
      if (!big(s)) { say("Too small: drag or move further before placing the second corner."); state.draft = null; refresh(); return; }
      commit(function () { state.shapes.push(s); state.selected = state.shapes.length - 1; state.handle = -1; state.draft = null; });
      say(s.type + " " + s.label + " added." + (attributesFor(definitions, s.label).length ? " Set its attributes below the image." : ""));
    }
    /** One more point of the shape being drawn (a click, or Space at the crosshair). */
    function place(p) {
      const kind = state.mode;
      const x = clampX(p[0]), y = clampY(p[1]);
      if (kind === "point") { addShape(newShape("point", [[x, y]])); return; }
      if (kind === "polygon" || kind === "line") {
        if (!state.draft) state.draft = { uuid: Quorum.uuid(), type: kind, label: picker.current, vertices: [], open: true };
        const first = state.draft.vertices[0];
        if (kind === "polygon" && first && state.draft.vertices.length >= 3 && Math.hypot(first.x - x, first.y - y) <= 8 / view.scale) { finishDraft(); return; }
        state.draft.vertices.push({ x: x, y: y });
        const max = geometries[kind].max_vertices;
        if (max && state.draft.vertices.length >= max) finishDraft();
        else { say(kind + ": point " + state.draft.vertices.length + " placed" + (state.draft.vertices.length >= (kind === "polygon" ? 3 : 2) ? "; Enter finishes." : ".")); draw(); }
        return;
      }
      state.clicks.push([x, y]);
      if (state.clicks.length >= STEPS[kind]) {
        const s = newShape(kind, state.clicks);
        state.clicks = [];
        addShape(s);
      } else {
        state.draft = newShape(kind, state.clicks.concat([[x, y]]));
        say(kind === "cuboid" && state.clicks.length === 2 ? "Front face placed; now place the far face's offset." : "First corner placed; place the opposite corner.");
        draw();
      }
    }
    function finishDraft() {
      const d = state.draft;
      state.draft = null;
      if (!d) return;
      const min = d.type === "polygon" ? Math.max(3, geometries.polygon.min_vertices || 3) : Math.max(2, (geometries.line || {}).min_vertices || 2);
      if (d.vertices.length < min) { say("A " + d.type + " needs at least " + min + " points."); refresh(); return; }
      delete d.open;
      addShape(d);
    }

    // --- mouse ----------------------------------------------------------------------------------
    function handleAt(p) {
      const s = state.shapes[state.selected];
      if (!s) return -1;
      const hs = handles(s), tol = 8 / view.scale;
      for (let k = hs.length - 1; k >= 0; k--) if (Math.abs(hs[k].x - p[0]) <= tol && Math.abs(hs[k].y - p[1]) <= tol) return k;
      return -1;
    }
    if (!readOnly) canvas.addEventListener("mousedown", function (event) {
      if (event.button !== 0) return;
      canvas.focus();
      const p = view.mouse(event);
      state.cursor = [clampX(p[0]), clampY(p[1])];
      const k = handleAt(p);
      if (k >= 0 && !state.draft && !state.clicks.length) {  // drag a handle of the selected shape, in any mode
        const s = state.shapes[state.selected];
        state.handle = k;
        state.drag = { kind: "handle", handle: handles(s)[k], frame: frameOf(s), before: snapshot(), moved: false };
        draw();
        return;
      }
      if (state.mode === "select") {
        let found = -1;
        for (let i = state.shapes.length - 1; i >= 0; i--) if (hit(state.shapes[i], p)) { found = i; break; }
        select(found);
        if (found >= 0) state.drag = { kind: "move", last: p, before: snapshot(), moved: false };
        setMode("select");
      } else if (STEPS[state.mode]) {
        if (state.clicks.length) { place(p); return; }  // the next corner (or the cuboid's far face)
        state.clicks = [[clampX(p[0]), clampY(p[1])]];
        state.drag = { kind: "draw" };
      } else {
        place(p);
      }
    });
    canvas.addEventListener("dblclick", function () { if (state.draft && state.draft.vertices) { state.draft.vertices.pop(); finishDraft(); } });
    window.addEventListener("mousemove", function (event) {
      if (readOnly || view.isPanning()) return;
      if (!state.drag) {
        if (STEPS[state.mode] && state.clicks.length) {  // the shape follows the mouse until the next click
          const p = view.mouse(event);
          state.draft = newShape(state.mode, state.clicks.concat([[clampX(p[0]), clampY(p[1])]]));
          draw();
        }
        return;
      }
      const p = view.mouse(event);
      const s = state.shapes[state.selected];
      if (state.drag.kind === "move") {
        translate(s, p[0] - state.drag.last[0], p[1] - state.drag.last[1]);
        state.drag.last = p;
        state.drag.moved = true;
        draw();
      } else if (state.drag.kind === "handle") {
        moveHandle(s, state.drag.handle, p, state.drag.frame);
        state.drag.moved = true;
        draw();
      } else {
        state.draft = newShape(state.mode, [state.clicks[0], [clampX(p[0]), clampY(p[1])]]);
        draw();
      }
    });
    window.addEventListener("mouseup", function (event) {
      const drag = state.drag;
      state.drag = null;
      if (!drag || readOnly) return;
      if (drag.kind === "move" || drag.kind === "handle") {
        if (drag.moved) {  // one undo step for the whole drag
          state.undo.push(drag.before); state.redo = [];
          touch(state.shapes[state.selected]);
          say(drag.kind === "move" ? "Moved." : drag.handle.kind === "rotate" ? "Rotated." : "Resized.");
        }
        refresh();
        return;
      }
      const p = view.mouse(event);
      const end = [clampX(p[0]), clampY(p[1])];
      const start = state.clicks[0];
      if (!start || Math.hypot(end[0] - start[0], end[1] - start[1]) * view.scale < 3) {
        // A click without a drag: the first corner stays; the next click (or Space) places the other.
        state.draft = null;
        say("First corner placed; click (or press Space at) the opposite corner.");
        draw();
        return;
      }
      state.clicks.push(end);
      if (state.clicks.length >= STEPS[state.mode]) { const s = newShape(state.mode, state.clicks); state.clicks = []; addShape(s); }
      else { state.draft = newShape(state.mode, state.clicks.concat([end])); say("Front face drawn; move the mouse to set the far face and click."); draw(); }
    });
    canvas.addEventListener("focus", draw);
    canvas.addEventListener("blur", draw);

    // --- keys -----------------------------------------------------------------------------------
    function arrow(key) { return { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[key]; }
    function keepInView(x, y) {
      const [px, py] = view.toScreen(x, y), margin = 20;
      if (px < margin || py < margin || px > canvas.width - margin || py > canvas.height - margin) {
        view.ox += canvas.width / 2 - px; view.oy += canvas.height / 2 - py; view.onChange();
      }
    }
    function nudge(dx, dy) {
      const s = state.shapes[state.selected];
      commit(function () {
        if (state.handle >= 0) {
          const h = handles(s)[state.handle];
          if (h.kind === "rotate") s.rotation = (s.rotation || 0) + (dx + dy) * ROTATE_STEP / 5;
          else moveHandle(s, h, [h.x + dx, h.y + dy]);
        } else translate(s, dx, dy);
        touch(s);
      });
      // Merge a run of nudges into one undo step.
      if (state.lastNudge && state.lastNudge.shape === s.uuid && state.lastNudge.handle === state.handle && Date.now() - state.lastNudge.at < 1500) state.undo.pop();
      state.lastNudge = { shape: s.uuid, handle: state.handle, at: Date.now() };
      say((state.handle >= 0 ? "Handle " + (state.handle + 1) + " moved: " : "Moved: ") + shapeText(s) + ".");
    }
    function onKey(event) {
      if (readOnly || Quorum.isTyping(event.target)) return false;
      const key = event.key;
      const step = event.shiftKey ? 10 : 1;
      const dir = arrow(key);
      const selected = state.shapes[state.selected];
      if (dir && state.mode !== "select") {  // the crosshair
        if (!state.cursor) state.cursor = [width / 2, height / 2];
        state.cursor = [clampX(state.cursor[0] + dir[0] * step), clampY(state.cursor[1] + dir[1] * step)];
        keepInView(state.cursor[0], state.cursor[1]);
        if (state.draft && state.clicks.length) state.draft = newShape(state.mode, state.clicks.concat([state.cursor]));
        else if (state.draft && state.draft.vertices) { /* the polygon's next point follows on Space */ }
        draw();
        return true;
      }
      if (dir && selected) { nudge(dir[0] * step, dir[1] * step); return true; }
      if (key === " " && state.mode !== "select" && !event.repeat && document.activeElement === canvas) {
        if (!state.cursor) state.cursor = [width / 2, height / 2];
        place(state.cursor);
        return true;
      }
      if (key === "Enter" && state.draft && state.draft.vertices && state.draft.open) { finishDraft(); return true; }
      if (key === "Escape") {
        if (state.draft || state.clicks.length) { state.draft = null; state.clicks = []; say("Drawing cancelled."); draw(); return true; }
        if (state.handle >= 0) { state.handle = -1; draw(); return true; }
        state.selected = -1; setMode(state.mode); return true;
      }
      if ((key === "Delete" || key === "Backspace") && state.selected >= 0) { removeSelected(); return true; }
      if ((key === "[" || key === "]") && state.shapes.length) {
        const n = state.shapes.length;
        const next = state.selected < 0 ? (key === "]" ? 0 : n - 1) : (state.selected + (key === "]" ? 1 : n - 1)) % n;
        select(next);
        setMode("select");
        return true;
      }
      if ((key === "h" || key === "H") && selected) {
        const count = handles(selected).length;
        if (!count) return true;
        state.handle = event.shiftKey ? (state.handle <= 0 ? count - 1 : state.handle - 1) : (state.handle + 1) % count;
        const h = handles(selected)[state.handle];
        say("Handle " + (state.handle + 1) + " of " + count + " (" + (h.kind === "vertex" ? "vertex " + (h.index + 1) : h.kind) + "): arrow keys move it, Escape lets go.");
        draw();
        return true;
      }
      if ((key === "r" || key === "R") && selected && selected.type === "box" && canRotate) {
        commit(function () { selected.rotation = (selected.rotation || 0) + (event.shiftKey ? -ROTATE_STEP : ROTATE_STEP); touch(selected); });
        say("Rotated to " + Math.round(selected.rotation * 180 / Math.PI) + "°.");
        return true;
      }
      const mode = KEYS[key.toLowerCase()];
      if (mode && !event.ctrlKey && (mode === "select" || kinds.includes(mode))) {
        setMode(mode);
        if (mode !== "select" && !state.cursor) state.cursor = [width / 2, height / 2];
        say(NAMES[mode].replace(/ \(.\)$/, "") + " tool." + (mode === "select" ? "" : " Click, or move the crosshair with the arrow keys and press Space."));
        return true;
      }
      if (picker.onKey(event)) return true;
      return view.onKey(event);
    }

    // --- answers in and out ---------------------------------------------------------------------
    function fromAnswer(answer) {
      const out = [];
      for (const a of (answer && answer.annotations) || []) {
        if (!a || !kinds.includes(a.type)) continue;
        const s = { uuid: a.uuid || Quorum.uuid(), type: a.type, label: a.label };
        if (a.attributes && Object.keys(a.attributes).length) s.attributes = clone(a.attributes);
        if (a.type === "box") Object.assign(s, { left: +a.left, top: +a.top, width: +a.width, height: +a.height }, canRotate ? { rotation: +(a.rotation || 0) } : {});
        else if (a.type === "point") Object.assign(s, { x: +a.x, y: +a.y });
        else if (a.type === "ellipse") Object.assign(s, { x: +a.x, y: +a.y, rx: +a.rx, ry: +a.ry }, a.rotation ? { rotation: +a.rotation } : {});
        else if (a.type === "cuboid") s.vertices = (a.vertices || []).map((v, i) => ({ x: +v.x, y: +v.y, type: v.type || (i < 4 ? "face" : "side") }));
        else s.vertices = (a.vertices || []).map((v) => ({ x: +v.x, y: +v.y }));
        if (ctx.initialSource === "hypothesis") s.prelabel = true;
        out.push(s);
      }
      return out;
    }
    function load(answer, message) {
      commit(function () { state.shapes = fromAnswer(answer); state.selected = -1; state.handle = -1; });
      if (message) say(message);
    }
    function getAnswer() {
      if (state.draft || state.clicks.length) throw new Error("Finish the " + state.mode + " you are drawing first (Enter, Space or a click), or press Escape.");
      const integer = (k) => Boolean(geometries[k] && geometries[k].integer_pixels);
      return {
        annotations: state.shapes.map(function (s) {
          const out = { uuid: s.uuid, type: s.type, label: s.label };
          if (s.attributes && Object.keys(s.attributes).length) out.attributes = clone(s.attributes);
          const r = (v) => round(v, s.type === "box" && integer("box"));
          if (s.type === "box") {
            if (s.rotation) {
              out.left = r(s.left); out.top = r(s.top); out.width = r(s.width); out.height = r(s.height);
              out.rotation = Math.round(s.rotation * 1e6) / 1e6;
            } else {
              out.left = r(clampX(s.left)); out.top = r(clampY(s.top));
              out.width = r(Math.min(s.width, width - out.left)); out.height = r(Math.min(s.height, height - out.top));
              if (canRotate) out.rotation = 0;
            }
          } else if (s.type === "point") { out.x = r(s.x); out.y = r(s.y); }
          else if (s.type === "ellipse") { out.x = r(s.x); out.y = r(s.y); out.rx = r(s.rx); out.ry = r(s.ry); if (s.rotation) out.rotation = s.rotation; }
          else if (s.type === "cuboid") out.vertices = s.vertices.map((v) => ({ x: r(v.x), y: r(v.y), type: v.type }));
          else out.vertices = s.vertices.map((v) => ({ x: r(v.x), y: r(v.y) }));
          return out;
        }),
      };
    }

    window.addEventListener("resize", function () { resize(); view.fit.apply(null, view.fitBox); });
    setMode(kinds[0] || "select");
    if (ctx.initial) {
      state.shapes = fromAnswer(ctx.initial);
      if (!readOnly && ctx.initialSource === "hypothesis" && state.shapes.length) {
        say("Starting from " + state.shapes.length + " pre-label" + (state.shapes.length === 1 ? "" : "s") + " (dashed) from the client's model: correct, delete or add shapes.");
      }
      refresh();
    }
    return { getAnswer: getAnswer, onKey: onKey, view: view, undo: undo, redo: redo, load: load };
  };
})();
