// Selection for bulk actions on the runs list; everything else is plain HTML and htmx.
(function () {
  "use strict";

  function selected() {
    return document.querySelectorAll("input.run-select:checked");
  }

  // The live table refreshes only while nothing is selected, so a refresh never drops a
  // selection the user is building.
  window.outlastIdle = function () {
    return selected().length === 0 && !document.querySelector("details.dropdown[open]");
  };

  function refreshBar() {
    var n = selected().length;
    var label = document.querySelector("[data-selected-count]");
    if (label) label.textContent = n ? n + " selected" : "No runs selected";
    document.querySelectorAll("[data-needs-selection]").forEach(function (b) {
      b.disabled = n === 0;
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-all]")) {
      document.querySelectorAll("input.run-select").forEach(function (box) {
        box.checked = target.checked;
      });
    }
    refreshBar();
  });
  document.addEventListener("htmx:afterSwap", refreshBar);
  document.addEventListener("DOMContentLoaded", refreshBar);
})();
