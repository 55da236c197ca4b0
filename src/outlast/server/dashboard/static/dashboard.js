// Selection for bulk actions on the runs list, confirmations, times in the viewer's zone,
// and forms that stop applying on a live run page; everything else is plain HTML and htmx.
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

  // A destructive action asks first: a form, the button that submits it, or any element
  // htmx acts from, carrying data-confirm="question". Both listeners run in the capture
  // phase, before htmx's own, so "Cancel" stops a plain form and an htmx request alike.
  function refused(el) {
    var question = el && el.getAttribute("data-confirm");
    return Boolean(question) && !window.confirm(question);
  }
  function stop(event) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var asker = button && button.hasAttribute("data-confirm") ? button : event.target;
    if (refused(asker)) stop(event);
  }, true);
  function htmxActor(el) {
    return ["hx-post", "hx-put", "hx-patch", "hx-delete"].some(function (name) {
      return el.hasAttribute(name);
    });
  }
  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("[data-confirm]");
    if (!el || el.tagName === "FORM") return;
    if (el.form && el.type === "submit" && !htmxActor(el)) return;  // asked on submit
    if (refused(el)) stop(event);
  }, true);

  // <time datetime="…Z" data-format="full|clock|precise"> comes from the server in UTC
  // (what a reader without JavaScript sees); here it is rewritten in the viewer's zone,
  // after every live refresh too. Its title keeps the UTC time for hovering.
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                "Nov", "Dec"];
  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }
  function zoneName(date) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, {timeZoneName: "short"})
        .formatToParts(date);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") return parts[i].value;
      }
    } catch (e) { /* an old browser: the time alone */ }
    return "";
  }
  function localText(date, style) {
    var hm = two(date.getHours()) + ":" + two(date.getMinutes());
    var hms = hm + ":" + two(date.getSeconds());
    if (style === "precise") return hms + "." + ("00" + date.getMilliseconds()).slice(-3);
    if (style === "clock") {
      if (Math.abs(Date.now() - date.getTime()) < 20 * 3600 * 1000) return hms;
      return MONTHS[date.getMonth()] + " " + date.getDate() + ", " + hm;
    }
    var day = date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate());
    return (day + " " + hms + " " + zoneName(date)).trim();
  }
  function localizeTimes() {
    document.querySelectorAll("time[datetime][data-format]").forEach(function (el) {
      var style = el.getAttribute("data-format");
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime()) || ["full", "clock", "precise"].indexOf(style) < 0) return;
      el.textContent = localText(date, style);
    });
  }

  // A run page's forms outside its live part (Reschedule) say which statuses they fit
  // (data-while-status="DELAYED QUEUED"); once the live part reports another status they
  // hide, so nobody submits a form the run has outgrown.
  function fitForms() {
    var live = document.querySelector("#run-live[data-run-status]");
    if (!live) return;
    var status = live.getAttribute("data-run-status");
    document.querySelectorAll("[data-while-status]").forEach(function (el) {
      el.hidden = el.getAttribute("data-while-status").split(" ").indexOf(status) < 0;
    });
  }

  // On a narrow screen the nav is one row that scrolls sideways: show the current page.
  function showCurrentPage() {
    var nav = document.querySelector(".sidebar nav");
    var link = nav && nav.querySelector("[aria-current=page]");
    if (!link || nav.scrollWidth <= nav.clientWidth) return;
    var offset = link.getBoundingClientRect().left - nav.getBoundingClientRect().left;
    nav.scrollLeft += offset - (nav.clientWidth - link.offsetWidth) / 2;
  }

  function refreshPage() {
    localizeTimes();
    fitForms();
  }
  document.addEventListener("DOMContentLoaded", refreshPage);
  document.addEventListener("DOMContentLoaded", showCurrentPage);
  document.addEventListener("htmx:afterSettle", refreshPage);

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

// A select marked data-autosubmit applies its form as soon as it changes (the Errors
// page's task filter); without JavaScript the form's own button does it.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});

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

})();
