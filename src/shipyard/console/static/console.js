// shipyard console: fragments and live updates, without a framework (progressive enhancement:
// every form and link works without this file).
(function () {
  "use strict";
  var streams = [];

  function swapMain(html, focusSelector, quiet) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("main");
    var main = document.getElementById("main");
    if (!fresh || !main) return false;
    streams.forEach(function (s) { s.close(); });
    streams = [];
    main.replaceWith(fresh);
    if (doc.title) document.title = doc.title;
    init(fresh);
    var target = fresh.querySelector(focusSelector || "[role=alert]");
    if (!target && quiet) return true;
    target = target || fresh;
    if (target === fresh || target.getAttribute("tabindex") === null && !target.matches("a,button,input,select")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
    return true;
  }

  // Forms marked data-swap post in the background and replace the page's main region with
  // the answer (the page a plain post would have shown), keeping scroll position and focus.
  function onSubmit(event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-swap]")) return;
    event.preventDefault();
    var focusId = document.activeElement && document.activeElement.id;
    var scroll = window.scrollY;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var focus = document.querySelector("#main [role=alert]") ? null : focusId;
      if (!swapMain(html, focus ? "#" + CSS.escape(focus) : "[role=alert], #verify-result p")) {
        form.submit();
        return;
      }
      window.scrollTo(0, scroll);
    }).catch(function () { form.submit(); });
  }

  // A chart's metric picker fetches the chart alone and swaps it in.
  function onChange(event) {
    var select = event.target;
    var form = select.form;
    if (!form || !form.hasAttribute("data-chart")) return;
    var url = form.getAttribute("data-chart") + "?metric=" + encodeURIComponent(select.value);
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var chart = holder.querySelector("#chart");
      var old = document.getElementById("chart");
      if (!chart || !old) return;
      old.replaceWith(chart);
      history.replaceState(null, "", "?metric=" + encodeURIComponent(select.value));
      var picker = chart.querySelector("select");
      if (picker) picker.focus();
    });
  }

  function editing() {
    var el = document.activeElement;
    return el && el.tagName === "INPUT" && el.type !== "hidden" && el.value !== "";
  }

  // data-stream: listen to the audit log's server-sent events. On a table body, new entries
  // are added at the top; with data-refresh, the page re-renders itself (unless you are typing).
  function init(root) {
    var nodes = root.querySelectorAll("[data-stream]");
    Array.prototype.forEach.call(nodes, function (node) {
      if (!window.EventSource) return;
      var source = new EventSource(node.getAttribute("data-stream"));
      streams.push(source);
      source.addEventListener("audit", function (event) {
        if (node.hasAttribute("data-refresh")) {
          if (editing() || document.querySelector("#main [role=alert]")) return;
          fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); })
            .then(function (html) {
              var focusId = document.activeElement && document.activeElement.id;
              var scroll = window.scrollY;
              swapMain(html, focusId ? "#" + CSS.escape(focusId) : "#none", true);
              window.scrollTo(0, scroll);
            });
          return;
        }
        node.insertAdjacentHTML("afterbegin", event.data);
        var row = node.firstElementChild;
        if (row) row.classList.add("fresh");
      });
    });
  }

  document.addEventListener("submit", onSubmit);
  document.addEventListener("change", onChange);
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
