/* Xinlian widget: the latest notices of a unit, rendered into the page that embeds this script.
 *
 *   <script src="https://HUB/widgets/latest.js?unit=SLUG&subtree=1&limit=5&theme=light&accent=%23c00" async></script>
 *
 * The list is inserted just before the script element. Data comes from /widgets/latest.json on the hub
 * (CORS *); every title, date and name is set with textContent and links only take http(s) URLs, so
 * nothing from a notice can become markup or script in the embedding page. Styles are set through
 * the CSSOM inside a shadow root: they neither leak into the page nor need its CSP to allow inline styles.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) {
    return;
  }
  var own = new URL(script.src);
  var params = own.searchParams;
  var HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  var accent = HEX.test(params.get("accent") || "") ? params.get("accent") : "#c00";
  var dark = params.get("theme") === "dark";
  var palette = dark
    ? { bg: "#1d1f21", fg: "#eee", muted: "#aaa", line: "#3a3d40" }
    : { bg: "#fff", fg: "#222", muted: "#666", line: "#e4e4e4" };

  var data = new URL("latest.json", own);
  ["unit", "subtree", "limit", "lang"].forEach(function (name) {
    if (params.has(name)) {
      data.searchParams.set(name, params.get(name));
    }
  });

  var host = document.createElement("div");
  host.className = "xinlian-widget";
  host.setAttribute("data-xinlian-widget", "");
  script.parentNode.insertBefore(host, script);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  function httpUrl(value) {
    try {
      var url = new URL(String(value), own);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function styled(tag, styles, text) {
    var node = document.createElement(tag);
    Object.keys(styles).forEach(function (key) {
      node.style[key] = styles[key];
    });
    if (text !== undefined) {
      node.textContent = String(text);
    }
    return node;
  }

  function link(href, styles, text) {
    var node = styled("a", styles, text);
    var safe = httpUrl(href);
    if (safe) {
      node.href = safe;
      node.target = "_blank";
      node.rel = "noopener noreferrer";
    }
    return node;
  }

  function render(feed) {
    var box = styled("section", {
      font: "14px/1.5 system-ui, sans-serif",
      background: palette.bg,
      color: palette.fg,
      border: "1px solid " + palette.line,
    });
    box.setAttribute("lang", String(feed.lang || ""));
    var heading = styled("h2", { fontSize: "15px", margin: "0", padding: "8px 12px", borderBottom: "2px solid " + accent });
    heading.appendChild(link(feed.more_url, { color: "inherit", textDecoration: "none" }, feed.title));
    box.appendChild(heading);
    var list = styled("ul", { listStyle: "none", margin: "0", padding: "0 12px" });
    (Array.isArray(feed.items) ? feed.items : []).forEach(function (item) {
      var row = styled("li", {
        display: "flex",
        justifyContent: "space-between",
        gap: "8px",
        padding: "6px 0",
        borderBottom: "1px solid " + palette.line,
      });
      row.appendChild(link(item.url, { color: palette.fg, textDecoration: "none" }, item.title));
      row.appendChild(styled("time", { color: palette.muted, fontSize: "12px", whiteSpace: "nowrap" }, item.date));
      list.appendChild(row);
    });
    box.appendChild(list);
    var more = (feed.more_label ? String(feed.more_label) + " " : "") + "»";
    box.appendChild(link(feed.more_url, { display: "block", padding: "6px 12px", color: accent }, more));
    root.appendChild(box);
  }

  fetch(data.href, { credentials: "omit" })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    })
    .then(render)
    .catch(function (error) {
      host.setAttribute("data-error", String(error && error.message));
    });
})();
