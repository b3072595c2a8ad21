// Back and Forward restore the results htmx kept for each search, but not what the box held
// (a typed value is not part of the page's HTML): put the query of the restored URL back.
document.addEventListener("htmx:historyRestore", function () {
  var box = document.getElementById("q");
  if (!box) { return; }
  box.value = new URLSearchParams(window.location.search).get("q") || "";
});
