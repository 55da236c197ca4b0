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

// runs list
// Keyboard: "/" focuses the search box, j/k move a highlight down/up the runs, Enter
// (or o) opens the highlighted run. The highlight follows the run id, so it survives the
// live table being swapped in again.
(function () {
  var current = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#runs-table tbody tr[data-href]"));
  }

  function mark(row) {
    rows().forEach(function (r) {
      r.classList.toggle("kbd-current", r === row);
      r.removeAttribute("aria-current");
    });
    if (!row) return;
    row.setAttribute("aria-current", "true");
    current = row.getAttribute("data-run-id");
    row.scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.findIndex(function (r) { return r.getAttribute("data-run-id") === current; });
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    mark(all[next]);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var search = document.getElementById("runs-search");
    if (!search) return;
    if (typing(event.target)) {
      if (event.key === "Escape" && event.target === search) search.blur();
      return;
    }
    if (event.key === "/") {
      event.preventDefault();
      search.focus();
      search.select();
    } else if (event.key === "j" || event.key === "ArrowDown" && current) {
      event.preventDefault();
      move(1);
    } else if (event.key === "k" || event.key === "ArrowUp" && current) {
      event.preventDefault();
      move(-1);
    } else if ((event.key === "Enter" || event.key === "o") && current) {
      var row = rows().find(function (r) { return r.getAttribute("data-run-id") === current; });
      if (row) {
        event.preventDefault();
        window.location.href = row.getAttribute("data-href");
      }
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!current) return;
    var row = rows().find(function (r) { return r.getAttribute("data-run-id") === current; });
    if (row) row.classList.add("kbd-current");
  });
})();
