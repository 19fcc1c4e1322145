/* namedentityrecognition: select a span of the text with the mouse (or keyboard), then pick its
 * label (a button or the number keys). Answer {"annotations": [{start, end, label}]} with offsets
 * in Unicode code points, end exclusive (annotation/tasktypes/namedentityrecognition.py): the
 * browser counts UTF-16 units, so offsets are converted. */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;

  Quorum.tools.namedentityrecognition = function mount(root, params, ctx) {
    const text = params.text || "";
    const labels = params.labels || [];
    const spans = [];  // {start, end, label} in UTF-16 units while editing
    const labelBar = el("div", { class: "qw-labels", role: "group", "aria-label": "Label the selected text (keys 1–9)" });
    const textEl = el("div", { class: "qw-text qw-ner-text", tabindex: "0", "data-testid": "ner-text",
      "aria-label": "The text. Select a span, then pick a label." });
    const status = el("p", { class: "qw-status", "aria-live": "polite" });
    const list = el("ol", { class: "qw-shapes", "aria-label": "Labeled spans" });
    root.replaceChildren(labelBar, textEl, status, el("h3", { text: "Labeled spans" }), list);
    const colour = (label) => Quorum.PALETTE[Math.max(0, labels.indexOf(label)) % Quorum.PALETTE.length];
    let lastSelection = null;

    labels.forEach(function (label, i) {
      labelBar.append(el("button", { type: "button", class: "qw-label", "data-label": label,
        onmousedown: function (event) { event.preventDefault(); },  // keep the text selection
        onclick: function () { apply(label); } }, [el("span", { class: "qw-swatch", style: "background:" + colour(label) }), (i < 9 ? (i + 1) + " " : "") + label]));
    });

    function offsetIn(node, offset) {
      const range = document.createRange();
      range.setStart(textEl, 0);
      range.setEnd(node, offset);
      return range.toString().length;
    }
    function currentSelection() {
      const sel = window.getSelection();
      if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
      const range = sel.getRangeAt(0);
      if (!textEl.contains(range.startContainer) || !textEl.contains(range.endContainer)) return null;
      let start = offsetIn(range.startContainer, range.startOffset), end = offsetIn(range.endContainer, range.endOffset);
      while (start < end && /\s/.test(text[start])) start++;  // trim surrounding spaces
      while (end > start && /\s/.test(text[end - 1])) end--;
      return end > start ? { start: start, end: end } : null;
    }
    document.addEventListener("selectionchange", function () { const s = currentSelection(); if (s) lastSelection = s; });

    function apply(label) {
      const s = currentSelection() || lastSelection;
      if (!s) { status.textContent = "Select some text first, then pick a label."; return; }
      if (spans.some((x) => x.start === s.start && x.end === s.end && x.label === label)) { status.textContent = "That span already has this label."; return; }
      if (!params.allow_overlap && spans.some((x) => x.start < s.end && s.start < x.end)) {
        status.textContent = "That span overlaps a labeled one; remove it first (this task does not allow overlaps).";
        return;
      }
      spans.push({ start: s.start, end: s.end, label: label });
      spans.sort((a, b) => a.start - b.start || a.end - b.end);
      lastSelection = null;
      window.getSelection().removeAllRanges();
      status.textContent = "“" + text.slice(s.start, s.end) + "” labeled " + label + ".";
      render();
    }
    function render() {
      // Cut the text at every span boundary; each piece is marked by the spans covering it.
      const cuts = [...new Set([0, text.length, ...spans.flatMap((s) => [s.start, s.end])])].sort((a, b) => a - b);
      textEl.replaceChildren();
      for (let i = 0; i + 1 < cuts.length; i++) {
        const a = cuts[i], b = cuts[i + 1], piece = text.slice(a, b);
        const covering = spans.filter((s) => s.start <= a && b <= s.end);
        if (!covering.length) { textEl.append(piece); continue; }
        textEl.append(el("mark", { style: "background:" + colour(covering[0].label) + "40; border-bottom: 2px solid " + colour(covering[0].label),
          title: covering.map((s) => s.label).join(", "), text: piece }));
      }
      list.replaceChildren(...spans.map(function (s, i) {
        return el("li", {}, [el("span", { text: "“" + text.slice(s.start, s.end) + "” · " + s.label + " " }),
          el("button", { type: "button", class: "qw-small", text: "Remove", "aria-label": "Remove " + s.label + " " + text.slice(s.start, s.end),
            onclick: function () { spans.splice(i, 1); render(); } })]);
      }));
      root.dataset.spans = String(spans.length);
    }
    const codePoints = (i) => Array.from(text.slice(0, i)).length;
    /** Offsets in code points (the answer's) to UTF-16 units (the browser's). */
    const units = (() => {
      const out = [0];
      for (const ch of text) out.push(out[out.length - 1] + ch.length);
      return (cp) => out[Math.max(0, Math.min(cp, out.length - 1))];
    })();
    function load(answer, message) {
      spans.splice(0, spans.length);
      for (const a of (answer && answer.annotations) || []) {
        if (labels.includes(a.label) && a.end > a.start) spans.push({ start: units(a.start), end: units(a.end), label: a.label });
      }
      spans.sort((a, b) => a.start - b.start || a.end - b.end);
      if (message) status.textContent = message;
      render();
    }
    if (ctx && ctx.initial) {
      load(ctx.initial, ctx.initialSource === "hypothesis" && (ctx.initial.annotations || []).length
        ? "Starting from the client's model pre-labels: correct, remove or add spans." : "");
    } else render();
    return {
      load: load,
      getAnswer: function () {
        return { annotations: spans.map((s) => ({ start: codePoints(s.start), end: codePoints(s.end), label: s.label })) };
      },
      onKey: function (event) {
        if (Quorum.isTyping(event.target) || !/^[1-9]$/.test(event.key)) return false;
        const label = labels[Number(event.key) - 1];
        if (label === undefined) return false;
        apply(label);
        return true;
      },
    };
  };
})();
