// Copy buttons: <button data-copy-target="#id"> copies the text of the element with that id and
// says so in place. Loaded with <script src>, so it runs under a policy without inline scripts.
(function () {
  "use strict";

  function say(button, text) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = text;
    window.setTimeout(function () { button.textContent = original; }, 2000);
  }

  function fallbackCopy(text) {
    // Pages served over plain http (the demo) have no Clipboard API: copy from a selection.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "copy-offscreen";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    document.body.removeChild(area);
    return done;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) { return; }
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { say(button, "Copied"); },
        function () { say(button, fallbackCopy(text) ? "Copied" : "Press Ctrl+C to copy"); }
      );
    } else {
      say(button, fallbackCopy(text) ? "Copied" : "Press Ctrl+C to copy");
    }
  });
})();
