// The segment builder: keep what a person types while the server redraws the builder.
//
// Changing a field or an operator asks the server for a new builder (the inputs a condition
// needs depend on its field's type), and the answer replaces the whole form. Whatever was typed
// into the builder while that request was in flight would be overwritten by the new HTML, so it
// is remembered here and written back into the redrawn input of the same name, with the focus
// and the caret where they were. Only redraws started by a field or operator change are
// restored: adding or removing a condition renames the inputs after it.
(function () {
  "use strict";

  let typed = null; // name -> value, typed during a redraw; null when none is in flight
  let focused = null; // {name, start, end} of the input that had the focus at swap time
  let replaced = null; // the builder element a redraw is replacing

  function isBuilderRedraw(detail) {
    const target = detail.target;
    return target && target.id === "builder" && detail.elt && detail.elt.hasAttribute("data-redraws");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isBuilderRedraw(event.detail)) {
      typed = {};
    }
  });

  document.addEventListener("input", function (event) {
    const input = event.target;
    if (typed !== null && input.name && input.closest("#builder")) {
      typed[input.name] = input.value;
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    // Only the redraw's own answer targets the builder while `typed` is being kept.
    const target = event.detail.target;
    if (typed === null || !target || target.id !== "builder") {
      return;
    }
    replaced = target;
    const active = document.activeElement;
    focused = null;
    if (active && active.name && active.closest("#builder")) {
      focused = { name: active.name, start: active.selectionStart, end: active.selectionEnd };
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    // Other swaps (the live count) settle too; act once the redrawn builder is in place.
    const builder = document.getElementById("builder");
    if (typed === null || replaced === null || !builder || builder === replaced) {
      return;
    }
    const values = typed;
    typed = null;
    replaced = null;
    Object.keys(values).forEach(function (name) {
      const input = builder.querySelector('[name="' + CSS.escape(name) + '"]');
      if (input && input.value !== values[name]) {
        input.value = values[name];
        // The live count follows the restored value as it would have followed the typing.
        input.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
    if (focused) {
      const input = builder.querySelector('[name="' + CSS.escape(focused.name) + '"]');
      if (input) {
        input.focus();
        if (typeof focused.start === "number" && input.setSelectionRange) {
          try {
            input.setSelectionRange(focused.start, focused.end);
          } catch (error) {
            // Inputs of type number or date have no caret to restore.
          }
        }
      }
      focused = null;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // A failed redraw swaps nothing: the typed values are still in their inputs.
    const target = event.detail.target;
    if (typed !== null && target && target.id === "builder" && !event.detail.successful) {
      typed = null;
      replaced = null;
    }
  });
})();
