/* comparison: model responses side by side. Pairwise: pick the better response and how strongly
 * (a Likert scale), answer {choice, strength, justification?}. Ranking: order the responses by
 * drag and drop or with the Up/Down buttons (and Alt+↑/↓ on a focused item), answer
 * {ranking: [ids, best first], justification?} (annotation/tasktypes/comparison.py). */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const el = Quorum.el;

  Quorum.tools.comparison = function mount(root, params, ctx) {
    const responses = params.responses || [];
    const pairwise = params.mode === "pairwise";
    const scale = params.likert_scale || 7;
    const justification = el("textarea", { id: "justification", name: "justification", rows: "3", maxlength: "20000",
      required: params.require_justification ? true : null });
    const prompt = el("section", { class: "qw-prompt", "aria-label": "Prompt" }, [el("h3", { text: "Prompt" }), el("div", { class: "qw-text", text: params.prompt || "" })]);
    root.replaceChildren(prompt);

    const letter = (i) => String.fromCharCode(65 + i);
    let tool;
    if (pairwise) tool = mountPairwise(); else tool = mountRanking();
    const setAnswer = tool.load;
    tool.load = function (answer) {  // an answer to start from (a reviewer's fix)
      if (!answer) return;
      setAnswer(answer);
      justification.value = answer.justification || "";
    };
    root.append(el("div", { class: "qw-field" }, [
      el("label", { for: "justification", text: "Justification" + (params.require_justification ? " (required)" : " (optional)") }),
      justification,
    ]));

    function withJustification(answer) {
      const text = justification.value;
      if (params.require_justification && !text.trim()) throw new Error("Write a justification before submitting.");
      if (text.trim()) answer.justification = text;
      return answer;
    }

    function mountPairwise() {
      const columns = el("div", { class: "qw-side-by-side" });
      responses.forEach(function (r, i) {
        columns.append(el("section", { class: "qw-response", "aria-label": "Response " + letter(i) }, [
          el("h3", { text: "Response " + letter(i) }), el("div", { class: "qw-text", text: r.text }),
        ]));
      });
      const choice = el("fieldset", { class: "qw-choice" }, [el("legend", { text: "Which response is better? (keys A / B)" })]);
      responses.forEach(function (r, i) {
        const id = "choice-" + i;
        choice.append(el("span", { class: "qw-option" }, [
          el("input", { type: "radio", name: "choice", id: id, value: r.id }),
          el("label", { for: id, text: "Response " + letter(i) }),
        ]));
      });
      const strength = el("fieldset", { class: "qw-likert" }, [el("legend", { text: "How much better? 1 = barely, " + scale + " = far better (keys 1–" + Math.min(scale, 9) + ")" })]);
      for (let s = 1; s <= scale; s++) {
        const id = "strength-" + s;
        strength.append(el("span", { class: "qw-option" }, [
          el("input", { type: "radio", name: "strength", id: id, value: String(s) }),
          el("label", { for: id, text: String(s) }),
        ]));
      }
      root.append(columns, choice, strength);
      return {
        load: function (answer) {
          responses.forEach(function (r, i) { document.getElementById("choice-" + i).checked = r.id === answer.choice; });
          for (let s = 1; s <= scale; s++) document.getElementById("strength-" + s).checked = s === answer.strength;
        },
        getAnswer: function () {
          const picked = root.querySelector("input[name=choice]:checked");
          const level = root.querySelector("input[name=strength]:checked");
          if (!picked) throw new Error("Pick the better response first.");
          if (!level) throw new Error("Say how much better it is (1–" + scale + ").");
          return withJustification({ choice: picked.value, strength: Number(level.value) });
        },
        onKey: function (event) {
          if (Quorum.isTyping(event.target)) return false;
          const k = event.key.toLowerCase();
          const i = k.length === 1 ? k.charCodeAt(0) - 97 : -1;
          if (i >= 0 && i < responses.length && (k === "a" || k === "b")) { document.getElementById("choice-" + i).click(); return true; }
          if (/^[1-9]$/.test(event.key) && Number(event.key) <= scale) { document.getElementById("strength-" + event.key).click(); return true; }
          return false;
        },
      };
    }

    function mountRanking() {
      const order = responses.map((r) => r.id);
      const byId = Object.fromEntries(responses.map((r, i) => [r.id, { ...r, name: "Response " + letter(i) }]));
      const listEl = el("ol", { class: "qw-ranking", "aria-label": "Ranking, best first. Drag to reorder, or use the Up and Down buttons." });
      const live = el("p", { class: "qw-status", "aria-live": "polite" });
      root.append(el("h3", { text: "Rank the responses, best first" }), listEl, live);
      let dragged = null;

      function move(id, delta) {
        const i = order.indexOf(id), j = i + delta;
        if (j < 0 || j >= order.length) return;
        order.splice(i, 1);
        order.splice(j, 0, id);
        render(id);
        live.textContent = byId[id].name + " is now ranked " + (j + 1) + " of " + order.length + ".";
      }
      function render(focusId, focusWhat) {
        listEl.replaceChildren(...order.map(function (id, i) {
          const r = byId[id];
          const item = el("li", { class: "qw-rank-item", draggable: "true", tabindex: "0", "data-id": id,
            "aria-label": "Rank " + (i + 1) + ": " + r.name }, [
            el("div", { class: "qw-rank-head" }, [
              el("span", { class: "qw-rank-pos", text: String(i + 1) }),
              el("strong", { text: r.name }),
              el("button", { type: "button", class: "qw-small", "data-move": "up", text: "Up", "aria-label": "Move " + r.name + " up", disabled: i === 0,
                onclick: function () { move(id, -1); } }),
              el("button", { type: "button", class: "qw-small", "data-move": "down", text: "Down", "aria-label": "Move " + r.name + " down", disabled: i === order.length - 1,
                onclick: function () { move(id, 1); } }),
            ]),
            el("div", { class: "qw-text", text: r.text }),
          ]);
          item.addEventListener("dragstart", function (event) { dragged = id; event.dataTransfer.effectAllowed = "move"; event.dataTransfer.setData("text/plain", id); item.classList.add("qw-dragging"); });
          item.addEventListener("dragend", function () { dragged = null; item.classList.remove("qw-dragging"); });
          item.addEventListener("dragover", function (event) { event.preventDefault(); event.dataTransfer.dropEffect = "move"; });
          item.addEventListener("drop", function (event) {
            event.preventDefault();
            const from = dragged || event.dataTransfer.getData("text/plain");
            if (!from || from === id) return;
            const target = order.indexOf(id);
            order.splice(order.indexOf(from), 1);
            order.splice(target, 0, from);
            render(from);
            live.textContent = byId[from].name + " is now ranked " + (order.indexOf(from) + 1) + " of " + order.length + ".";
          });
          item.addEventListener("keydown", function (event) {
            if (event.target !== item || !event.altKey) return;
            if (event.key === "ArrowUp") { event.preventDefault(); move(id, -1); }
            if (event.key === "ArrowDown") { event.preventDefault(); move(id, 1); }
          });
          return item;
        }));
        root.dataset.ranking = order.join(",");
        if (focusId) {
          const item = listEl.querySelector('[data-id="' + CSS.escape(focusId) + '"]');
          if (item) item.focus();
        }
      }
      render();
      return {
        load: function (answer) {
          const ranking = (answer && answer.ranking) || [];
          if (ranking.length !== order.length || !ranking.every((id) => byId[id])) return;
          order.splice(0, order.length, ...ranking);
          render();
        },
        getAnswer: function () { return withJustification({ ranking: order.slice() }); },
        onKey: function () { return false; },
      };
    }
    if (ctx && ctx.initial) tool.load(ctx.initial);
    return tool;
  };
})();
