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
      // "changed": something the page shows was recorded (a monitor run): draw it again
      source.addEventListener("changed", function () { refresh(); });
      source.addEventListener("audit", function (event) {
        if (node.hasAttribute("data-refresh")) {
          refresh();
          return;
        }
        node.insertAdjacentHTML("afterbegin", event.data);
        var row = node.firstElementChild;
        if (row) row.classList.add("fresh");
      });
    });
      var live = root.querySelector("[data-live]");
    if (live && window.EventSource) watchLive(live);
  }

  // Re-render the page in place (unless you are typing or reading an error).
  function refresh() {
    if (editing() || document.querySelector("#main [role=alert]")) return;
    fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) {
        var focusId = document.activeElement && document.activeElement.id;
        var scroll = window.scrollY;
        swapMain(html, focusId ? "#" + CSS.escape(focusId) : "#none", true);
        window.scrollTo(0, scroll);
      });
  }

  // data-live: the Deployment page's event stream. A "figures" event (one point: per variant
  // requests/s, error rate, p50, p99) updates the table in place and redraws the live chart;
  // a "rollout" event whose stamp differs from the page's re-renders the page.
  function watchLive(live) {
    var figure = live.querySelector("#live-chart");
    var history = { points: [], window: 300 };
    var data = live.querySelector("#live-history");
    try { if (data) history = JSON.parse(data.textContent); } catch (e) { /* keep it empty */ }
    var add = figure ? liveChart(figure, history) : function () {};
    var source = new EventSource(live.getAttribute("data-live"));
    streams.push(source);
    source.addEventListener("figures", function (event) {
      var point = JSON.parse(event.data);
      Object.keys(point.variants).forEach(function (name) {
        var row = live.querySelector('tr[data-variant="' + CSS.escape(name) + '"]');
        if (!row) return;
        Array.prototype.forEach.call(row.querySelectorAll("[data-field]"), function (cell) {
          var field = cell.getAttribute("data-field");
          cell.textContent = figureText(field, point.variants[name][field]);
        });
      });
      add(point);
    });
    source.addEventListener("rollout", function (event) {
      if (event.data === live.getAttribute("data-stamp")) return;
      live.setAttribute("data-stamp", event.data);
      refresh();
    });
  }

  function figureText(field, value) {
    if (value === null || value === undefined) return "-";
    if (field === "error_rate") return (value * 100).toFixed(2) + "%";
    if (field === "total") return String(value);
    if (field === "rps") return value.toFixed(1);
    return value.toFixed(2);
  }

  var SVG = "http://www.w3.org/2000/svg";
  var CHARTS = [["rps", "Requests/s"], ["p99_ms", "p99 latency (ms)"]];

  function el(parent, name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  // Two small inline SVG line charts (requests/s and p99), one line per variant, over the
  // last history.window seconds; returns the function that adds a point and redraws.
  function liveChart(figure, history) {
    var holder = figure.querySelector(".charts");
    var names = (figure.getAttribute("data-variants") || "").split(" ").filter(Boolean);
    var points = history.points || [];
    var keep = history.window || 300;
    var W = 360, H = 170, L = 46, R = 10, T = 22, B = 22;

    function draw() {
      holder.textContent = "";
      var now = points.length ? points[points.length - 1].t : Date.now() / 1000;
      // The x axis grows with the history, from one minute up to the whole window.
      var span = Math.min(keep, Math.max(60, points.length ? now - points[0].t : 0));
      var ago = span < 120 ? "-" + Math.round(span) + " s" : "-" + Math.round(span / 60) + " min";
      CHARTS.forEach(function (chart) {
        var key = chart[0], top = 0, latest = [];
        points.forEach(function (p) {
          names.forEach(function (n) {
            var f = p.variants[n];
            if (f && f[key] !== null && f[key] !== undefined) top = Math.max(top, f[key]);
          });
        });
        top = top > 0 ? top * 1.15 : 1;
        var svg = el(holder, "svg", {
          "class": "chart live", viewBox: "0 0 " + W + " " + H, role: "img", "data-metric": key
        });
        el(svg, "text", { "class": "title", x: L, y: 13 }, chart[1]);
        [0, top / 2, top].forEach(function (v) {
          var y = T + (1 - v / top) * (H - T - B);
          el(svg, "line", { "class": "grid", x1: L, x2: W - R, y1: y.toFixed(1), y2: y.toFixed(1) });
          el(svg, "text", { "class": "tick", x: L - 5, y: (y + 4).toFixed(1), "text-anchor": "end" },
            v >= 100 ? v.toFixed(0) : v.toPrecision(2));
        });
        el(svg, "line", { "class": "axis", x1: L, x2: W - R, y1: H - B, y2: H - B });
        el(svg, "text", { "class": "tick", x: L, y: H - 6 }, ago);
        el(svg, "text", { "class": "tick", x: W - R, y: H - 6, "text-anchor": "end" }, "now");
        names.forEach(function (n) {
          var coords = [], last = null;
          points.forEach(function (p) {
            var f = p.variants[n];
            if (!f || f[key] === null || f[key] === undefined || now - p.t > span) return;
            var x = L + (1 - (now - p.t) / span) * (W - L - R);
            var y = T + (1 - f[key] / top) * (H - T - B);
            coords.push(x.toFixed(1) + "," + y.toFixed(1));
            last = f[key];
          });
          el(svg, "polyline", { "class": "line v-" + n, points: coords.join(" "), "data-variant": n,
            "data-count": coords.length });
          if (last !== null) latest.push(n + " " + figureText(key, last));
        });
        svg.setAttribute("aria-label", chart[1] + " per variant over the last " +
          Math.round(span) + " seconds" + (latest.length ? "; now " + latest.join(", ") : ""));
      });
    }
    draw();
    return function (point) {
      points.push(point);
      while (points.length && points[0].t < point.t - keep) points.shift();
      draw();
    };
  }

  document.addEventListener("submit", onSubmit);
  document.addEventListener("change", onChange);
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
