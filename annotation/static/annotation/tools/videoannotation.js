/* videoannotation (frames given as image URLs): a frame-stepping box tool. Each object is a track;
 * drawing a box on a frame sets the selected track's box there (a new track when none is
 * selected). Answer (annotation/tasktypes/videoannotation.py):
 * {"annotations": [{track_id, label, frames: [{frame, left, top, width, height}]}]}.
 * A video file with frame_count (no frame images) is not labeled in the browser: the page says so. */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;

  Quorum.tools.videoannotation = function mount(root, params, ctx) {
    const urls = params.frames || [];
    const labels = params.labels || [];
    const state = { frame: 0, tracks: [], selected: -1, drag: null, draft: null, images: {} };
    let width = params.attachment_width || 0, height = params.attachment_height || 0;
    let counter = 0;

    const frameBar = el("div", { class: "qw-toolbar", role: "toolbar", "aria-label": "Frames and tracks" });
    const labelBar = el("div", { class: "qw-labels", role: "radiogroup", "aria-label": "Label for new tracks (keys 1–9)" });
    const canvas = el("canvas", { class: "qw-canvas", tabindex: "0", "data-testid": "video-canvas",
      "aria-label": "The current frame. Drag to draw the selected track's box on this frame." });
    const stage = el("div", { class: "qw-stage" }, [canvas]);
    const status = el("p", { class: "qw-status", "aria-live": "polite" });
    const list = el("ol", { class: "qw-shapes", "aria-label": "Tracks" });
    root.replaceChildren(frameBar, labelBar, stage, status, el("h3", { text: "Tracks" }), list);
    const picker = Quorum.LabelPicker(labelBar, function (label) {
      const t = state.tracks[state.selected];
      if (t) { t.label = label; refresh(); }
    });
    picker.set(labels);
    const frameLabel = el("span", { class: "qw-frame-label" });
    frameBar.append(
      el("button", { type: "button", text: "◀ Previous frame ([)", onclick: function () { go(state.frame - 1); } }),
      frameLabel,
      el("button", { type: "button", text: "Next frame (]) ▶", onclick: function () { go(state.frame + 1); } }),
      el("button", { type: "button", text: "New track (N)", onclick: function () { state.selected = -1; status.textContent = "Draw a box to start a new track."; refresh(); } }),
      el("button", { type: "button", text: "Copy box from previous frame (C)", onclick: copyForward }),
      el("button", { type: "button", text: "Delete box on this frame (Del)", onclick: removeBox }),
    );

    function resize() {
      const w = Math.max(320, Math.round(stage.clientWidth || 800));
      canvas.width = w;
      canvas.height = Math.round(Math.min(w * 0.7, Math.max(320, window.innerHeight * 0.6)));
    }
    resize();
    const view = Quorum.CanvasView(canvas);
    view.onChange = draw;
    view.fit(0, 0, width || 1000, height || 750);

    function image(index) {
      if (!state.images[index]) {
        const img = new Image();
        img.onload = function () {
          if (!width) { width = img.naturalWidth; height = img.naturalHeight; view.fit(0, 0, width, height); }
          if (index === state.frame) { root.dataset.frameLoaded = String(index); draw(); }
        };
        img.onerror = function () { if (index === state.frame) status.textContent = "Frame " + (index + 1) + " could not be loaded."; };
        img.src = urls[index];
        state.images[index] = img;
      }
      return state.images[index];
    }
    function go(index) {
      if (index < 0 || index >= urls.length) return;
      state.frame = index;
      frameLabel.textContent = "Frame " + (index + 1) + " of " + urls.length;
      image(index);
      if (index + 1 < urls.length) image(index + 1);  // preload the next one
      refresh();
    }
    const boxOn = (t, f) => t.frames.find((b) => b.frame === f);
    function setBox(t, box) {
      t.frames = t.frames.filter((b) => b.frame !== box.frame);
      t.frames.push(box);
      t.frames.sort((a, b) => a.frame - b.frame);
    }
    function copyForward() {
      const t = state.tracks[state.selected];
      if (!t) { status.textContent = "Select a track first."; return; }
      const earlier = t.frames.filter((b) => b.frame < state.frame).pop();
      if (!earlier) { status.textContent = "This track has no box on an earlier frame."; return; }
      setBox(t, { ...earlier, frame: state.frame });
      refresh();
    }
    function removeBox() {
      const t = state.tracks[state.selected];
      if (!t) return;
      t.frames = t.frames.filter((b) => b.frame !== state.frame);
      if (!t.frames.length) { state.tracks.splice(state.selected, 1); state.selected = -1; }
      refresh();
    }
    function draw() {
      const g = canvas.getContext("2d");
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.fillStyle = "#20232a";
      g.fillRect(0, 0, canvas.width, canvas.height);
      view.apply(g);
      const img = state.images[state.frame];
      if (img && img.complete && img.naturalWidth) g.drawImage(img, 0, 0, width, height);
      const boxes = state.tracks.map((t, i) => [t, boxOn(t, state.frame), i]).filter(([, b]) => b);
      if (state.draft) boxes.push([{ label: picker.current }, state.draft, -2]);
      for (const [t, b, i] of boxes) {
        g.lineWidth = (i === state.selected ? 3 : 2) / view.scale;
        g.strokeStyle = picker.color(t.label);
        g.fillStyle = picker.color(t.label) + (i === state.selected ? "55" : "22");
        g.fillRect(b.left, b.top, b.width, b.height);
        g.strokeRect(b.left, b.top, b.width, b.height);
      }
    }
    function refresh() {
      list.replaceChildren(...state.tracks.map(function (t, i) {
        const here = boxOn(t, state.frame) ? "box on this frame" : "no box on this frame";
        return el("li", { class: i === state.selected ? "qw-selected" : "" }, [
          el("button", { type: "button", class: "qw-link", "aria-pressed": String(i === state.selected),
            text: t.track_id + " · " + t.label + " · " + t.frames.length + " frame(s) · " + here,
            onclick: function () { state.selected = i; refresh(); } }),
        ]);
      }));
      root.dataset.tracks = String(state.tracks.length);
      draw();
    }
    const clampX = (x) => Math.max(0, Math.min(width || 1e9, x));
    const clampY = (y) => Math.max(0, Math.min(height || 1e9, y));

    canvas.addEventListener("mousedown", function (event) {
      if (event.button !== 0) return;
      canvas.focus();
      const p = view.mouse(event);
      const hitIndex = state.tracks.findIndex(function (t) {
        const b = boxOn(t, state.frame);
        return b && p[0] >= b.left && p[0] <= b.left + b.width && p[1] >= b.top && p[1] <= b.top + b.height;
      });
      if (hitIndex >= 0 && hitIndex !== state.selected) { state.selected = hitIndex; refresh(); return; }
      state.drag = { start: [clampX(p[0]), clampY(p[1])] };
    });
    window.addEventListener("mousemove", function (event) {
      if (!state.drag || view.isPanning()) return;
      const p = view.mouse(event), [sx, sy] = state.drag.start, x = clampX(p[0]), y = clampY(p[1]);
      state.draft = { frame: state.frame, left: Math.min(sx, x), top: Math.min(sy, y), width: Math.abs(x - sx), height: Math.abs(y - sy) };
      draw();
    });
    window.addEventListener("mouseup", function () {
      const d = state.draft;
      state.drag = null;
      state.draft = null;
      if (!d || d.width < 1 || d.height < 1) { draw(); return; }
      let t = state.tracks[state.selected];
      if (!t) {
        counter += 1;
        t = { track_id: "track-" + counter, label: picker.current, frames: [] };
        state.tracks.push(t);
        state.selected = state.tracks.length - 1;
      }
      setBox(t, d);
      status.textContent = t.track_id + ": box on frame " + (state.frame + 1) + ".";
      refresh();
    });

    function onKey(event) {
      if (Quorum.isTyping(event.target)) return false;
      if (event.key === "[") { go(state.frame - 1); return true; }
      if (event.key === "]") { go(state.frame + 1); return true; }
      if (event.key === "n" || event.key === "N") { state.selected = -1; refresh(); return true; }
      if (event.key === "c" || event.key === "C") { copyForward(); return true; }
      if (event.key === "Delete" || event.key === "Backspace") { removeBox(); return true; }
      if (event.key === "Escape") { state.selected = -1; refresh(); return true; }
      if (picker.onKey(event)) return true;
      return view.onKey(event);
    }
    function getAnswer() {
      const r = (v) => Math.round(v * 100) / 100;
      return {
        annotations: state.tracks.filter((t) => t.frames.length).map((t) => ({
          track_id: t.track_id, label: t.label,
          frames: t.frames.map((b) => ({ frame: b.frame, left: r(b.left), top: r(b.top), width: r(b.width), height: r(b.height) })),
        })),
      };
    }
    window.addEventListener("resize", function () { resize(); view.fit.apply(null, view.fitBox); });
    go(0);
    return { getAnswer: getAnswer, onKey: onKey, view: view };
  };
})();
