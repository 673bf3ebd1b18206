/* Draws the dashboard's charts from the JSON the server put in #chart-data (vendored Chart.js). */
(function () {
  "use strict";
  var gettext = window.gettext || function (text) { return text; };  /* Django's JavaScript catalogue */
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var palette = ["#1f5fbf", "#e07a1f", "#8a8f98", "#2e9d5b", "#b3261e", "#7a4fc9", "#c9a227"];
  window.loyaltyCharts = {};
  function make(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof window.Chart !== "function") { return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    window.loyaltyCharts[id] = new window.Chart(canvas, config);
  }
  make("chart-flow", {
    type: "bar",
    data: {
      labels: data.flow.labels,
      datasets: [
        { label: gettext("Earned"), data: data.flow.earned, backgroundColor: palette[0] },
        { label: gettext("Spent"), data: data.flow.spent, backgroundColor: palette[1] },
        { label: gettext("Expired / decayed"), data: data.flow.expired, backgroundColor: palette[2] }
      ]
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: gettext("points") } } } }
  });
  make("chart-tiers", {
    type: "doughnut",
    data: { labels: data.tiers.labels, datasets: [{ data: data.tiers.values, backgroundColor: palette }] }
  });
  make("chart-segments", {
    type: "bar",
    data: { labels: data.segments.labels, datasets: [{ label: gettext("Members"), data: data.segments.values, backgroundColor: palette[3] }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } }
  });
  make("chart-nps", {
    type: "line",
    data: { labels: data.nps.labels, datasets: [{ label: "NPS", data: data.nps.values, borderColor: palette[5], backgroundColor: palette[5], tension: 0.2 }] },
    options: { scales: { y: { min: -100, max: 100 } } }
  });
  document.body.dataset.chartsReady = String(Object.keys(window.loyaltyCharts).length);
})();
