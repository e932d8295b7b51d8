// Renders the formulas that pymdownx.arithmatex (generic mode) leaves in the page, offline, with
// the KaTeX bundled in docs/assets/katex (no CDN). arithmatex wraps inline maths as
// <span class="arithmatex">\(...\)</span> and display maths as <div class="arithmatex">\[...\]</div>.
(function () {
  "use strict";

  function render(root) {
    root.querySelectorAll(".arithmatex").forEach(function (element) {
      var tex = element.textContent.trim();
      var display = element.tagName === "DIV";
      var open = display ? "\\[" : "\\(";
      var close = display ? "\\]" : "\\)";
      if (tex.startsWith(open) && tex.endsWith(close)) {
        tex = tex.slice(open.length, tex.length - close.length);
      }
      katex.render(tex, element, { displayMode: display, throwOnError: false });
    });
  }

  if (typeof document$ !== "undefined") {
    // mkdocs-material: runs on the first load and after each instant navigation.
    document$.subscribe(function () { render(document.body); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { render(document.body); });
  }
})();
