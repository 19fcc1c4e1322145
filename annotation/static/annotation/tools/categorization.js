/* categorization: the attachment and one button per category (number keys pick). Answer
 * {"category": "red"}, or with allow_multiple {"category": ["red", …]}
 * (annotation/tasktypes/categorization.py).
 * With params.taxonomies (Scale's current form): one question per taxonomy key, radio buttons
 * (single choice) or check boxes (allow_multiple); a choice with subchoices is a heading whose
 * subchoices appear once it is opened; a question with a condition is shown only while the
 * question it depends on has one of its choices selected (a subchoice selects its ancestors).
 * Answer {"taxonomies": {key: [leaf, …]}} with the questions shown (annotation/quality/taxonomies.py). */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;

  function leavesOf(choices, ancestors, out) {
    for (const c of choices) {
      if (typeof c === "string") out.push({ label: c, ancestors: ancestors });
      else if (!(c.subchoices || []).length) out.push({ label: c.choice, ancestors: ancestors });
      else leavesOf(c.subchoices, ancestors.concat([c.choice]), out);
    }
    return out;
  }

  function mountTaxonomies(root, params, attachment) {
    const taxonomies = params.taxonomies;
    // Stored params lose the order keys were sent in (jsonb sorts them), so show each question
    // right after the one its condition depends on.
    const keys = [];
    (function place(parent) {
      for (const key of Object.keys(taxonomies)) {
        const cond = taxonomies[key].condition;
        const on = cond && taxonomies[cond.taxonomy] && cond.taxonomy !== key ? cond.taxonomy : null;
        if (on === parent && !keys.includes(key)) { keys.push(key); place(key); }
      }
    })(null);
    for (const key of Object.keys(taxonomies)) if (!keys.includes(key)) keys.push(key);
    const form = el("div", { class: "qw-form" });
    root.replaceChildren(el("section", { class: "qw-attachments", "aria-label": "Item" }, [attachment]), form);
    const sections = {};
    let counter = 0;
    keys.forEach(function (key, qi) {
      const spec = taxonomies[key];
      const multiple = Boolean(spec.allow_multiple);
      const name = "tax-" + qi;
      const legend = (spec.description || key) + (multiple ? " (pick one or more)" : "");
      const set = el("fieldset", { class: "qw-choice", "data-taxonomy": key }, [el("legend", { text: legend })]);
      function render(choices, container) {
        for (const c of choices) {
          const label = typeof c === "string" ? c : c.choice;
          const subs = typeof c === "string" ? [] : c.subchoices || [];
          if (!subs.length) {
            const input = el("input", { type: multiple ? "checkbox" : "radio", name: name, id: name + "-" + (counter++), value: label, onchange: refresh });
            container.append(el("span", { class: "qw-option" }, [input, el("label", { for: input.id, text: label })]));
          } else {
            const group = el("details", { class: "qw-subchoices" }, [el("summary", { text: label + " …" })]);
            const inner = el("div", { style: "margin-left:1.2rem" });
            group.append(inner);
            container.append(group);
            render(subs, inner);
          }
        }
      }
      render(spec.choices || [], set);
      sections[key] = { set: set, spec: spec, name: name, leaves: leavesOf(spec.choices || [], [], []) };
      form.append(set);
    });
    function picked(key) {
      return [...sections[key].set.querySelectorAll("input:checked")].map((x) => x.value);
    }
    function selectedWithAncestors(key) {
      const out = new Set();
      for (const v of picked(key)) {
        out.add(v);
        const leaf = sections[key].leaves.find((l) => l.label === v);
        if (leaf) leaf.ancestors.forEach((a) => out.add(a));
      }
      return out;
    }
    function shown(key, seen) {
      const cond = sections[key].spec.condition;
      if (!cond) return true;
      if (!sections[cond.taxonomy] || (seen || []).includes(key)) return false;
      if (!shown(cond.taxonomy, (seen || []).concat([key]))) return false;
      const sel = selectedWithAncestors(cond.taxonomy);
      return (cond.choices || []).some((c) => sel.has(c));
    }
    function refresh() {
      for (const key of keys) sections[key].set.hidden = !shown(key);
    }
    refresh();
    return {
      getAnswer: function () {
        const out = {};
        for (const key of keys) {
          if (!shown(key)) continue;
          const values = picked(key);
          if (!values.length) throw new Error((sections[key].spec.description || key) + ": pick an answer.");
          out[key] = values;
        }
        return { taxonomies: out };
      },
      onKey: function () { return false; },
    };
  }

  Quorum.tools.categorization = function mount(root, params, ctx) {
    const categories = params.categories || [];
    const multiple = Boolean(params.allow_multiple);
    const picked = new Set();
    const type = params.attachment_type || "text";
    let attachment;
    if (type === "image") attachment = el("img", { src: params.attachment, alt: "The item to categorize", class: "qw-attachment-image" });
    else if (type === "text") attachment = el("div", { class: "qw-text", text: params.attachment });
    else attachment = el("p", {}, [type + ": ", el("a", { href: params.attachment, target: "_blank", rel: "noopener noreferrer", text: params.attachment })]);
    if (params.taxonomies) return mountTaxonomies(root, params, attachment);
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
