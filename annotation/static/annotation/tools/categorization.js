/* categorization: the attachment and one button per category (number keys pick). Answer
 * {"category": "red"}, or with allow_multiple {"category": ["red", …]}
 * (annotation/tasktypes/categorization.py). */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;

  Quorum.tools.categorization = function mount(root, params, ctx) {
    const categories = params.categories || [];
    const multiple = Boolean(params.allow_multiple);
    const picked = new Set();
    const type = params.attachment_type || "text";
    let attachment;
    if (type === "image") attachment = el("img", { src: params.attachment, alt: "The item to categorize", class: "qw-attachment-image" });
    else if (type === "text") attachment = el("div", { class: "qw-text", text: params.attachment });
    else attachment = el("p", {}, [type + ": ", el("a", { href: params.attachment, target: "_blank", rel: "noopener noreferrer", text: params.attachment })]);
    const group = el("div", { class: "qw-choices", role: multiple ? "group" : "radiogroup",
      "aria-label": multiple ? "Categories (pick one or more; keys 1–9)" : "Category (keys 1–9)" });
    root.replaceChildren(el("section", { class: "qw-attachments", "aria-label": "Item" }, [attachment]), group);
    categories.forEach(function (c, i) {
      group.append(el("button", { type: "button", class: "qw-choice-button", role: multiple ? "checkbox" : "radio", "aria-checked": "false",
        "data-category": c, onclick: function () { toggle(c); } }, [(i < 9 ? (i + 1) + " · " : "") + c]));
    });
    function toggle(c) {
      if (multiple) { if (picked.has(c)) picked.delete(c); else picked.add(c); } else { picked.clear(); picked.add(c); }
      for (const b of group.querySelectorAll("button")) b.setAttribute("aria-checked", String(picked.has(b.dataset.category)));
    }
    function load(answer) {
      picked.clear();
      const c = answer && answer.category;
      for (const x of Array.isArray(c) ? c : [c]) if (categories.includes(x)) picked.add(x);
      for (const b of group.querySelectorAll("button")) b.setAttribute("aria-checked", String(picked.has(b.dataset.category)));
    }
    if (ctx && ctx.initial) load(ctx.initial);
    return {
      load: load,
      getAnswer: function () {
        if (!picked.size) throw new Error("Pick a category first.");
        const chosen = categories.filter((c) => picked.has(c));
        return { category: multiple ? chosen : chosen[0] };
      },
      onKey: function (event) {
        if (Quorum.isTyping(event.target) || !/^[1-9]$/.test(event.key)) return false;
        const c = categories[Number(event.key) - 1];
        if (c === undefined) return false;
        toggle(c);
        return true;
      },
    };
  };
})();
