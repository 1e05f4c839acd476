/* Draws the page's charts with Chart.js from the JSON block #chart-data (no inline script: the CSP forbids it). */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var money = new Intl.NumberFormat(undefined, { style: "currency", currency: data.currency || "USD" });
  var percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  Chart.defaults.animation = reduced ? false : { duration: 300 };
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.color = "#1b1f24";

  function line(id, labels, sets, format) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: sets.map(function (set) {
        return { label: set.label, data: set.values, borderColor: set.color, backgroundColor: set.color,
                 spanGaps: false, tension: 0.2, pointRadius: 3 };
      }) },
      options: { plugins: { legend: { display: sets.length > 1 },
                            tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + format(c.parsed.y); } } } },
                 scales: { y: { ticks: { callback: function (v) { return format(v); } } } } }
    });
  }
  function pick(points, name) { return points.map(function (p) { return p[name]; }); }
  function periods(points) { return points.map(function (p) { return p.period; }); }
  var fmtMoney = function (v) { return money.format(v); };
  var fmtPercent = function (v) { return percent.format(v); };

  if (data.trend) {
    line("trend-net", periods(data.trend), [{ label: "Net value", values: pick(data.trend, "net_value"), color: "#0b57d0" }], fmtMoney);
    line("trend-cost", periods(data.trend), [{ label: "Cost per resolved case", values: pick(data.trend, "cost_per_resolved_case"), color: "#7a4b00" }], fmtMoney);
  }
  if (data.bars && document.getElementById("cohort-bars")) {
    var canvas = document.getElementById("cohort-bars");
    canvas.parentNode.style.height = Math.max(220, data.bars.length * 26 + 60) + "px";
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.bars.map(function (b) { return b.label; }),
              datasets: [{ label: "Net value", data: data.bars.map(function (b) { return b.net_value; }),
                           backgroundColor: data.bars.map(function (b) { return b.net_value < 0 ? "#a4161a" : "#116329"; }) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false },
                 tooltip: { callbacks: { label: function (c) { return money.format(c.parsed.x); } } } },
                 scales: { x: { ticks: { callback: function (v) { return money.format(v); } } } } }
    });
  }
  function floating(id, labels, sets, height, fromZero) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    canvas.parentNode.style.height = Math.max(220, labels.length * height + 70) + "px";
    new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: sets },
      options: { indexAxis: "y", plugins: { legend: { display: sets.length > 1 },
                 tooltip: { callbacks: { label: function (c) {
                   var raw = c.raw;
                   return c.dataset.label + ": " + money.format(raw[0]) + " to " + money.format(raw[1]); } } } },
                 scales: { x: { beginAtZero: fromZero, ticks: { callback: function (v) { return money.format(v); } } },
                           y: { stacked: true } } }
    });
  }
  if (data.bands && data.bands.length) {
    floating("risk-bands", data.bands.map(function (b) { return b.label; }), [
      { label: "p5 to p50", data: data.bands.map(function (b) { return [b.p5, b.p50]; }), backgroundColor: "#9ec5fe" },
      { label: "p50 to p95", data: data.bands.map(function (b) { return [b.p50, b.p95]; }), backgroundColor: "#0b57d0" }
    ], 28, false);
  }
  if (data.tornado && data.tornado.rows.length) {
    var point = data.tornado.point;
    floating("risk-tornado", data.tornado.rows.map(function (r) { return r.label; }), [
      { label: "At its low", data: data.tornado.rows.map(function (r) { return [point, r.low]; }), backgroundColor: "#a4161a" },
      { label: "At its high", data: data.tornado.rows.map(function (r) { return [point, r.high]; }), backgroundColor: "#116329" }
    ], 34, false);
  }
  if (data.bridge) {
    floating("risk-bridge", data.bridge.map(function (s) { return s.label; }), [
      { label: "Net value", data: data.bridge.map(function (s) { return [s.start, s.end]; }),
        backgroundColor: data.bridge.map(function (s) {
          return s.kind === "level" ? "#0b57d0" : (s.end < s.start ? "#a4161a" : "#116329"); }) }
    ], 34, true);
  }
  if (data.points) {
    var labels = periods(data.points);
    line("cohort-cost", labels, [{ label: "Cost per resolved case", values: pick(data.points, "cost_per_resolved_case"), color: "#7a4b00" }], fmtMoney);
    line("cohort-rates", labels, [{ label: "Resolution rate", values: pick(data.points, "resolution_rate"), color: "#116329" },
                                   { label: "Escalation rate", values: pick(data.points, "escalation_rate"), color: "#a4161a" }], fmtPercent);
    line("cohort-net", labels, [{ label: "Net value", values: pick(data.points, "net_value"), color: "#0b57d0" }], fmtMoney);
  }
})();
