// Portal pages: fit each answer overlay's view box to its image's natural size when the task's
// params did not give the size (the shapes are in image pixels). No framework, no build step.
(function () {
  "use strict";
  document.querySelectorAll("svg[data-fit-image]").forEach(function (svg) {
    var image = svg.querySelector("image");
    if (!image) return;
    var probe = new Image();
    probe.onload = function () {
      var w = probe.naturalWidth, h = probe.naturalHeight;
      if (!w || !h) return;
      svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      image.setAttribute("width", w);
      image.setAttribute("height", h);
    };
    probe.src = image.getAttribute("href");
  });
})();

// A form whose action depends on the project picked in it (data-project-action holds "{project}"):
// set when it is sent. A listener in this file, not an inline handler: the Content-Security-Policy
// allows scripts from this site only.
(function () {
  "use strict";
  document.querySelectorAll("form[data-project-action]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.action = form.dataset.projectAction.replace("{project}", form.elements.project.value);
    });
  });
})();

// A form with data-confirm asks before it is sent (archive a project, reject a task): an
// irreversible or costly action is never one click. data-confirm-when="name=value" asks only when
// that field has that value (the audit form asks for a rejection, not for an acceptance).
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var when = form.dataset.confirmWhen;
      if (when) {
        var parts = when.split("=");
        var field = form.elements[parts[0]];
        if (!field || field.value !== parts[1]) return;
      }
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
