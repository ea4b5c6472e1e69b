/* kaohe: filter lists as you type, find units and rulebooks by name (works from a file share),
   and full-text search with Pagefind when the site is served over http. No external resources. */
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";

  function norm(s) { return (s || "").toLowerCase().replace(/\s+/g, ""); }

  // Filter-as-you-type: <input data-kh-filter="#list"> over [data-kh-item data-kh-text] in [data-kh-group]s.
  Array.prototype.forEach.call(document.querySelectorAll("[data-kh-filter]"), function (input) {
    var box = document.querySelector(input.getAttribute("data-kh-filter"));
    if (!box) return;
    var items = box.querySelectorAll("[data-kh-item]");
    var counter = document.querySelector("[data-kh-count]");
    input.addEventListener("input", function () {
      var q = norm(input.value), shown = 0;
      Array.prototype.forEach.call(items, function (li) {
        var hit = !q || norm(li.getAttribute("data-kh-text")).indexOf(q) >= 0;
        li.hidden = !hit;
        if (hit) shown++;
      });
      Array.prototype.forEach.call(box.querySelectorAll("[data-kh-group]"), function (g) {
        g.hidden = !g.querySelector("[data-kh-item]:not([hidden])");
      });
      if (counter) counter.textContent = q ? "找到 " + shown + " 个" : "共 " + items.length + " 个单位";
    });
  });

  // Lookup by name or former name from window.KAOHE_LOOKUP (assets/lookup.js).
  var lookup = document.querySelector("[data-kh-lookup]");
  if (lookup && window.KAOHE_LOOKUP) {
    var input = lookup.querySelector("input"), list = lookup.querySelector("ul");
    input.addEventListener("input", function () {
      var q = norm(input.value);
      list.innerHTML = "";
      if (!q) return;
      var found = 0;
      for (var i = 0; i < window.KAOHE_LOOKUP.length && found < 20; i++) {
        var e = window.KAOHE_LOOKUP[i];
        if (norm(e.n + e.f + e.i).indexOf(q) < 0) continue;
        found++;
        var li = document.createElement("li"), a = document.createElement("a"), meta = document.createElement("span");
        a.href = root + e.u;
        a.textContent = e.n;
        meta.className = "kh-meta";
        meta.textContent = " " + e.t + " · " + e.c + (e.f ? " · 曾用名:" + e.f : "");
        li.appendChild(a);
        li.appendChild(meta);
        list.appendChild(li);
      }
      if (!found) {
        var none = document.createElement("li");
        none.textContent = "没有找到“" + input.value + "”";
        list.appendChild(none);
      }
    });
  }

  // A revision's permanent pages never change; say here when a newer revision has been published.
  var rev = document.querySelector("[data-kh-revision]");
  if (rev && window.KAOHE_REVISIONS) {
    var parts = rev.getAttribute("data-kh-revision").split(":");
    var newest = window.KAOHE_REVISIONS[parts[0]];
    if (newest !== undefined && newest > Number(parts[1])) {
      rev.querySelector("[data-kh-newer]").hidden = false;
    }
  }

  // Full-text search (Pagefind) needs http(s): fetch() of its index does not work from file://.
  var pf = document.getElementById("kh-pagefind");
  if (pf) {
    if (location.protocol === "http:" || location.protocol === "https:") {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = root + "pagefind/pagefind-ui.css";
      document.head.appendChild(css);
      var s = document.createElement("script");
      s.src = root + "pagefind/pagefind-ui.js";
      s.onload = function () {
        // Pagefind stores result URLs from the site root ("/units/x/index.html"): prefix the path the
        // site is served under, so the site works from any sub-path of the intranet server.
        var base = new URL(root || "./", location.href).pathname;
        // a large site's units are indexed in several bundles (pagefind-2/, …): search them all at once
        var merge = (pf.getAttribute("data-kh-merge") || "").split(" ").filter(Boolean).map(function (b) {
          return { bundlePath: new URL(root + b, location.href).href, baseUrl: base };
        });
        /* global PagefindUI */
        new PagefindUI({ element: "#kh-pagefind", showSubResults: false, showImages: false,
                         baseUrl: base, bundlePath: new URL(root + "pagefind/", location.href).href,
                         mergeIndex: merge, resetStyles: false });
      };
      document.body.appendChild(s);
    } else {
      pf.textContent = "全文搜索需要通过网站服务器访问;从文件共享打开时,请用下面的名称查找。";
      pf.className += " kh-note";
    }
  }
})();
