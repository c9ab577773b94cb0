/* Runs inside the quiz page. Tells the embedding page the quiz's height (postMessage, only to the
   origins allowed to frame this quiz), never less than the floor kept below; after htmx swaps in a
   step: asks the embedding page to bring it into view, moves focus to it and announces it in the
   live region. Also hides pictures that fail, and pushes each step's address into the history.
   Our CSP forbids inline scripts, hence this file. */
(function () {
  "use strict";
  var embedders = (document.documentElement.getAttribute("data-embedders") || "").split(" ").filter(Boolean);
  var framed = window.parent !== window;
  var lastHeight = 0;
  // Every resize of the frame moves the shop's page under the shopper's eyes (a layout shift the
  // shop page sees even after a tap, since the tap was in our frame). So the frame keeps the height
  // the shop gave it at the start (the loader's reserve) as a floor, and the floor rises to the
  // tallest question shown: questions never make it shrink and grow again. Only the results may
  // go past it, and leaving them returns to the floor.
  var floor = framed ? Math.ceil(window.innerHeight) : 0;
  if (framed) {
    document.documentElement.classList.add("quiz-framed");
    setFloor(floor);
    var first = document.getElementById("quiz-step");
    if (first) raiseFloor(first);  // a reload, or back and forward, landing on a question
  }

  function setFloor(height) {
    floor = height;
    document.documentElement.style.setProperty("--quiz-floor", floor + "px");  // CSSOM: allowed by our CSP
  }

  function raiseFloor(step) {
    if (!step.querySelector("fieldset[data-question]")) return;
    var main = step.parentNode;
    var natural = Math.ceil(step.getBoundingClientRect().bottom + window.scrollY + parseFloat(getComputedStyle(main).paddingBottom));
    if (natural > floor) setFloor(natural);
  }

  function post(message) {
    if (!framed) return;
    message.source = "quiz-widget";
    // A message whose target origin is not the parent's is dropped by the browser, so only the
    // allowed site that actually embeds us receives it.
    embedders.forEach(function (origin) { window.parent.postMessage(message, origin); });
  }

  function reportHeight() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      post({ type: "height", height: height });
    }
  }

  // Where focus goes after a swap: what the server marked (a confirmation, with data-focus), else
  // the first control a shopper must correct (a fieldset cannot take focus; its first input can),
  // else the new step's heading.
  function focusTarget(step) {
    var marked = step.querySelector("[data-focus]");
    if (marked) return marked;
    var invalid = step.querySelector("[aria-invalid=true]");
    if (invalid && invalid.matches("input, select, textarea")) return invalid;
    var control = invalid && invalid.querySelector("input:not([type=hidden]), select, textarea");
    return control || step.querySelector("h1");
  }

  function focusStep(step) {
    var target = focusTarget(step);
    if (target) target.focus({ preventScroll: true });
    var heading = !target || target.tagName === "H1";
    var announce = document.getElementById("quiz-announce");
    // An error or a confirmation reads itself out (role alert or status): nothing to talk over it.
    if (announce) announce.textContent = heading ? step.getAttribute("data-announce") || "" : "";
    var box = (heading ? step : target).getBoundingClientRect();
    if (framed) {
      // Where it is in the frame, so the shop page can bring that spot into view.
      post({ type: "step", top: heading ? 0 : Math.max(0, Math.round(box.top + window.scrollY)) });
    } else if (box.top < 0 || (!heading && box.bottom > window.innerHeight)) {
      (heading ? step : target).scrollIntoView({ block: heading ? "start" : "center" });
    }
  }

  if (framed) {
    window.addEventListener("message", function (event) {
      var message = event.data;
      if (event.source !== window.parent || embedders.indexOf(event.origin) < 0) return;
      if (message && message.source === "quiz-widget" && message.type === "hello") {
        var reserve = message.reserve;
        if (typeof reserve === "number" && isFinite(reserve) && reserve > 0 && reserve < 20000) {
          setFloor(Math.ceil(reserve));  // the shop's reserve, not the height this (re)load found
          var step = document.getElementById("quiz-step");
          if (step) raiseFloor(step);
        }
        lastHeight = 0;  // the embedding page (re)started listening: tell it again
        reportHeight();
      }
    });
    if ("ResizeObserver" in window) new ResizeObserver(reportHeight).observe(document.body);
    window.addEventListener("load", reportHeight);
    reportHeight();
  }
  // A picture that fails (a shop-relative path on another shop, a moved file) leaves its box empty
  // rather than the browser's broken-image icon. Error events do not bubble: caught on the way down.
  function hideFailed(image) {
    if (image.closest && image.closest(".quiz-media")) image.classList.add("quiz-failed");
  }
  document.addEventListener("error", function (event) {
    if (event.target.tagName === "IMG") hideFailed(event.target);
  }, true);
  Array.prototype.forEach.call(document.images, function (image) {
    if (image.complete && !image.naturalWidth) hideFailed(image);  // failed before this script ran
  });
  // htmx swaps nothing when a request fails: say so where the shopper is looking, instead of silence.
  function showConnectionError() {
    var step = document.getElementById("quiz-step");
    if (!step || step.querySelector(".quiz-connection-error")) return;
    var message = document.createElement("p");
    message.className = "quiz-error quiz-connection-error";
    message.setAttribute("role", "alert");
    message.textContent = document.documentElement.getAttribute("data-connection-error") || "";
    step.insertBefore(message, step.firstChild);
    reportHeight();
  }
  // A "try again" alert (quiz.web.failures) stands until the next answer: never two of them.
  document.addEventListener("htmx:beforeSwap", function () {
    var alert = document.querySelector(".quiz-alert");
    if (alert) alert.remove();
  });
  document.addEventListener("htmx:sendError", showConnectionError);
  document.addEventListener("htmx:responseError", showConnectionError);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") post({ type: "escape" });
  });
  // LINE Login opens in a popup of its own (LINE refuses frames). Its last page says it is done;
  // if it lost its opener on the way, coming back to this window asks the server all the same.
  var lineOpen = false;
  function lineDone() {
    lineOpen = false;
    if (window.htmx) window.htmx.trigger(document.body, "quiz-line");
  }
  window.addEventListener("message", function (event) {
    if (event.origin === location.origin && event.data === "quiz-line-done") lineDone();
  });
  window.addEventListener("focus", function () { if (lineOpen) lineDone(); });
  document.addEventListener("submit", function (event) {
    if (event.target.getAttribute("target") !== "quiz-line") return;
    lineOpen = true;
    window.open("", "quiz-line", "popup,width=480,height=720");
  });
  // Add to cart in "event" mode: the shop page gets a quiz:add-to-cart event (widget.js dispatches
  // it) for its theme's own cart, and the server counts it. A hosted page has no shop to tell: its
  // links go to the cart permalink as they would without JavaScript. (The quiz-framed class that
  // shows these buttons is set first thing, above, before the first height is told.)
  document.addEventListener("click", function (event) {
    var control = framed && event.target.closest ? event.target.closest("[data-cart-event]") : null;
    if (!control) return;
    event.preventDefault();
    var products;
    try { products = JSON.parse(control.getAttribute("data-cart-event")); } catch (error) { return; }
    post({ type: "add-to-cart", products: products });
    fetch(control.getAttribute("data-record"), { method: "POST", credentials: "omit", keepalive: true }).catch(function () {});
  });
  // Each new step's address goes into the browser's history (a frame's history is part of the shop
  // page's). Going back or forward loads that address again: no copy of a page, with its answers,
  // is kept in the browser.
  function remember(step) {
    var url = step.getAttribute("data-url");
    if (!url || url === location.pathname + location.search) return;
    if (!history.state || !history.state.quiz) history.replaceState({ quiz: true }, "", location.href);
    history.pushState({ quiz: true }, "", url);
  }
  window.addEventListener("popstate", function (event) {
    if (event.state && event.state.quiz) location.reload();
  });
  // On the swap itself, not when it settles: the shop page scrolls to the new step before it hears
  // the new height, so a taller step grows the frame below the fold rather than under the shopper.
  document.addEventListener("htmx:afterSwap", function (event) {
    var step = document.getElementById("quiz-step");
    if (step && event.target === step) {
      remember(step);
      if (framed) raiseFloor(step);
      focusStep(step);
    }
    reportHeight();
  });
})();
