/* videoannotation: box tracks over the frames of a video, given as frame images (params.frames) or as
 * one video file (params.attachment + frame_count), decoded here with the <video> element: frame i is
 * shown by seeking to the middle of its time slot and drawing the video once the frame is presented
 * (requestVideoFrameCallback, or the seeked event where it is missing). No server transcoding.
 *
 * Each object is a track. The boxes you draw (or move, or resize) are keyframes; the frames between
 * two keyframes get a box by linear interpolation, drawn dashed and marked "interpolated": true in
 * the answer (annotation/tasktypes/videoannotation.py):
 * {"annotations": [{track_id, label, frames: [{frame, left, top, width, height, interpolated?}]}]}.
 * H ends the object's visibility at this frame (no boxes until its next keyframe).
 *
 * Keyboard: [ and ] step frames (Shift: 10), N starts a new track, 1–9 label it, the arrow keys nudge
 * the selected track's box on this frame (making it a keyframe; Shift 10 px) or, where it has none,
 * move a crosshair that Space anchors twice to draw one; C copies the previous keyframe here. */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;
  const BOX = ["left", "top", "width", "height"];

  /** The boxes of a track on every frame: keyframes as they are, frames between two visible
   * keyframes interpolated linearly, nothing after a hidden keyframe until the next keyframe. */
  Quorum.interpolateTrack = function (keys) {
    const sorted = keys.slice().sort((a, b) => a.frame - b.frame);
    const out = [];
    sorted.forEach(function (k, i) {
      if (k.hidden) return;
      out.push({ frame: k.frame, left: k.left, top: k.top, width: k.width, height: k.height, key: true });
      const next = sorted[i + 1];
      if (!next || next.hidden) return;
      for (let f = k.frame + 1; f < next.frame; f++) {
        const t = (f - k.frame) / (next.frame - k.frame);
        const box = { frame: f, key: false };
        for (const p of BOX) box[p] = k[p] + (next[p] - k[p]) * t;
        out.push(box);
      }
    });
    return out;
  };

  Quorum.tools.videoannotation = function mount(root, params, ctx) {
    ctx = ctx || {};
    const readOnly = Boolean(ctx.readOnly);
    const urls = params.frames || [];
    const isFile = !urls.length && Boolean(params.attachment);
    const count = urls.length || params.frame_count || 1;
    const labels = params.labels || [];
    const state = { frame: 0, tracks: [], selected: -1, drag: null, draft: null, images: {}, cursor: null, corner: null };
    let width = params.attachment_width || 0, height = params.attachment_height || 0;
    let counter = 0;
    let video = null, fps = 0, seekToken = 0;

    const frameBar = el("div", { class: "qw-toolbar", role: "toolbar", "aria-label": "Frames and tracks" });
    const labelBar = el("div", { class: "qw-labels", role: "radiogroup", "aria-label": "Label for new tracks (keys 1–9)" });
    const canvas = el("canvas", { class: "qw-canvas", tabindex: readOnly ? "-1" : "0", "data-testid": readOnly ? "readonly-video" : "video-canvas",
      role: "img", "aria-roledescription": "drawing canvas",
      "aria-label": "The current frame. Drag to draw the selected track's box here; with the keyboard, arrow keys and Space." });
    const stage = el("div", { class: "qw-stage" }, [canvas]);
    const slider = el("input", { type: "range", min: "0", max: String(count - 1), value: "0", step: "1", class: "qw-frame-slider",
      "aria-label": "Frame", oninput: function () { go(Number(slider.value)); } });
    const status = el("p", { class: "qw-status", "aria-live": "polite" });
    const list = el("ol", { class: "qw-shapes", "aria-label": "Tracks" });
    root.replaceChildren(frameBar, labelBar, stage, slider, status, el("h3", { text: "Tracks" }), list);
    if (readOnly) { frameBar.hidden = true; labelBar.hidden = true; }
    const picker = Quorum.LabelPicker(labelBar, function (label) {
      const t = state.tracks[state.selected];
      if (t) { t.label = label; refresh(); }
    });
    picker.set(labels);
    const frameLabel = el("span", { class: "qw-frame-label", "aria-live": "polite" });
    frameBar.append(
      el("button", { type: "button", text: "◀ Previous frame ([)", onclick: function () { go(state.frame - 1); } }),
      frameLabel,
      el("button", { type: "button", text: "Next frame (]) ▶", onclick: function () { go(state.frame + 1); } }),
      el("button", { type: "button", text: "New track (N)", onclick: newTrack }),
      el("button", { type: "button", text: "Copy previous keyframe here (C)", onclick: copyForward }),
      el("button", { type: "button", text: "Hide object from here (H)", onclick: hideHere }),
      el("button", { type: "button", text: "Delete keyframe (Del)", onclick: removeKey }),
    );

    function resize() {
      const w = Math.max(readOnly ? 240 : 320, Math.round(stage.clientWidth || 800));
      canvas.width = w;
      canvas.height = Math.round(Math.min(w * 0.7, Math.max(readOnly ? 200 : 320, window.innerHeight * (readOnly ? 0.4 : 0.6))));
    }
    resize();
    const view = Quorum.CanvasView(canvas);
    view.onChange = draw;
    view.fit(0, 0, width || 1000, height || 750);

    // --- frames: images, or one video file decoded here -----------------------------------------
    function sized(w, h) {
      if (!width) { width = w; height = h; view.fit(0, 0, width, height); }
    }
    if (isFile) {
      video = el("video", { class: "qw-video-source", muted: true, playsinline: true, preload: "auto", "aria-hidden": "true" });
      video.muted = true;
      stage.append(video);
      video.addEventListener("loadedmetadata", function () {
        fps = count / video.duration;
        sized(video.videoWidth, video.videoHeight);
        root.dataset.videoDuration = String(video.duration);
        show(state.frame);
      });
      video.addEventListener("error", function () { status.textContent = "The video could not be loaded or decoded by this browser."; });
      video.src = params.attachment;
    }
    /** Show frame ``index`` of the video file: seek to the middle of its time slot; once the seek is
     * done (``seeked``: the element holds the new frame) draw it, and draw again when the frame is
     * presented (``requestVideoFrameCallback`` with its media time in that slot). */
    function show(index) {
      if (!isFile || !fps) return;  // shown once the metadata is in
      const token = ++seekToken;
      const target = Math.min((index + 0.5) / fps, Math.max(0, video.duration - 0.001));
      function inSlot(time) { return Math.floor(time * fps + 1e-6) === index; }
      function ready() {
        if (token !== seekToken) return;
        draw();
        root.dataset.frameLoaded = String(index);
      }
      if (video.requestVideoFrameCallback) {
        const watch = function (now, metadata) {
          if (token !== seekToken) return;
          if (inSlot(metadata.mediaTime)) draw(); else video.requestVideoFrameCallback(watch);
        };
        video.requestVideoFrameCallback(watch);
      }
      if (!video.seeking && Math.abs(video.currentTime - target) < 1e-6) { ready(); return; }
      video.addEventListener("seeked", function onSeeked() {
        if (token !== seekToken) { video.removeEventListener("seeked", onSeeked); return; }
        // A seek still finishing from an earlier key press fires "seeked" too: the element then
        // holds that earlier frame (and is already seeking again), so wait for the seek into this
        // frame's slot.
        if (video.seeking || !inSlot(video.currentTime)) return;
        video.removeEventListener("seeked", onSeeked);
        ready();
      });
      video.currentTime = target;
    }
    function image(index) {
      if (!state.images[index]) {
        const img = new Image();
        img.onload = function () {
          sized(img.naturalWidth, img.naturalHeight);
          if (index === state.frame) { root.dataset.frameLoaded = String(index); draw(); }
        };
        img.onerror = function () { if (index === state.frame) status.textContent = "Frame " + (index + 1) + " could not be loaded."; };
        img.src = urls[index];
        state.images[index] = img;
      }
      return state.images[index];
    }
    function go(index) {
      if (index < 0 || index >= count) return;
      state.frame = index;
      state.corner = null;
      slider.value = String(index);
      frameLabel.textContent = "Frame " + (index + 1) + " of " + count;
      if (isFile) show(index);
      else { image(index); if (index + 1 < urls.length) image(index + 1); }
      refresh();
    }

    // --- tracks ---------------------------------------------------------------------------------
    const boxes = (t) => Quorum.interpolateTrack(t.keys);
    const boxOn = (t, f) => boxes(t).find((b) => b.frame === f);
    const keyOn = (t, f) => t.keys.find((k) => k.frame === f);
    function setKey(t, box) {
      t.keys = t.keys.filter((k) => k.frame !== box.frame);
      t.keys.push(box);
      t.keys.sort((a, b) => a.frame - b.frame);
    }
    function newTrack() { state.selected = -1; status.textContent = "Draw a box to start a new track (or press Space twice at the crosshair)."; refresh(); }
    function copyForward() {
      const t = state.tracks[state.selected];
      if (!t) { status.textContent = "Select a track first."; return; }
      const earlier = t.keys.filter((k) => k.frame < state.frame && !k.hidden).pop();
      if (!earlier) { status.textContent = "This track has no keyframe before this frame."; return; }
      setKey(t, { ...earlier, frame: state.frame });
      status.textContent = t.track_id + ": keyframe copied to frame " + (state.frame + 1) + ".";
      refresh();
    }
    function hideHere() {
      const t = state.tracks[state.selected];
      if (!t) { status.textContent = "Select a track first."; return; }
      setKey(t, { frame: state.frame, hidden: true, left: 0, top: 0, width: 0, height: 0 });
      status.textContent = t.track_id + " is hidden from frame " + (state.frame + 1) + " until its next keyframe.";
      refresh();
    }
    function removeKey() {
      const t = state.tracks[state.selected];
      if (!t) return;
      if (!keyOn(t, state.frame)) { status.textContent = "Frame " + (state.frame + 1) + " is not a keyframe of " + t.track_id + "."; return; }
      t.keys = t.keys.filter((k) => k.frame !== state.frame);
      if (!t.keys.some((k) => !k.hidden)) { state.tracks.splice(state.selected, 1); state.selected = -1; }
      refresh();
    }
    function commitBox(box) {
      let t = state.tracks[state.selected];
      if (!t) {
        counter += 1;
        while (state.tracks.some((x) => x.track_id === "track-" + counter)) counter += 1;
        t = { track_id: "track-" + counter, label: picker.current, keys: [] };
        state.tracks.push(t);
        state.selected = state.tracks.length - 1;
      }
      setKey(t, box);
      status.textContent = t.track_id + ": keyframe on frame " + (state.frame + 1) + ".";
      refresh();
    }

    function draw() {
      const g = canvas.getContext("2d");
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.fillStyle = "#20232a";
      g.fillRect(0, 0, canvas.width, canvas.height);
      view.apply(g);
      if (isFile) { if (video && video.readyState >= 2) g.drawImage(video, 0, 0, width, height); }
      else {
        const img = state.images[state.frame];
        if (img && img.complete && img.naturalWidth) g.drawImage(img, 0, 0, width, height);
      }
      const shown = state.tracks.map((t, i) => [t, boxOn(t, state.frame), i]).filter(([, b]) => b);
      if (state.draft) shown.push([{ label: picker.current }, Object.assign({ key: true }, state.draft), -2]);
      for (const [t, b, i] of shown) {
        g.lineWidth = (i === state.selected ? 3 : 2) / view.scale;
        g.strokeStyle = picker.color(t.label);
        g.setLineDash(b.key ? [] : [6 / view.scale, 4 / view.scale]);
        g.fillStyle = picker.color(t.label) + (i === state.selected ? "55" : "22");
        g.fillRect(b.left, b.top, b.width, b.height);
        g.strokeRect(b.left, b.top, b.width, b.height);
        if (i === state.selected && !readOnly) {
          g.setLineDash([]);
          for (const [x, y] of corners(b)) { g.fillStyle = "#fff"; g.fillRect(x - 3.5 / view.scale, y - 3.5 / view.scale, 7 / view.scale, 7 / view.scale); }
        }
      }
      g.setLineDash([]);
      if (state.cursor && !readOnly && document.activeElement === canvas) {
        const [x, y] = state.cursor, arm = 12 / view.scale;
        g.lineWidth = 1.5 / view.scale; g.strokeStyle = "#ffd400";
        g.beginPath(); g.moveTo(x - arm, y); g.lineTo(x + arm, y); g.moveTo(x, y - arm); g.lineTo(x, y + arm); g.stroke();
      }
    }
    const corners = (b) => [[b.left, b.top], [b.left + b.width, b.top], [b.left + b.width, b.top + b.height], [b.left, b.top + b.height]];
    function refresh() {
      list.replaceChildren(...state.tracks.map(function (t, i) {
        const b = boxOn(t, state.frame);
        const here = !b ? "no box on this frame" : b.key ? "keyframe here" : "interpolated here";
        const keys = t.keys.filter((k) => !k.hidden).length;
        const text = t.track_id + " · " + t.label + " · " + keys + " keyframe(s), " + boxes(t).length + " frame(s) · " + here;
        if (readOnly) return el("li", { text: text });
        return el("li", { class: i === state.selected ? "qw-selected" : "" }, [
          el("button", { type: "button", class: "qw-link", "aria-pressed": String(i === state.selected), text: text,
            onclick: function () { state.selected = i; picker.set(labels, t.label); refresh(); } }),
        ]);
      }));
      root.dataset.tracks = String(state.tracks.length);
      draw();
    }
    const clampX = (x) => Math.max(0, Math.min(width || 1e9, x));
    const clampY = (y) => Math.max(0, Math.min(height || 1e9, y));

    // --- mouse: draw, move, resize by a corner ----------------------------------------------------
    if (!readOnly) canvas.addEventListener("mousedown", function (event) {
      if (event.button !== 0) return;
      canvas.focus();
      const p = view.mouse(event);
      const tol = 8 / view.scale;
      const sel = state.tracks[state.selected];
      const selBox = sel && boxOn(sel, state.frame);
      if (selBox) {
        const k = corners(selBox).findIndex(([x, y]) => Math.abs(x - p[0]) <= tol && Math.abs(y - p[1]) <= tol);
        if (k >= 0) {  // resize: the opposite corner stays
          const anchor = corners(selBox)[(k + 2) % 4];
          state.drag = { kind: "resize", anchor: anchor };
          return;
        }
        if (p[0] >= selBox.left && p[0] <= selBox.left + selBox.width && p[1] >= selBox.top && p[1] <= selBox.top + selBox.height) {
          state.drag = { kind: "move", last: p, box: { ...selBox } };
          return;
        }
      }
      const hitIndex = state.tracks.findIndex(function (t) {
        const b = boxOn(t, state.frame);
        return b && p[0] >= b.left && p[0] <= b.left + b.width && p[1] >= b.top && p[1] <= b.top + b.height;
      });
      if (hitIndex >= 0 && hitIndex !== state.selected) { state.selected = hitIndex; picker.set(labels, state.tracks[hitIndex].label); refresh(); return; }
      state.drag = { kind: "draw", start: [clampX(p[0]), clampY(p[1])] };
    });
    function rect(a, b) { return { frame: state.frame, left: Math.min(a[0], b[0]), top: Math.min(a[1], b[1]), width: Math.abs(b[0] - a[0]), height: Math.abs(b[1] - a[1]) }; }
    window.addEventListener("mousemove", function (event) {
      if (!state.drag || view.isPanning()) return;
      const p = view.mouse(event), q = [clampX(p[0]), clampY(p[1])];
      if (state.drag.kind === "draw" || state.drag.kind === "resize") state.draft = rect(state.drag.kind === "draw" ? state.drag.start : state.drag.anchor, q);
      else {
        const b = state.drag.box;
        const dx = Math.max(-b.left, Math.min((width || 1e9) - b.left - b.width, p[0] - state.drag.last[0]));
        const dy = Math.max(-b.top, Math.min((height || 1e9) - b.top - b.height, p[1] - state.drag.last[1]));
        state.draft = { frame: state.frame, left: b.left + dx, top: b.top + dy, width: b.width, height: b.height };
      }
      draw();
    });
    window.addEventListener("mouseup", function () {
      const d = state.draft, drag = state.drag;
      state.drag = null;
      state.draft = null;
      if (!drag || !d || d.width < 1 || d.height < 1) { draw(); return; }
      commitBox(d);
    });
    canvas.addEventListener("focus", draw);
    canvas.addEventListener("blur", draw);

    // --- keys -----------------------------------------------------------------------------------
    function onKey(event) {
      if (readOnly || Quorum.isTyping(event.target)) return false;
      const key = event.key, step = event.shiftKey ? 10 : 1;
      if (key === "[" || key === "{") { go(state.frame - (event.shiftKey ? 10 : 1)); return true; }
      if (key === "]" || key === "}") { go(Math.min(count - 1, state.frame + (event.shiftKey ? 10 : 1))); return true; }
      if (key === "n" || key === "N") { newTrack(); return true; }
      if (key === "c" || key === "C") { copyForward(); return true; }
      if (key === "h" || key === "H") { hideHere(); return true; }
      if (key === "Delete" || key === "Backspace") { removeKey(); return true; }
      if (key === "Escape") { state.selected = -1; state.corner = null; refresh(); return true; }
      const dir = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[key];
      const t = state.tracks[state.selected];
      const here = t && boxOn(t, state.frame);
      if (dir && here) {  // nudge the selected track's box here: it becomes a keyframe
        const dx = Math.max(-here.left, Math.min((width || 1e9) - here.left - here.width, dir[0] * step));
        const dy = Math.max(-here.top, Math.min((height || 1e9) - here.top - here.height, dir[1] * step));
        setKey(t, { frame: state.frame, left: here.left + dx, top: here.top + dy, width: here.width, height: here.height });
        status.textContent = t.track_id + " moved on frame " + (state.frame + 1) + " (keyframe).";
        refresh();
        return true;
      }
      if (dir && document.activeElement === canvas) {  // the crosshair
        if (!state.cursor) state.cursor = [(width || 1000) / 2, (height || 750) / 2];
        state.cursor = [clampX(state.cursor[0] + dir[0] * step), clampY(state.cursor[1] + dir[1] * step)];
        if (state.corner) state.draft = rect(state.corner, state.cursor);
        draw();
        return true;
      }
      if (key === " " && document.activeElement === canvas && !event.repeat) {
        if (!state.cursor) state.cursor = [(width || 1000) / 2, (height || 750) / 2];
        if (!state.corner) { state.corner = state.cursor.slice(); status.textContent = "First corner placed; move to the opposite corner and press Space."; draw(); return true; }
        const box = rect(state.corner, state.cursor);
        state.corner = null; state.draft = null;
        if (box.width < 1 || box.height < 1) { status.textContent = "Too small: move the crosshair further."; draw(); return true; }
        commitBox(box);
        return true;
      }
      if (picker.onKey(event)) return true;
      return view.onKey(event);
    }

    // --- answers in and out ---------------------------------------------------------------------
    function load(answer, message) {
      state.tracks = [];
      for (const a of (answer && answer.annotations) || []) {
        if (!a || !Array.isArray(a.frames)) continue;
        // Interpolated frames are recomputed from the keyframes; a gap between two kept frames
        // means the object was hidden there.
        const kept = a.frames.filter((f) => !f.interpolated).map((f) => ({ frame: f.frame, left: +f.left, top: +f.top, width: +f.width, height: +f.height }));
        const present = new Set(a.frames.map((f) => f.frame));
        const keys = [];
        kept.sort((x, y) => x.frame - y.frame).forEach(function (k, i) {
          keys.push(k);
          const next = kept[i + 1];
          if (next && next.frame > k.frame + 1 && !present.has(k.frame + 1)) keys.push({ frame: k.frame + 1, hidden: true, left: 0, top: 0, width: 0, height: 0 });
        });
        if (keys.length) state.tracks.push({ track_id: String(a.track_id), label: labels.includes(a.label) ? a.label : labels[0], keys: keys });
      }
      state.selected = -1;
      if (message) status.textContent = message;
      refresh();
    }
    function getAnswer() {
      if (state.corner) throw new Error("Place the box's second corner first (Space), or press Escape.");
      const r = (v) => Math.round(v * 100) / 100;
      return {
        annotations: state.tracks.map((t) => ({
          track_id: t.track_id, label: t.label,
          frames: boxes(t).filter((b) => r(b.width) > 0 && r(b.height) > 0).map(function (b) {
            const out = { frame: b.frame, left: r(b.left), top: r(b.top), width: r(b.width), height: r(b.height) };
            if (!b.key) out.interpolated = true;
            return out;
          }),
        })).filter((t) => t.frames.length),
      };
    }
    window.addEventListener("resize", function () { resize(); view.fit.apply(null, view.fitBox); });
    go(0);
    if (ctx.initial) load(ctx.initial, ctx.initialSource === "hypothesis" && (ctx.initial.annotations || []).length
      ? "Starting from the client's model pre-labels: correct the keyframes, delete or add tracks." : "");
    return { getAnswer: getAnswer, onKey: onKey, view: view, load: load };
  };
})();
