(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var table = document.getElementById("findings-table");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var vendor = document.getElementById("filter-vendor");
  var status = document.getElementById("filter-status");
  var severity = document.getElementById("filter-severity");
  var kind = document.getElementById("filter-kind");
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var noMatch = document.getElementById("no-match");

  // Filters and text search: a row stays when it matches every control.
  function apply() {
    var v = vendor.value, s = status.value, sev = severity.value, k = kind.value, q = search.value.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (row) {
      var ok = (!v || row.dataset.vendor === v) && (!s || row.dataset.status === s) &&
               (!sev || row.dataset.severity === sev) && (!k || row.dataset.kind === k) && (!q || row.textContent.toLowerCase().indexOf(q) !== -1);
      row.classList.toggle("hidden", !ok);
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " findings shown";
    noMatch.classList.toggle("hidden", n !== 0);
  }
  [vendor, status, severity, kind].forEach(function (el) { el.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  document.getElementById("reset").addEventListener("click", function () {
    vendor.value = ""; status.value = ""; severity.value = ""; kind.value = ""; search.value = "";
    apply();
  });

  // Column sort: click (or Enter) toggles ascending / descending; ties keep the report's order.
  var keys = { order: "order", severity: "severityRank", vendor: "vendor", rule: "rule", bucket: "bucket" };
  heads.forEach(function (th) {
    var field = th.dataset.sort;
    if (!field) { return; }
    function sort() {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (c) { if (c.dataset.sort) { c.setAttribute("aria-sort", "none"); } });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var key = keys[field];
      var numeric = key === "order" || key === "severityRank";
      rows.sort(function (a, b) {
        var x = a.dataset[key], y = b.dataset[key];
        var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        if (c === 0) { return Number(a.dataset.order) - Number(b.dataset.order); }
        return asc ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
    });
  });

  // Copy a remediation: the text comes from the data block, not from the page's markup.
  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function () {
      var finding = data.findings[Number(button.dataset.i)];
      copyText(finding.remediation || "").then(function () {
        button.textContent = "Copied";
        button.classList.add("done");
        setTimeout(function () { button.textContent = "Copy"; button.classList.remove("done"); }, 4000);
      }, function () {
        button.textContent = "Copy failed: select the text";
      });
    });
  });

  // A link to a finding opens the bucket (and evidence) it sits in.
  function reveal(id) {
    var target = id && document.getElementById(id);
    if (!target) { return; }
    for (var el = target; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") { el.open = true; }
    }
    target.scrollIntoView({ block: "start" });
    target.classList.add("flash");
    setTimeout(function () { target.classList.remove("flash"); }, 1600);
  }
  window.addEventListener("hashchange", function () { reveal(location.hash.slice(1)); });
  reveal(location.hash.slice(1));

  // Printing opens every bucket (the print stylesheet shows every row); a passing check stays one line and
  // evidence prints where it was opened, so the printout is about the problems and stays a few pages.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details.bucket, details.changes-group"), function (d) { d.open = true; });
  });
  apply();
}());
