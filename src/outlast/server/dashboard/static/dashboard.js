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

  // One dropdown (a menu or a confirmation) open at a time; a click elsewhere or Escape
  // closes it, so a confirmation left open does not hold a live page still.
  function closeDropdowns(except) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (d !== except && !d.contains(except)) d.open = false;
    });
  }
  document.addEventListener("toggle", function (event) {
    var d = event.target;
    if (d.matches && d.matches("details.dropdown") && d.open) closeDropdowns(d);
  }, true);
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("details.dropdown")) closeDropdowns(null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeDropdowns(null);
  });
  document.addEventListener("DOMContentLoaded", refreshBar);

  // A live part with data-live listens to that server-sent event stream: each "change"
  // fires its "outlast-live" htmx trigger, so the fragment is fetched again; "final"
  // does it once more and hangs up. Its slow hx-trigger poll covers a blocked stream.
  function listen() {
    var el = document.querySelector("[data-live]");
    if (!el || !window.EventSource || !window.htmx) return;
    var id = el.id;
    var source = new EventSource(el.getAttribute("data-live"));
    function current() {
      var target = document.getElementById(id);
      return target && target.hasAttribute("data-live") ? target : null;
    }
    // A request already on its way was sent before this change: htmx would queue the
    // new one on the element that request replaces, and drop it. Ask again once settled.
    var pending = false;
    function refresh() {
      var target = current();
      if (!target) return;
      if (target.classList.contains("htmx-request")) {
        pending = true;
      } else {
        window.htmx.trigger(target, "outlast-live");
      }
    }
    source.addEventListener("change", refresh);
    source.addEventListener("final", function () {
      source.close();
      refresh();
    });
    document.addEventListener("htmx:afterSettle", function () {
      if (!current()) {
        source.close();  // the run became final: nothing left to follow
      } else if (pending) {
        pending = false;
        refresh();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", listen);
})();

// trace
// The run page's span tree: ▾ collapses a span's descendants, its name opens its details.
// What is collapsed or open is kept across the live re-renders of the page.
(function () {
  "use strict";
  var collapsed = {};
  var opened = {};

  function hiddenBy(el) {
    var above = (el.getAttribute("data-ancestors") || "").split(" ");
    return above.some(function (id) { return id && collapsed[id]; });
  }

  function apply() {
    document.querySelectorAll(".trace-row").forEach(function (row) {
      var id = row.getAttribute("data-span");
      row.hidden = hiddenBy(row);
      var toggle = row.querySelector("[data-trace-toggle]");
      if (toggle) toggle.setAttribute("aria-expanded", collapsed[id] ? "false" : "true");
      var label = row.querySelector("[data-trace-details]");
      if (label) label.setAttribute("aria-expanded", opened[id] ? "true" : "false");
      row.classList.toggle("selected", !!opened[id]);
      var details = document.getElementById("details-" + id);
      if (details) details.hidden = !opened[id] || row.hidden;
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-trace-toggle], [data-trace-details]");
    if (!target) return;
    var toggle = target.getAttribute("data-trace-toggle");
    if (toggle) {
      collapsed[toggle] = !collapsed[toggle];
    } else {
      var id = target.getAttribute("data-trace-details");
      opened[id] = !opened[id];
    }
    apply();
  });
  document.addEventListener("htmx:afterSwap", apply);

  // A form (or its button) with data-confirm="message" asks before it is sent.
  if (!window.outlastConfirmHooked) {
    window.outlastConfirmHooked = true;
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var button = event.submitter;
      var message = (button && button.getAttribute("data-confirm")) ||
        (form.getAttribute && form.getAttribute("data-confirm"));
      if (message && !window.confirm(message)) event.preventDefault();
    }, true);
  }
})();
