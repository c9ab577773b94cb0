/* The one-line embed:
     <script src="https://quiz.example.com/widget.js" data-quiz="serum-finder" async></script>
   Puts the quiz in an iframe, inline where the script is (or in data-target), or in a dialog opened by
   a button (data-mode="popup"). Without data-quiz it only sizes the shop's own quiz iframes, those
   marked data-quiz-frame. Passes the page's context (data-product, data-locale or the page's
   lang, the page address without its query, and its utm_source, utm_medium and utm_campaign) and sizes the iframe to its content from the quiz's
   messages, checking their origin and source. Everything lives in a shadow root, so the shop's CSS
   and ours never meet. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var options = script.dataset;
  var server = new URL(script.src, location.href).origin;
  var MAX_HEIGHT = 20000;
  // The height the frame starts at, and keeps as its least (frame.js): the shop's page does not move
  // when the quiz appears, nor as the shopper goes from question to question. data-height="800"
  // (pixels) reserves more for a quiz whose questions are taller, or less for a short one.
  var RESERVE = /^[0-9]{2,4}$/.test(options.height || "") ? options.height + "px" : "40rem";

  function css(element, rules) {
    // Inline !important declarations win over any rule of the shop's stylesheets.
    Object.keys(rules).forEach(function (name) { element.style.setProperty(name, rules[name], "important"); });
    return element;
  }

  function select(selector) {
    // A mistyped selector in the shop's snippet must not stop the quiz from appearing at all.
    try { return selector ? document.querySelectorAll(selector) : []; } catch (error) {
      if (window.console) console.warn("quiz widget: ignoring the selector " + JSON.stringify(selector));
      return [];
    }
  }

  function quizAddress() {
    var url = new URL("/q/" + encodeURIComponent(options.quiz), server);
    url.searchParams.set("page", location.origin + location.pathname);
    var locale = options.locale || document.documentElement.lang;
    if (locale) url.searchParams.set("locale", locale);
    if (options.product) url.searchParams.set("product", options.product);
    // Of the page's query, only the ad campaign that brought the shopper: the dashboard's traffic page.
    var query = new URLSearchParams(location.search);
    ["utm_source", "utm_medium", "utm_campaign"].forEach(function (name) {
      var value = query.get(name);
      if (value) url.searchParams.set(name, value.slice(0, 100));
    });
    return url.href;
  }

  function addFrame(parent, onEscape) {
    var frame = css(document.createElement("iframe"), {
      display: "block", width: "100%", height: RESERVE, border: "0", margin: "0", padding: "0",
      "max-width": "none", "min-width": "0", "background": "transparent"
    });
    frame.title = options.title || options.quiz;
    parent.appendChild(frame);
    frame.src = quizAddress();
    return follow(frame, onEscape);
  }

  function follow(frame, onEscape) {
    var answered = false;
    window.addEventListener("message", function (event) {
      if (event.origin !== server || event.source !== frame.contentWindow) return;
      var message = event.data;
      if (!message || message.source !== "quiz-widget") return;
      answered = true;
      if (message.type === "height" && typeof message.height === "number" && isFinite(message.height) && message.height > 0) {
        css(frame, { height: Math.min(Math.ceil(message.height), MAX_HEIGHT) + "px" });
      } else if (message.type === "step") {
        // The spot of the frame to show: its top for a new step, the confirmation or the error further down.
        var spot = frame.getBoundingClientRect().top + (typeof message.top === "number" && isFinite(message.top) ? Math.max(0, message.top) : 0);
        if (spot < 0 || spot > window.innerHeight - 48) window.scrollBy(0, spot - 16);
      } else if (message.type === "add-to-cart" && Array.isArray(message.products)) {
        // For the shop's theme: document.addEventListener("quiz:add-to-cart", e => e.detail.products...)
        var products = message.products.slice(0, 50).filter(function (item) {
          return item && typeof item.product === "string";
        }).map(function (item) {
          return { product: item.product, variant: typeof item.variant === "string" ? item.variant : "" };
        });
        frame.dispatchEvent(new CustomEvent("quiz:add-to-cart", {
          bubbles: true, composed: true, detail: { quiz: options.quiz || "", products: products }
        }));
      } else if (message.type === "escape" && onEscape) {
        onEscape();  // focus is inside the quiz, so the dialog never sees the key itself
      }
    });
    // The quiz may have told its height before this script listened (a plain iframe loads on its
    // own): ask again now and at each load. Sent to the quiz server's origin only.
    // To any origin: the frame may still hold its first blank page, of this page's origin, and a
    // message aimed at the quiz's origin would make the browser log an error on every shop page.
    // "hello" carries nothing, and the quiz answers only to an origin allowed to embed it.
    // The height the shop gave the frame at the start, told with each hello: a frame reloaded while
    // it shows tall results must not take that height as its least.
    var reserve = Math.round(frame.getBoundingClientRect().height);
    function hello() {
      if (frame.contentWindow) frame.contentWindow.postMessage({ source: "quiz-widget", type: "hello", reserve: reserve }, "*");
    }
    frame.addEventListener("load", hello);
    frame.addEventListener("load", function () { setTimeout(silent, 3000); });
    hello();
    return frame;

    // A quiz tells its height as soon as it runs. Silence after its frame has loaded almost always
    // means the browser refused to frame it here: say which setting to change, where the shop looks.
    function silent() {
      if (answered || !window.console) return;
      answered = true;  // once
      var quiz = options.quiz || frame.src;
      console.warn("quiz widget: quiz " + quiz + " did not answer; if its frame was refused, add " + location.origin +
        " to embed.allowed_origins in its file (or QUIZ_EMBED_ORIGINS)");
    }
  }

  function mount() {
    var host = css(css(document.createElement("quiz-widget"), { all: "initial" }), { display: "block" });
    var target = select(options.target)[0];
    if (target) target.appendChild(host);
    else script.parentNode.insertBefore(host, script);
    var root = host.attachShadow({ mode: "open" });
    if (options.mode === "popup") popup(root);
    else addFrame(root);
  }

  function popup(root) {
    var dialog = css(document.createElement("dialog"), {
      // Anchored to the top, not centred: the dialog then grows downwards as the quiz does, never jumps.
      width: "min(40rem, 100vw - 1rem)", "max-height": "calc(100vh - 2rem)", margin: "1rem auto auto", padding: "0", border: "0",
      "border-radius": "12px", overflow: "auto", background: "#fff"
    });
    var close = css(document.createElement("button"), {
      display: "block", margin: "0 0 0 auto", padding: ".5rem .9rem", border: "0", background: "transparent",
      font: "600 1.5rem/1 system-ui, sans-serif", cursor: "pointer", color: "#1d1d1f"
    });
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", options.closeLabel || "Close");
    close.addEventListener("click", function () { dialog.close(); });
    dialog.appendChild(close);
    root.appendChild(dialog);
    var frame = null;
    function open() {
      if (!frame) frame = addFrame(dialog, function () { dialog.close(); });
      dialog.showModal();
    }
    var own = select(options.open);
    if (own.length) {
      own.forEach(function (element) { element.addEventListener("click", open); });
      return;
    }
    var button = css(document.createElement("button"), {
      font: "600 1rem/1.2 system-ui, sans-serif", padding: ".75rem 1.25rem", "border-radius": "12px",
      border: "0", background: options.color || "#2F6FEB", color: "#fff", cursor: "pointer"
    });
    button.type = "button";
    button.textContent = options.button || "Take the quiz";
    button.addEventListener("click", open);
    root.appendChild(button);
  }

  function followMarkedFrames() {
    document.querySelectorAll("iframe[data-quiz-frame]").forEach(function (frame) {
      if (new URL(frame.src, location.href).origin === server) follow(frame);
    });
  }

  function start() {
    if (options.quiz) mount();
    followMarkedFrames();
  }

  // data-target, data-open and marked iframes may come later in the page than this script.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
