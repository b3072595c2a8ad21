// Draws every chart on the page: each <div data-chart="ID"> takes its figure from the JSON in
// <script id="ID">. Plotly (4.8 MB) is fetched only once the page is up and only if it has a
// chart, so neither the first paint nor htmx waits for it to be parsed. Plotly's styles come from
// our stylesheet (`data-plotly-css`): it may not inject a <style> (Content-Security-Policy), and
// leaves its rules out when it finds elements with these ids (the first with this class).
(function () {
  var plotlyUrl = document.currentScript.dataset.plotly;
  var plotlyCssUrl = document.currentScript.dataset.plotlyCss;
  var PLOTLY_STYLES_ID = "plotly.js-style-global";
  var MAP_STYLES_ID = "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53";
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
    if (!document.getElementById(PLOTLY_STYLES_ID)) {
      var styles = document.createElement("link");
      styles.rel = "stylesheet";
      styles.id = PLOTLY_STYLES_ID;
      styles.className = "no-inline-styles";
      styles.href = plotlyCssUrl;
      var mapStyles = document.createElement("meta");
      mapStyles.id = MAP_STYLES_ID;
      document.head.append(styles, mapStyles);
    }
    var script = document.createElement("script");
    script.src = plotlyUrl;
    script.onload = draw;
    document.head.appendChild(script);
  });
})();
