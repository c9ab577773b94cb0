/* The last page of the LINE Login popup: tells the quiz widget that opened it to look again.
   Same origin only; the message carries no data, the widget asks the server what happened. */
(function () {
  "use strict";
  if (window.opener && !window.opener.closed) {
    try { window.opener.postMessage("quiz-line-done", location.origin); } catch (ignored) { /* opener gone */ }
  }
})();
