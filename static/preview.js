/* The dashboard's preview. The quiz runs in a frame of this same site; after each step this reads
   the step's progress token from the frame and asks the server for the trace of the answers it
   carries. It also watches the quiz file: when it is saved, the quiz and its trace reload. Our CSP
   forbids inline scripts, hence this file. */
(function () {
  "use strict";
  var box = document.getElementById("preview");
  var frame = document.getElementById("preview-frame");
  var trace = document.getElementById("preview-trace");
  if (!box || !frame || !trace) return;
  var version = box.getAttribute("data-version");
  var shown = null;

  function token() {
    var doc = frame.contentDocument;
    var field = doc && doc.querySelector("#quiz-step input[name=t]");
    return field ? field.value : "";
  }

  function update(force) {
    var current = token();
    if (current === shown && !force) return;
    shown = current;
    var url = box.getAttribute("data-trace") + (current ? "?t=" + encodeURIComponent(current) : "");
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (html) { trace.innerHTML = html; trace.setAttribute("data-token", current); } })
      .catch(function () {});
  }

  frame.addEventListener("load", function () {
    var doc = frame.contentDocument;
    if (!doc) return;
    doc.addEventListener("htmx:afterSettle", function () { update(false); });
    update(true);
  });

  function watch() {
    fetch(box.getAttribute("data-version-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (found) {
        if (!found || found.version === version) return;
        version = found.version;
        box.setAttribute("data-version", version);
        frame.contentWindow.location.reload();  // the same step, from the saved file; the trace follows on load
      })
      .catch(function () {})
      .then(function () { setTimeout(watch, 1500); });
  }
  setTimeout(watch, 1500);
})();
