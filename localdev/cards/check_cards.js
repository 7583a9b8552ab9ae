// Parse Adaptive Cards with Microsoft's library (npm `adaptivecards`) and render their markdown the
// way that library does (markdown-it with its default options), reporting what a client would see.
//
// stdin: a JSON array of Workflows webhook bodies ({"type": "message", "attachments": [...]}).
// stdout: a JSON array, one entry per body: {"version", "events": [...], "links": [...]}, where
// events are the library's parse and validation events at the schema version the card declares,
// and links are the href of every <a> that a TextBlock's or a fact's markdown renders to.
"use strict";
const AC = require("adaptivecards/dist/adaptivecards.js");
const MarkdownIt = require("markdown-it");

const md = MarkdownIt(); // what AdaptiveCard.applyMarkdown uses: markdownit().render(text)

function versionOf(text) {
  const v = AC.Versions["v" + String(text || "").replace(".", "_")];
  if (!v) throw new Error("unknown Adaptive Card version " + text);
  return v;
}

function linksIn(text) {
  const html = md.render(String(text));
  const out = [];
  const re = /<a href="([^"]*)"/g;
  let m;
  while ((m = re.exec(html)) !== null) out.push(m[1]);
  return out;
}

function walk(node, links) {
  if (Array.isArray(node)) return node.forEach((n) => walk(n, links));
  if (!node || typeof node !== "object") return;
  if (node.type === "TextBlock" && typeof node.text === "string") links.push(...linksIn(node.text));
  if (node.type === "FactSet" && Array.isArray(node.facts)) {
    for (const f of node.facts) links.push(...linksIn(f.title), ...linksIn(f.value));
  }
  for (const [k, v] of Object.entries(node)) if (k !== "facts") walk(v, links);
}

function check(body) {
  const content = body.attachments[0].content;
  const ctx = new AC.SerializationContext(versionOf(content.version));
  const card = new AC.AdaptiveCard();
  card.parse(content, ctx);
  const events = [];
  for (let i = 0; i < ctx.eventCount; i++) events.push(ctx.getEventAt(i).message);
  for (const e of card.validateProperties().validationEvents) events.push(e.message);
  const links = [];
  walk(content.body, links);
  return { version: content.version, events, links };
}

let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const bodies = JSON.parse(input);
  process.stdout.write(JSON.stringify(bodies.map(check)));
});
