/* report.js -- draws the html sink's page from the JSON in #pwalk-data
 * (plugins/html/README.md says what it holds).  Every name reaches the page
 * through textContent (d3's .text()) or an attribute value, never as
 * markup: a file named like an HTML tag is text.  Exact numbers are kept in
 * data-v attributes (and titles) beside the rounded ones shown. */
(function () {
  "use strict";
  var t0 = performance.now();
  var data = JSON.parse(document.getElementById("pwalk-data").textContent);
  var totalBytes = data.totals.bytes;

  function human(n) {
    if (n === null || n === undefined) return "\u2013";
    var units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], i = 0, v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return i === 0 ? String(n) + " B" : v.toFixed(v < 10 ? 2 : 1) + " " + units[i];
  }
  function count(n) {
    return n === null || n === undefined ? "\u2013" : n.toLocaleString("en-US");
  }
  function when(t) {
    if (t === null || t === undefined) return "\u2013";
    return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.000Z$/, " UTC");
  }
  function share(n) {
    return totalBytes > 0 ? (100 * n / totalBytes).toFixed(1) + " %" : "\u2013";
  }
  function day(t) { return t === null || t === undefined ? "\u2013" : when(t).slice(0, 10); }
  var FORMAT = { bytes: human, count: count, time: when, day: day, text: String, share: share };

  /* One row of cells: [key, value, format]; value kept exact in data-v. */
  function row(tbody, cells, attrs) {
    var tr = tbody.append("tr");
    Object.keys(attrs || {}).forEach(function (k) { tr.attr(k, attrs[k]); });
    cells.forEach(function (c) {
      var td = tr.append("td").attr("data-k", c[0]);
      var fmt = c[2] || "count";
      if (fmt !== "text") td.classed("n", true);
      if (c[1] !== null && c[1] !== undefined && fmt !== "text") td.attr("data-v", String(c[1]));
      if (fmt === "bytes" && c[1] !== null) td.attr("title", count(c[1]) + " bytes");
      if (fmt === "day") td.attr("title", when(c[1]));
      td.text(FORMAT[fmt](c[1]));
      if (c[3]) td.classed(c[3], true);
    });
    return tr;
  }
  function head(table, names) {
    var tr = table.select("thead").append("tr");
    names.forEach(function (n) {
      tr.append("th").classed("n", n[1] !== "text").text(n[0]);
    });
  }

  function drawFacts() {
    var f = data.facts, tb = d3.select("#facts tbody");
    var rows = [
      ["roots", f.roots.join("  "), "text"], ["hostname", f.hostname, "text"],
      ["pwalk", f.pwalk_version, "text"], ["start_time", f.start_time, "time"],
      ["end_time", f.end_time, "time"],
      ["duration", f.end_time !== null && f.start_time !== null ?
        (f.end_time - f.start_time) + " s" : null, "text"],
      ["threads", f.threads], ["ranks", f.ranks], ["sessions", f.sessions],
      ["entries", f.entries],
      ["errors", f.errors], ["filtered", f.filtered], ["files", data.totals.files],
      ["dirs", data.totals.dirs], ["bytes", data.totals.bytes, "bytes"],
      ["allocated", data.totals.allocated, "bytes"]];
    rows.forEach(function (r) {
      var tr = tb.append("tr").attr("data-k", r[0]);
      tr.append("th").text(r[0]);
      var td = tr.append("td").attr("data-k", r[0]);
      var fmt = r[2] || "count";
      if (r[1] !== null && fmt !== "text") td.attr("data-v", String(r[1]));
      td.text(r[1] === null ? "unknown" : FORMAT[fmt](r[1]));
      if (fmt === "text") td.classed("name", true);
    });
    if (data.title) d3.select("#title").text(data.title);
    document.title = (data.title || "pwalk report") + ": " + f.roots.join(" ");
    d3.select("#subtitle").text(f.roots.join("  ") + " on " + f.hostname + ", " +
                                when(f.start_time));
  }

  function drawOwners(sel, list, group) {
    var table = d3.select(sel);
    head(table, [[group ? "gid" : "uid"], [group ? "group" : "user", "text"], ["files"],
                 ["dirs"], ["bytes"], ["share"], ["allocated"]].concat(
                   group ? [] : [["newest mtime", "text"], ["oldest atime", "text"]]));
    var rows = list.slice().sort(function (a, b) { return b[4] - a[4] || a[0] - b[0]; });
    var tb = table.select("tbody");
    rows.forEach(function (o) {
      var cells = [["id", o[0]],
                   ["name", o[1] === null ? "(no account)" : o[1], "text",
                    o[1] === null ? "orphan" : "name"],
                   ["files", o[2]], ["dirs", o[3]], ["bytes", o[4], "bytes"],
                   ["share", o[4], "share"], ["allocated", o[5], "bytes"]];
      if (!group) cells.push(["newest_mtime", o[6], "day"], ["oldest_atime", o[7], "day"]);
      row(tb, cells, { "data-id": String(o[0]) });
    });
  }

  function ageLabels() {
    var b = [0].concat(data.age_days);
    return b.map(function (lo, i) {
      return i + 1 < b.length ? lo + "\u2013" + b[i + 1] + " d" : "\u2265 " + lo + " d";
    });
  }

  function drawAgeChart(labels) {
    var W = 560, H = 220, M = { l: 70, r: 10, t: 10, b: 40 };
    var svg = d3.select("#ages-chart").append("svg").attr("viewBox", [0, 0, W, H]);
    var kinds = ["mtime", "atime"], colors = { mtime: "#2f6db5", atime: "#e08a2c" };
    var x = d3.scaleBand().domain(labels).range([M.l, W - M.r]).padding(0.2);
    var x2 = d3.scaleBand().domain(kinds).range([0, x.bandwidth()]).padding(0.05);
    var max = d3.max(kinds, function (k) { return d3.max(data.ages[k], function (a) { return a[3]; }); });
    var y = d3.scaleLinear().domain([0, max || 1]).nice().range([H - M.b, M.t]);
    svg.append("g").attr("transform", "translate(0," + (H - M.b) + ")").call(d3.axisBottom(x));
    svg.append("g").attr("transform", "translate(" + M.l + ",0)")
      .call(d3.axisLeft(y).ticks(5).tickFormat(human));
    kinds.forEach(function (k) {
      svg.append("g").selectAll("rect").data(data.ages[k]).enter().append("rect")
        .attr("x", function (a, i) { return x(labels[i]) + x2(k); })
        .attr("width", x2.bandwidth())
        .attr("y", function (a) { return y(a[3]); })
        .attr("height", function (a) { return y(0) - y(a[3]); })
        .attr("fill", colors[k])
        .append("title").text(function (a, i) { return k + " " + labels[i] + ": " + human(a[3]); });
    });
    var lg = svg.append("g").attr("class", "legend").attr("transform", "translate(" + (W - 120) + ",12)");
    kinds.forEach(function (k, i) {
      lg.append("rect").attr("x", 0).attr("y", i * 16).attr("width", 10).attr("height", 10)
        .attr("fill", colors[k]);
      lg.append("text").attr("x", 14).attr("y", i * 16 + 9).text(k + " bytes");
    });
  }

  function drawAges() {
    var labels = ageLabels(), table = d3.select("#ages");
    head(table, [["age", "text"], ["mtime files"], ["mtime bytes"], ["atime files"],
                 ["atime bytes"]]);
    var tb = table.select("tbody");
    labels.forEach(function (label, i) {
      var m = data.ages.mtime[i], a = data.ages.atime[i];
      row(tb, [["age", label, "text"], ["mtime_files", m[1]], ["mtime_bytes", m[3], "bytes"],
               ["atime_files", a[1]], ["atime_bytes", a[3], "bytes"]],
          { "data-age": String(m[0]) });
    });
    drawAgeChart(labels);
  }

  function drawTop() {
    var kinds = Object.keys(data.top), sel = d3.select("#top-by");
    kinds.forEach(function (k) { sel.append("option").attr("value", k).text(k); });
    var table = d3.select("#top");
    head(table, [["#"], ["path", "text"], ["bytes"], ["files"], ["dirs"], ["stale bytes"]]);
    function fill(kind) {
      var tb = table.select("tbody");
      tb.selectAll("tr").remove();
      table.attr("data-ranked-by", kind);
      (data.top[kind] || []).forEach(function (t, i) {
        row(tb, [["rank", i + 1], ["path", t[0], "text", "path"], ["bytes", t[3], "bytes"],
                 ["files", t[1]], ["dirs", t[2]], ["stale_bytes", t[5], "bytes"]]);
      });
    }
    sel.on("change", function () { fill(this.value); });
    fill(kinds[0]);
  }

  /* The tree: each node's path, and a pseudo-child for what its listed
   * subdirectories leave out (its files, the omitted subdirectories). */
  function prepareTree(node, parentPath) {
    node.path = parentPath === null ? node.n :
      parentPath + (parentPath === "" || parentPath.slice(-1) === "/" ? "" : "/") + node.n;
    if (!node.c || !node.c.length) return;
    var sum = 0;
    node.c.forEach(function (ch) { prepareTree(ch, node.v ? "" : node.path); sum += ch.b; });
    var rest = node.b - sum;
    if (rest > 0 && !node.v)
      node.c.push({ n: node.o ? "(files here and " + node.o + " smaller directories)" :
                       "(files here)", b: rest, f: 0, d: 0, pseudo: true, path: node.path });
  }

  function drawTree() {
    var tree = data.tree;
    if (!tree.root) { d3.select("#tree-note").text("No directory was scanned."); return; }
    prepareTree(tree.root, null);
    var root = d3.hierarchy(tree.root, function (d) { return d.c; })
      .sum(function (d) { return d.c && d.c.length ? 0 : Math.max(0, d.b); });
    d3.select("#tree-note").text("Showing " + count(tree.shown) + " of " + count(tree.dirs) +
      " directories: the largest " + tree.max_children + " per directory, " + tree.max_depth +
      " levels deep, " + count(tree.max_nodes) + " at most (options max_children, max_depth, max_nodes).");
    zoom(root);
  }

  function crumbs(node) {
    var nav = d3.select("#crumbs");
    nav.selectAll("*").remove();
    node.ancestors().reverse().forEach(function (a, i, all) {
      if (i) nav.append("span").text(" \u203a ");
      var label = a.data.v ? "all roots" : a.data.n;
      if (i + 1 < all.length) nav.append("a").text(label).on("click", function () { zoom(a); });
      else nav.append("strong").attr("id", "current-path").text(label);
    });
    nav.append("span").text("  " + human(node.data.b));
  }

  function zoom(node) {
    var W = 1000, H = 520;
    var box = document.getElementById("treemap");
    if (box.clientWidth > 200) W = box.clientWidth;
    d3.select("#treemap").selectAll("*").remove();
    crumbs(node);
    var layout = d3.treemap().size([W, H]).paddingInner(2).paddingTop(function (d) {
      return d === node ? 0 : 16; }).round(true);
    layout(node);
    var color = d3.scaleOrdinal(d3.schemeTableau10);
    var svg = d3.select("#treemap").append("svg").attr("viewBox", [0, 0, W, H])
      .attr("height", H);
    var kids = node.children || [];
    var g = svg.selectAll("g.top").data(kids).enter().append("g")
      .attr("class", function (d) { return d.children && !d.data.pseudo ? "top dir" : "top"; })
      .attr("data-path", function (d) { return d.data.path; })
      .attr("data-bytes", function (d) { return String(d.data.b); })
      .attr("transform", function (d) { return "translate(" + (d.x0 - node.x0) + "," + (d.y0 - node.y0) + ")"; });
    g.append("rect").attr("class", "cell")
      .attr("width", function (d) { return Math.max(0, d.x1 - d.x0); })
      .attr("height", function (d) { return Math.max(0, d.y1 - d.y0); })
      .attr("fill", function (d, i) { return d.data.pseudo ? "#9aa3b2" : color(i); });
    g.each(function (d) { drawInner(d3.select(this), d, color); });
    g.append("title").text(function (d) {
      return d.data.path + (d.data.pseudo ? " " + d.data.n : "") + "\n" + human(d.data.b) +
        (d.data.pseudo ? "" : ", " + count(d.data.f) + " files, " + count(d.data.d) + " dirs");
    });
    g.append("text").attr("x", 4).attr("y", 12)
      .text(function (d) { return label(d, d.data.n + "  " + human(d.data.b)); });
    g.filter(function (d) { return d.children && !d.data.pseudo; })
      .on("click", function (d) { zoom(d); });
  }

  function drawInner(sel, d, color) {
    if (!d.children || d.data.pseudo) return;
    sel.selectAll("rect.inner").data(d.children).enter().append("rect").attr("class", "inner")
      .attr("x", function (c) { return c.x0 - d.x0; }).attr("y", function (c) { return c.y0 - d.y0; })
      .attr("width", function (c) { return Math.max(0, c.x1 - c.x0); })
      .attr("height", function (c) { return Math.max(0, c.y1 - c.y0); })
      .attr("fill", "#ffffff").attr("fill-opacity", function (c) { return c.data.pseudo ? 0.05 : 0.18; });
    sel.selectAll("text.inner").data(d.children.filter(function (c) {
      return c.x1 - c.x0 > 60 && c.y1 - c.y0 > 14 && !c.data.pseudo; })).enter()
      .append("text").attr("class", "size")
      .attr("x", function (c) { return c.x0 - d.x0 + 3; })
      .attr("y", function (c) { return c.y0 - d.y0 + 11; })
      .text(function (c) { return label(c, c.data.n); });
  }

  /* What fits in the cell (about 6.5 px a character). */
  function label(d, text) {
    var room = Math.floor((d.x1 - d.x0 - 8) / 6.5);
    if (d.y1 - d.y0 < 14 || room < 3) return "";
    return text.length <= room ? text : text.slice(0, Math.max(1, room - 1)) + "\u2026";
  }

  var status = d3.select("#status");
  try {
    drawFacts();
    drawTree();
    drawOwners("#users", data.users, false);
    drawOwners("#groups", data.groups, true);
    drawAges();
    drawTop();
    var ms = performance.now() - t0;
    /* renderMs: this script; loadedMs: from the navigation on (the file
     * read, d3 and the data parsed, everything drawn) */
    window.pwalkReport = { ok: true, renderMs: ms, loadedMs: performance.now(),
                           shown: data.tree.shown };
    status.text("Rendered in " + ms.toFixed(0) + " ms from a scan by pwalk " +
                (data.facts.pwalk_version || "") + ". Self-contained: no request leaves this page.");
    document.body.setAttribute("data-rendered", "1");
  } catch (e) {
    window.pwalkReport = { ok: false, error: String(e) };
    status.text("Could not draw the report: " + e);
    document.body.setAttribute("data-rendered", "error");
  }
})();
