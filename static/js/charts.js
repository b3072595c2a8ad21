// Draws every chart on the page: each <div data-chart="ID"> takes its figure from the JSON in
// <script id="ID">. Plotly (4.8 MB) is fetched only once the page is up and only if it has a
// chart, so neither the first paint nor htmx waits for it to be parsed.
(function () {
  var plotlyUrl = document.currentScript.dataset.plotly;
  function draw() {
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var source = document.getElementById(element.dataset.chart);
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      Plotly.newPlot(element, figure.data, figure.layout || {}, figure.config || {});
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("[data-chart]")) { return; }
    if (typeof Plotly !== "undefined") { draw(); return; }
    var script = document.createElement("script");
    script.src = plotlyUrl;
    script.onload = draw;
    document.head.appendChild(script);
  });
})();
