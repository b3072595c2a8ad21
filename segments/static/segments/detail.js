// The segment page: a destructive action asks first (a form with `data-confirm` says what).
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
