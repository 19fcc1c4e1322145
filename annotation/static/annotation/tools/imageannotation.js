/* imageannotation: boxes, polygons, lines, points and ellipses on a <canvas> over the image.
 * Answer (annotation/tasktypes/imageannotation.py): {"annotations": [{uuid, type, label, …geometry}]}
 * box {left, top, width, height}; polygon / line {vertices: [{x, y}]}; point {x, y};
 * ellipse {x, y, rx, ry}. Coordinates are image pixels. */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;
  const KINDS = ["box", "polygon", "line", "point", "ellipse"];
  const KEYS = { v: "select", b: "box", p: "polygon", l: "line", o: "point", e: "ellipse" };
  const NAMES = { select: "Select (V)", box: "Box (B)", polygon: "Polygon (P)", line: "Line (L)", point: "Point (O)", ellipse: "Ellipse (E)" };

  function labelsOf(descriptions) {
    const out = [];
    for (const d of descriptions || []) {
      if (typeof d === "string") out.push(d);
      else if (d && d.choice) { out.push(d.choice); out.push(...labelsOf((d.subchoices || []).filter((s) => typeof s === "string" || (s && s.choice)))); }
    }
    return out;
  }

  function round(value, integer) { return integer ? Math.round(value) : Math.round(value * 100) / 100; }

  Quorum.tools.imageannotation = function mount(root, params, ctx) {
    const geometries = params.geometries || {};
    const kinds = KINDS.filter((k) => geometries[k]);
    const unsupported = Object.keys(geometries).filter((k) => !KINDS.includes(k));
    const labelsByKind = {};
    for (const k of kinds) labelsByKind[k] = labelsOf(geometries[k].objects_to_annotate);
    const allLabels = [...new Set(kinds.flatMap((k) => labelsByKind[k]))];
    const colour = (label) => Quorum.PALETTE[Math.max(0, allLabels.indexOf(label)) % Quorum.PALETTE.length];

    const toolbar = el("div", { class: "qw-toolbar", role: "toolbar", "aria-label": "Drawing tools" });
    const labelBar = el("div", { class: "qw-labels", role: "radiogroup", "aria-label": "Label for new shapes (keys 1–9)" });
    const canvas = el("canvas", { class: "qw-canvas", tabindex: "0", "data-testid": "image-canvas",
      "aria-label": "The image. Draw with the mouse; space-drag or arrow keys pan, wheel or +/- zoom." });
    const stage = el("div", { class: "qw-stage" }, [canvas]);
    const status = el("p", { class: "qw-status", "aria-live": "polite" });
    const list = el("ol", { class: "qw-shapes", "aria-label": "Shapes drawn" });
    root.replaceChildren(toolbar, labelBar, stage, status, el("h3", { text: "Shapes" }), list);
    if (unsupported.length) {
      root.prepend(el("p", { class: "qw-note", text: "This browser tool cannot draw " + unsupported.join(", ") +
        " shapes yet; submit those through the API." }));
    }

    const state = { mode: kinds[0] || "select", shapes: [], selected: -1, draft: null, drag: null, image: null };
    const picker = Quorum.LabelPicker(labelBar, function (label) {
      if (state.selected >= 0 && state.mode === "select") {
        const shape = state.shapes[state.selected];
        if (labelsByKind[shape.type].includes(label)) { shape.label = label; refresh(); }
      }
    });
    const modeButtons = {};
    for (const mode of ["select", ...kinds]) {
      modeButtons[mode] = el("button", { type: "button", class: "qw-mode", "aria-pressed": "false", "data-mode": mode,
        text: NAMES[mode], onclick: function () { setMode(mode); } });
      toolbar.append(modeButtons[mode]);
    }
    toolbar.append(
      el("button", { type: "button", text: "Zoom in (+)", onclick: function () { view.zoomAt(1.25, canvas.width / 2, canvas.height / 2); } }),
      el("button", { type: "button", text: "Zoom out (−)", onclick: function () { view.zoomAt(0.8, canvas.width / 2, canvas.height / 2); } }),
      el("button", { type: "button", text: "Fit (F)", onclick: function () { view.fit.apply(null, view.fitBox); } }),
      el("button", { type: "button", text: "Delete shape (Del)", onclick: function () { removeSelected(); } }),
    );

    function setMode(mode) {
      state.mode = mode;
      state.draft = null;
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
    image.onerror = function () { status.textContent = "The image could not be loaded; you can still draw on the blank area."; draw(); };
    image.src = params.attachment;

    function resize() {
      const w = Math.max(320, Math.round(stage.clientWidth || 800));
      canvas.width = w;
      canvas.height = Math.round(Math.min(w * 0.7, Math.max(320, window.innerHeight * 0.65)));
    }
    resize();
    const view = Quorum.CanvasView(canvas);
    view.onChange = draw;
    view.fit(0, 0, width, height);

    // --- geometry -------------------------------------------------------------------------------
    function clampX(x) { return Math.max(0, Math.min(width, x)); }
    function clampY(y) { return Math.max(0, Math.min(height, y)); }
    function extent(s) {
      if (s.type === "box") return [s.left, s.top, s.left + s.width, s.top + s.height];
      if (s.type === "point") return [s.x, s.y, s.x, s.y];
      if (s.type === "ellipse") return [s.x - s.rx, s.y - s.ry, s.x + s.rx, s.y + s.ry];
      const xs = s.vertices.map((v) => v.x), ys = s.vertices.map((v) => v.y);
      return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    }
    function hit(s, p) {
      const tolerance = 6 / view.scale;
      if (s.type === "box") return p[0] >= s.left - tolerance && p[0] <= s.left + s.width + tolerance && p[1] >= s.top - tolerance && p[1] <= s.top + s.height + tolerance;
      if (s.type === "point") return Math.hypot(p[0] - s.x, p[1] - s.y) <= 2 * tolerance;
      if (s.type === "ellipse") return Math.pow((p[0] - s.x) / (s.rx + tolerance), 2) + Math.pow((p[1] - s.y) / (s.ry + tolerance), 2) <= 1;
      const vs = s.vertices;
      for (let i = 0; i + 1 < vs.length; i++) if (Quorum.segmentDistance(p, [vs[i].x, vs[i].y], [vs[i + 1].x, vs[i + 1].y]) <= tolerance) return true;
      if (s.type === "polygon") return Quorum.pointInPolygon(p, vs) || Quorum.segmentDistance(p, [vs[0].x, vs[0].y], [vs[vs.length - 1].x, vs[vs.length - 1].y]) <= tolerance;
      return false;
    }
    function translate(s, dx, dy) {
      // Keep the whole shape inside the image.
      const [x0, y0, x1, y1] = extent(s);
      dx = Math.max(-x0, Math.min(width - x1, dx));
      dy = Math.max(-y0, Math.min(height - y1, dy));
      if (s.type === "box") { s.left += dx; s.top += dy; } else if (s.type === "point" || s.type === "ellipse") { s.x += dx; s.y += dy; } else s.vertices.forEach((v) => { v.x += dx; v.y += dy; });
    }

    // --- drawing --------------------------------------------------------------------------------
    function trace(g, s) {
      g.beginPath();
      if (s.type === "box") g.rect(s.left, s.top, s.width, s.height);
      else if (s.type === "ellipse") g.ellipse(s.x, s.y, s.rx, s.ry, 0, 0, 2 * Math.PI);
      else if (s.type === "point") g.arc(s.x, s.y, 4 / view.scale, 0, 2 * Math.PI);
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
        g.setLineDash(s === state.draft ? [6 / view.scale, 4 / view.scale] : []);
        trace(g, s);
        if (s.type === "point") { g.fillStyle = colour(s.label); g.fill(); }
        else if (s.type !== "line") { g.fillStyle = colour(s.label) + (selected ? "55" : "22"); g.fill(); }
        g.stroke();
        if (s.vertices) for (const v of s.vertices) { g.fillStyle = "#fff"; g.fillRect(v.x - 3 / view.scale, v.y - 3 / view.scale, 6 / view.scale, 6 / view.scale); }
      });
      g.setLineDash([]);
    }
    function refresh() {
      list.replaceChildren(...state.shapes.map(function (s, i) {
        const [x0, y0, x1, y1] = extent(s);
        const item = el("li", { class: i === state.selected ? "qw-selected" : "" }, [
          el("button", { type: "button", class: "qw-link", text: s.type + " · " + s.label + " · " + Math.round(x1 - x0) + "×" + Math.round(y1 - y0),
            "aria-pressed": String(i === state.selected), onclick: function () { state.selected = i; setMode("select"); } }),
          " ",
          el("button", { type: "button", class: "qw-small", text: "Delete", "aria-label": "Delete " + s.type + " " + s.label,
            onclick: function () { state.selected = i; removeSelected(); } }),
        ]);
        return item;
      }));
      root.dataset.shapes = String(state.shapes.length);
      draw();
    }
    function removeSelected() {
      if (state.selected < 0) return;
      state.shapes.splice(state.selected, 1);
      state.selected = -1;
      refresh();
    }
    function finishDraft() {
      const d = state.draft;
      state.draft = null;
      if (!d) return;
      const min = d.type === "polygon" ? 3 : 2;
      if (d.vertices.length < min) { status.textContent = "A " + d.type + " needs at least " + min + " points."; refresh(); return; }
      delete d.open;
      state.shapes.push(d);
      status.textContent = d.type + " added (" + d.vertices.length + " points).";
      refresh();
    }

    // --- mouse ----------------------------------------------------------------------------------
    canvas.addEventListener("mousedown", function (event) {
      if (event.button !== 0) return;
      canvas.focus();
      const p = view.mouse(event);
      const x = clampX(p[0]), y = clampY(p[1]);
      const label = picker.current;
      if (state.mode === "select") {
        state.selected = -1;
        for (let i = state.shapes.length - 1; i >= 0; i--) if (hit(state.shapes[i], p)) { state.selected = i; break; }
        if (state.selected >= 0) state.drag = { kind: "move", last: p };
        setMode("select");
      } else if (state.mode === "box" || state.mode === "ellipse") {
        state.drag = { kind: "draw", start: [x, y] };
      } else if (state.mode === "point") {
        state.shapes.push({ uuid: Quorum.uuid(), type: "point", label: label, x: x, y: y });
        refresh();
      } else {  // polygon or line: click adds a vertex; double-click, Enter or a click on the first vertex ends it
        if (!state.draft) state.draft = { uuid: Quorum.uuid(), type: state.mode, label: label, vertices: [], open: true };
        const first = state.draft.vertices[0];
        if (state.mode === "polygon" && first && state.draft.vertices.length >= 3 && Math.hypot(first.x - x, first.y - y) <= 8 / view.scale) { finishDraft(); return; }
        const max = geometries[state.mode].max_vertices;
        state.draft.vertices.push({ x: x, y: y });
        if (max && state.draft.vertices.length >= max) finishDraft(); else draw();
      }
    });
    canvas.addEventListener("dblclick", function () { if (state.draft) { state.draft.vertices.pop(); finishDraft(); } });
    window.addEventListener("mousemove", function (event) {
      if (!state.drag || view.isPanning()) return;
      const p = view.mouse(event);
      if (state.drag.kind === "move") {
        translate(state.shapes[state.selected], p[0] - state.drag.last[0], p[1] - state.drag.last[1]);
        state.drag.last = p;
        draw();
      } else {
        const [sx, sy] = state.drag.start, x = clampX(p[0]), y = clampY(p[1]);
        const box = { left: Math.min(sx, x), top: Math.min(sy, y), width: Math.abs(x - sx), height: Math.abs(y - sy) };
        state.draft = state.mode === "box"
          ? { uuid: Quorum.uuid(), type: "box", label: picker.current, ...box }
          : { uuid: Quorum.uuid(), type: "ellipse", label: picker.current, x: box.left + box.width / 2, y: box.top + box.height / 2, rx: box.width / 2, ry: box.height / 2 };
        draw();
      }
    });
    window.addEventListener("mouseup", function () {
      const drag = state.drag;
      state.drag = null;
      if (!drag) return;
      if (drag.kind === "move") { refresh(); return; }
      const d = state.draft;
      state.draft = null;
      const big = d && (d.type === "box" ? d.width >= 1 && d.height >= 1 : d.rx >= 0.5 && d.ry >= 0.5);
      if (big) { state.shapes.push(d); status.textContent = d.type + " " + d.label + " added."; }
      refresh();
    });

    // --- keys -----------------------------------------------------------------------------------
    function onKey(event) {
      if (Quorum.isTyping(event.target)) return false;
      const key = event.key;
      if (state.draft && key === "Enter") { finishDraft(); return true; }
      if (key === "Escape") { state.draft = null; state.selected = -1; setMode(state.mode); return true; }
      if ((key === "Delete" || key === "Backspace") && state.selected >= 0) { removeSelected(); return true; }
      if (KEYS[key.toLowerCase()] && !event.ctrlKey && (KEYS[key.toLowerCase()] === "select" || kinds.includes(KEYS[key.toLowerCase()]))) { setMode(KEYS[key.toLowerCase()]); return true; }
      if (picker.onKey(event)) return true;
      return view.onKey(event);
    }

    function getAnswer() {
      if (state.draft) throw new Error("Finish the " + state.draft.type + " you are drawing first (Enter or double-click), or press Escape.");
      const integer = (k) => Boolean(geometries[k] && geometries[k].integer_pixels);
      return {
        annotations: state.shapes.map(function (s) {
          const out = { uuid: s.uuid, type: s.type, label: s.label };
          const r = (v) => round(v, s.type === "box" && integer("box"));
          if (s.type === "box") {
            out.left = r(clampX(s.left)); out.top = r(clampY(s.top));
            out.width = r(Math.min(s.width, width - out.left)); out.height = r(Math.min(s.height, height - out.top));
          } else if (s.type === "point") { out.x = r(s.x); out.y = r(s.y); }
          else if (s.type === "ellipse") { out.x = r(s.x); out.y = r(s.y); out.rx = r(s.rx); out.ry = r(s.ry); }
          else out.vertices = s.vertices.map((v) => ({ x: r(v.x), y: r(v.y) }));
          return out;
        }),
      };
    }

    window.addEventListener("resize", function () { resize(); view.fit.apply(null, view.fitBox); });
    setMode(kinds[0] || "select");
    return { getAnswer: getAnswer, onKey: onKey, view: view };
  };
})();
