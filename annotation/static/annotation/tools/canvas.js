/* Shared canvas helpers for the geometry tools: a view (zoom and pan) from world coordinates to
 * canvas pixels, mouse position in world coordinates, and the pan/zoom controls
 * (wheel or +/- to zoom, space-drag, middle-drag or arrow keys to pan, F to fit). */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  Quorum.tools = Quorum.tools || {};

  Quorum.PALETTE = ["#d7263d", "#1b6ca8", "#2a9d3f", "#b5179e", "#e07a00", "#0f7c7c", "#6a4c93", "#8a5a00", "#c1121f", "#3a506b"];

  Quorum.el = function (tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children || []) node.append(child);
    return node;
  };

  /** A view mapping world (x, y) to canvas pixels: px = x * scale * sx + ox, py = y * scale * sy + oy.
   * flipY makes world y point up (the bird's-eye view); images keep y down. */
  Quorum.CanvasView = function (canvas, options) {
    const view = { scale: 1, ox: 0, oy: 0, sy: options && options.flipY ? -1 : 1, canvas: canvas, onChange: function () {} };
    let spaceHeld = false;
    let panning = null;

    view.toScreen = function (x, y) { return [x * view.scale + view.ox, y * view.scale * view.sy + view.oy]; };
    view.toWorld = function (px, py) { return [(px - view.ox) / view.scale, (py - view.oy) / (view.scale * view.sy)]; };
    view.mouse = function (event) {
      const rect = canvas.getBoundingClientRect();
      const px = (event.clientX - rect.left) * (canvas.width / rect.width);
      const py = (event.clientY - rect.top) * (canvas.height / rect.height);
      return view.toWorld(px, py);
    };
    view.apply = function (ctx) { ctx.setTransform(view.scale, 0, 0, view.scale * view.sy, view.ox, view.oy); };
    view.zoomAt = function (factor, px, py) {
      const next = Math.min(64, Math.max(0.02, view.scale * factor));
      const [wx, wy] = view.toWorld(px, py);
      view.scale = next;
      view.ox = px - wx * view.scale;
      view.oy = py - wy * view.scale * view.sy;
      view.onChange();
    };
    /** Fit the world box [x0, y0]–[x1, y1] in the canvas with a small margin. */
    view.fit = function (x0, y0, x1, y1) {
      const margin = 10;
      view.scale = Math.min((canvas.width - 2 * margin) / (x1 - x0), (canvas.height - 2 * margin) / (y1 - y0));
      const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      view.ox = canvas.width / 2 - cx * view.scale;
      view.oy = canvas.height / 2 - cy * view.scale * view.sy;
      view.fitBox = [x0, y0, x1, y1];
      view.onChange();
    };
    view.isPanning = function () { return panning !== null; };

    canvas.addEventListener("wheel", function (event) {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const px = (event.clientX - rect.left) * (canvas.width / rect.width);
      const py = (event.clientY - rect.top) * (canvas.height / rect.height);
      view.zoomAt(Math.pow(1.0015, -event.deltaY), px, py);
    }, { passive: false });
    // Pan: space + drag, or the middle button. Runs in the capture phase so tools see no drag.
    canvas.addEventListener("mousedown", function (event) {
      if (event.button === 1 || (event.button === 0 && spaceHeld)) {
        panning = { x: event.clientX, y: event.clientY };
        event.stopImmediatePropagation();
        event.preventDefault();
      }
    }, true);
    window.addEventListener("mousemove", function (event) {
      if (!panning) return;
      const rect = canvas.getBoundingClientRect();
      view.ox += (event.clientX - panning.x) * (canvas.width / rect.width);
      view.oy += (event.clientY - panning.y) * (canvas.height / rect.height);
      panning = { x: event.clientX, y: event.clientY };
      view.onChange();
    });
    window.addEventListener("mouseup", function () { panning = null; });
    window.addEventListener("keyup", function (event) { if (event.key === " ") spaceHeld = false; });

    /** The view's keys; returns true when the key was one of them. */
    view.onKey = function (event) {
      if (Quorum.isTyping && Quorum.isTyping(event.target)) return false;
      const step = 40;
      switch (event.key) {
        case " ": spaceHeld = true; return true;
        case "+": case "=": view.zoomAt(1.25, canvas.width / 2, canvas.height / 2); return true;
        case "-": case "_": view.zoomAt(0.8, canvas.width / 2, canvas.height / 2); return true;
        case "ArrowLeft": view.ox += step; view.onChange(); return true;
        case "ArrowRight": view.ox -= step; view.onChange(); return true;
        case "ArrowUp": view.oy += step; view.onChange(); return true;
        case "ArrowDown": view.oy -= step; view.onChange(); return true;
        case "f": case "F": if (view.fitBox) view.fit.apply(null, view.fitBox); return true;
        default: return false;
      }
    };
    return view;
  };

  /** Distance from point p to the segment a–b. */
  Quorum.segmentDistance = function (p, a, b) {
    const dx = b[0] - a[0], dy = b[1] - a[1];
    const len2 = dx * dx + dy * dy;
    const t = len2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
    return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
  };
  Quorum.pointInPolygon = function (p, vertices) {
    let inside = false;
    for (let i = 0, j = vertices.length - 1; i < vertices.length; j = i++) {
      const a = vertices[i], b = vertices[j];
      if ((a.y > p[1]) !== (b.y > p[1]) && p[0] < ((b.x - a.x) * (p[1] - a.y)) / (b.y - a.y) + a.x) inside = !inside;
    }
    return inside;
  };
  Quorum.uuid = function () {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "s-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  };

  /** The label picker: a radio group of buttons, number keys 1–9 pick. */
  Quorum.LabelPicker = function (container, onPick) {
    const picker = { labels: [], current: null };
    picker.set = function (labels, current) {
      picker.labels = labels;
      picker.current = labels.includes(current) ? current : labels[0];
      container.replaceChildren();
      labels.forEach(function (label, i) {
        const button = Quorum.el("button", {
          type: "button", class: "qw-label", role: "radio", "aria-checked": String(label === picker.current),
          "data-label": label, onclick: function () { picker.pick(label); },
        }, [Quorum.el("span", { class: "qw-swatch", style: "background:" + Quorum.PALETTE[i % Quorum.PALETTE.length] }),
          (i < 9 ? (i + 1) + " " : "") + label]);
        container.append(button);
      });
    };
    picker.pick = function (label) {
      picker.current = label;
      for (const b of container.querySelectorAll("button")) b.setAttribute("aria-checked", String(b.dataset.label === label));
      onPick(label);
    };
    picker.onKey = function (event) {
      if (!/^[1-9]$/.test(event.key)) return false;
      const label = picker.labels[Number(event.key) - 1];
      if (label === undefined) return false;
      picker.pick(label);
      return true;
    };
    picker.color = function (label) {
      const i = picker.labels.indexOf(label);
      return Quorum.PALETTE[(i < 0 ? 0 : i) % Quorum.PALETTE.length];
    };
    return picker;
  };
})();
