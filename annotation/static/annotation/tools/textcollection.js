/* textcollection: a form generated from params.fields (text, category, number, rating), with the
 * attachments shown above it. Answer {"annotations": {field_id: value}}
 * (annotation/tasktypes/textcollection.py): text a string, category a list of choices, number a
 * number, rating an integer 1..scale. Empty optional fields are left out. */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;

  function attachmentView(a) {
    if (a.type === "text") return el("div", { class: "qw-text", text: a.content });
    if (a.type === "image") return el("img", { src: a.content, alt: "Attachment image", class: "qw-attachment-image" });
    return el("p", {}, [a.type + ": ", el("a", { href: a.content, target: "_blank", rel: "noopener noreferrer", text: a.content })]);
  }

  Quorum.tools.textcollection = function mount(root, params, ctx) {
    const fields = params.fields || [];
    root.replaceChildren();
    if ((params.attachments || []).length) {
      root.append(el("section", { class: "qw-attachments", "aria-label": "Attachments" }, [el("h3", { text: "Attachments" }), ...params.attachments.map(attachmentView)]));
    }
    const form = el("div", { class: "qw-form" });
    root.append(form);
    fields.forEach(function (f, i) {
      const id = "field-" + i;
      const title = f.title + (f.required ? " (required)" : "");
      const help = f.description ? el("p", { class: "qw-help", id: id + "-help", text: f.description }) : "";
      const described = f.description ? id + "-help" : null;
      if (f.type === "text") {
        form.append(el("div", { class: "qw-field" }, [el("label", { for: id, text: title }), help,
          el("textarea", { id: id, "data-field": f.field_id, rows: "4", maxlength: f.max_length ? String(f.max_length) : null, required: f.required || null, "aria-describedby": described })]));
      } else if (f.type === "number") {
        form.append(el("div", { class: "qw-field" }, [el("label", { for: id, text: title }), help,
          el("input", { id: id, type: "number", step: "any", "data-field": f.field_id, min: f.min, max: f.max, required: f.required || null, "aria-describedby": described })]));
      } else if (f.type === "category") {
        const many = (f.max_choice || 1) > 1;
        const group = el("fieldset", { class: "qw-choice", "data-field": f.field_id, "aria-describedby": described }, [
          el("legend", { text: title + (many ? " — pick " + (f.min_choice ?? 1) + " to " + f.max_choice : "") }), help]);
        (f.choices || []).forEach(function (choice, j) {
          const cid = id + "-" + j;
          group.append(el("span", { class: "qw-option" }, [el("input", { type: many ? "checkbox" : "radio", name: id, id: cid, value: choice }), el("label", { for: cid, text: choice })]));
        });
        form.append(group);
      } else if (f.type === "rating") {
        const scale = f.scale || 5;
        const rubric = Object.fromEntries((f.rubric || []).map((r) => [r.score, r.description]));
        const group = el("fieldset", { class: "qw-likert", "data-field": f.field_id, "aria-describedby": described }, [el("legend", { text: title + " (1–" + scale + ")" }), help]);
        for (let s = 1; s <= scale; s++) {
          const cid = id + "-" + s;
          group.append(el("span", { class: "qw-option" }, [el("input", { type: "radio", name: id, id: cid, value: String(s) }),
            el("label", { for: cid, text: String(s) + (rubric[s] ? " — " + rubric[s] : "") })]));
        }
        form.append(group);
      }
    });

    function getAnswer() {
      const out = {};
      fields.forEach(function (f, i) {
        const id = "field-" + i;
        let value;
        if (f.type === "text") {
          const v = document.getElementById(id).value;
          if (v.trim() || f.required) value = v;
        } else if (f.type === "number") {
          const input = document.getElementById(id);
          if (input.value !== "") {
            value = Number(input.value);
            if (Number.isNaN(value)) throw new Error(f.title + ": enter a number.");
          }
        } else if (f.type === "category") {
          const picked = [...root.querySelectorAll("input[name=" + id + "]:checked")].map((x) => x.value);
          if (picked.length || f.required) value = picked;
        } else {
          const picked = root.querySelector("input[name=" + id + "]:checked");
          if (picked) value = Number(picked.value);
        }
        if (value === undefined && f.required) throw new Error(f.title + ": this field is required.");
        if (value !== undefined) out[f.field_id] = value;
      });
      return { annotations: out };
    }
    function load(answer) {  // an answer to start from (a reviewer's fix)
      const values = (answer && answer.annotations) || {};
      fields.forEach(function (f, i) {
        const id = "field-" + i, v = values[f.field_id];
        if (f.type === "text" || f.type === "number") document.getElementById(id).value = v === undefined || v === null ? "" : String(v);
        else {
          const chosen = (Array.isArray(v) ? v : [v]).map(String);
          for (const input of root.querySelectorAll("input[name=" + id + "]")) input.checked = chosen.includes(input.value);
        }
      });
    }
    if (ctx && ctx.initial) load(ctx.initial);
    return { getAnswer: getAnswer, load: load, onKey: function () { return false; } };
  };
})();
