// Draws the insight charts (scores, journeys, dashboards): every <div data-insight-chart="ID">
// takes its figure from the JSON in <script id="ID">, on page load and in fragments htmx swaps in.
// A figure whose layout.meta.click is "form" submits the form named by the clicked point's
// customdata (<form data-click-key="...">); "link" follows the point's customdata as an address.
// Plotly is fetched from the local bundle only when a chart is on the page. Its styles come from
// our stylesheet (`data-plotly-css`), as in charts.js: the Content-Security-Policy refuses the
// <style> Plotly would inject, and Plotly leaves its rules out when it finds these ids.
(function () {
  var plotlyUrl = document.currentScript.dataset.plotly;
  var plotlyCssUrl = document.currentScript.dataset.plotlyCss;
  var PLOTLY_STYLES_ID = "plotly.js-style-global";
  var MAP_STYLES_ID = "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53";
  var loading = null;

  function plotlyStyles() {
    if (document.getElementById(PLOTLY_STYLES_ID)) { return; }
    var styles = document.createElement("link");
    styles.rel = "stylesheet";
    styles.id = PLOTLY_STYLES_ID;
    styles.className = "no-inline-styles";
    styles.href = plotlyCssUrl;
    var mapStyles = document.createElement("meta");
    mapStyles.id = MAP_STYLES_ID;
    document.head.append(styles, mapStyles);
  }

  function withPlotly(callback) {
    if (typeof Plotly !== "undefined") { callback(); return; }
    if (!loading) {
      loading = [];
      plotlyStyles();
      var script = document.createElement("script");
      script.src = plotlyUrl;
      script.onload = function () { loading.forEach(function (fn) { fn(); }); };
      document.head.appendChild(script);
    }
    loading.push(callback);
  }

  function clicked(element, figure, event) {
    var meta = (figure.layout || {}).meta || {};
    var point = event.points && event.points[0];
    if (!point || point.customdata === undefined || point.customdata === null) { return; }
    var key = String(point.customdata);
    if (meta.click === "link") {
      window.location.assign(key);
    } else if (meta.click === "form") {
      var scope = element.closest("[data-click-scope]") || document;
      var forms = scope.querySelectorAll("form[data-click-key]");
      for (var i = 0; i < forms.length; i++) {
        if (forms[i].dataset.clickKey === key) { forms[i].requestSubmit(); return; }
      }
    }
  }

  function draw(root) {
    var elements = (root || document).querySelectorAll("[data-insight-chart]");
    if (!elements.length) { return; }
    withPlotly(function () {
      elements.forEach(function (element) {
        if (element.dataset.drawn) { return; }
        var source = document.getElementById(element.dataset.insightChart);
        if (!source) { return; }
        var figure = JSON.parse(source.textContent);
        element.dataset.drawn = "1";
        Plotly.newPlot(element, figure.data, figure.layout || {}, figure.config || {}).then(
          function () {
            element.on("plotly_click", function (event) { clicked(element, figure, event); });
          }
        );
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
