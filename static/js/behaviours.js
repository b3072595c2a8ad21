// Page behaviours that would otherwise be inline handlers, which the Content-Security-Policy
// forbids: a button with `data-print` prints the page; a form with `data-confirm="Question?"`
// is sent only once the person confirms.
(function () {
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) { window.print(); }
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
