// announcer: receives `release.drafted` events (published by the release-notes plugin,
// relayed by the host) and keeps them in announcements.jsonl in its own folder.
"use strict";
const fs = require("fs");
const { Plugin } = require("logomesh-plugin");

const plugin = new Plugin("announcer", { version: "1.0.0" });
const FILE = "announcements.jsonl"; // the working directory is the plugin's folder

plugin.on("release.drafted", (data, source) => {
  const entry = { at: new Date().toISOString(), source, commits: data.commits, draft: data.draft };
  fs.appendFileSync(FILE, JSON.stringify(entry) + "\n");
});

plugin.tool("announcements.list", {
  description: "Release drafts announced so far, newest first",
  schema: { type: "object", properties: { limit: { type: "integer" } } },
}, (args) => {
  const lines = fs.existsSync(FILE) ? fs.readFileSync(FILE, "utf8").trim().split("\n").filter(Boolean) : [];
  const items = lines.map((line) => JSON.parse(line)).reverse().slice(0, args.limit || 10);
  const summary = `${items.length} announcement${items.length === 1 ? "" : "s"}`;
  return { summary, announcements: items };
});

plugin.run();
