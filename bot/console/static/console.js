// coursebot console: the little behaviour the pages need, no framework (CSP: script-src 'self', no inline code).
// 1. An element with data-poll (the inbox list, the live question board) refreshes itself every second from that
//    URL (new handoffs, new live questions appear without a reload).
// 2. A form marked data-once disables its buttons on submit (a double click sends one request; the server is
//    idempotent anyway: one reply per handoff). Delegated, so forms inside a refreshed element are covered too.
(function () {
  "use strict";
  var POLL_MS = 1000;

  function poll(list) {
    var url = list.getAttribute("data-poll");
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          var current = list.querySelector("[data-version]");
          var fetched = html === null ? null : /data-version="([^"]*)"/.exec(html);
          // Replace only when the list changed: a link the creator is about to tap stays where it is.
          if (fetched && (!current || current.getAttribute("data-version") !== fetched[1])) {
            list.innerHTML = html;  // server-rendered with autoescape: viewer text arrives escaped
            var open = list.querySelector("[data-open]");
            var count = document.getElementById("open-count");
            if (open && count) count.textContent = open.getAttribute("data-open");
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(function (list) {
      if (!list.hasAttribute("data-paged")) poll(list);
    });
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-once")) return;
    setTimeout(function () {  // after the browser took the clicked button's name/value
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
})();
