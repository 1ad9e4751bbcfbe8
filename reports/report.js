(function () {
  "use strict";
  var table = document.getElementById("findings-table");
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var vendor = document.getElementById("filter-vendor");
  var status = document.getElementById("filter-status");
  var severity = document.getElementById("filter-severity");
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");

  function apply() {
    var v = vendor.value, s = status.value, sev = severity.value, q = search.value.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (row) {
      var ok = (!v || row.dataset.vendor === v) && (!s || row.dataset.status === s) &&
               (!sev || row.dataset.severity === sev) && (!q || row.textContent.toLowerCase().indexOf(q) !== -1);
      row.classList.toggle("hidden", !ok);
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " findings shown";
  }
  [vendor, status, severity].forEach(function (el) { el.addEventListener("change", apply); });
  search.addEventListener("input", apply);

  var keys = { status: "rankStatus", severity: "rankSeverity", vendor: "vendor", rule: "rule", bucket: "bucket" };
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    var field = th.dataset.sort;
    if (!field) { return; }
    function sort() {
      var asc = !th.classList.contains("asc");
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      var key = keys[field];
      var numeric = key.indexOf("rank") === 0;
      rows.sort(function (a, b) {
        var x = a.dataset[key], y = b.dataset[key];
        var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
  });

  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    document.body.removeChild(area);
    return Promise.resolve();
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function () {
      var pre = button.parentNode.nextElementSibling;
      copyText(pre.textContent).then(function () {
        button.textContent = "Copied";
        button.classList.add("done");
      }, function () { button.textContent = "Copy failed: select the text"; });
    });
  });

  // Printing gives the whole evidence: every section open, every row visible.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });
  apply();
}());
