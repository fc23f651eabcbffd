// A small Markdown renderer that builds DOM nodes (never HTML strings): fenced code blocks,
// headings, lists, quotes, rules, paragraphs; inline code, bold, italics and http(s) links.
// Images are shown as their text: the page loads nothing from another host.
import { el } from "./dom.js";

const INLINE =
  /(`+)([\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=[^\s*])([^*]*?[^\s*])\*|(?<![A-Za-z0-9])_(?=[^\s_])([^_]*?[^\s_])_(?![A-Za-z0-9])|!?\[([^\]]*)\]\(\s*(https?:\/\/[^\s)]+)\s*\)/g;

export function inline(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    if (m[1] !== undefined) out.push(el("code", { text: m[2].replace(/^ (.*) $/, "$1") }));
    else if (m[3] !== undefined || m[4] !== undefined) out.push(el("strong", {}, ...inline(m[3] ?? m[4])));
    else if (m[5] !== undefined || m[6] !== undefined) out.push(el("em", {}, ...inline(m[5] ?? m[6])));
    else if (m[0].startsWith("!")) out.push(document.createTextNode(m[7] || m[8]));
    else out.push(el("a", { href: m[8], rel: "noopener noreferrer", target: "_blank" }, ...inline(m[7] || m[8])));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function withBreaks(lines) {
  const nodes = [];
  lines.forEach((line, i) => {
    if (i) nodes.push(el("br"));
    nodes.push(...inline(line));
  });
  return nodes;
}

function codeBlock(lang, lines) {
  const code = el("code", { text: lines.join("\n") });
  if (lang) code.dataset.lang = lang;
  const copy = el("button", { type: "button", class: "copy quiet", text: "Copy" });
  copy.addEventListener("click", () => {
    navigator.clipboard?.writeText(code.textContent).then(
      () => (copy.textContent = "Copied"),
      () => (copy.textContent = "Copy failed"),
    );
  });
  const label = lang ? el("span", { class: "lang", text: lang }) : null;
  return el("div", { class: "code" }, el("div", { class: "code-bar" }, label, copy), el("pre", {}, code));
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

// Render `source` into a DocumentFragment. An unclosed fence (a stream still arriving) is shown
// as code up to the end.
export function render(source) {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const out = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if ((m = line.match(FENCE))) {
      const fence = m[1];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i += 1;
      out.append(codeBlock(m[2], body));
    } else if (!line.trim()) {
      i += 1;
    } else if ((m = line.match(HEADING))) {
      out.append(el(`h${Math.min(m[1].length + 2, 6)}`, {}, ...inline(m[2])));
      i += 1;
    } else if (RULE.test(line)) {
      out.append(el("hr"));
      i += 1;
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? NUMBERED : BULLET;
      const list = el(ordered ? "ol" : "ul");
      if (ordered) list.setAttribute("start", line.match(NUMBERED)[1]);
      let item = null;
      while (i < lines.length && lines[i].trim()) {
        const entry = lines[i].match(pattern);
        if (entry) {
          item = el("li", {}, ...inline(ordered ? entry[2] : entry[1]));
          list.append(item);
        } else if (/^\s+/.test(lines[i]) && item) {
          item.append(el("br"), ...inline(lines[i].trim()));
        } else break;
        i += 1;
      }
      out.append(list);
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(lines[i++].match(QUOTE)[1]);
      out.append(el("blockquote", {}, render(body.join("\n"))));
    } else {
      const body = [];
      while (
        i < lines.length &&
        lines[i].trim() &&
        !FENCE.test(lines[i]) &&
        !HEADING.test(lines[i]) &&
        !BULLET.test(lines[i]) &&
        !NUMBERED.test(lines[i]) &&
        !QUOTE.test(lines[i])
      )
        body.push(lines[i++]);
      if (!body.length) body.push(lines[i++]);
      out.append(el("p", {}, ...withBreaks(body)));
    }
  }
  return out;
}
