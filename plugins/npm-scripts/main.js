// npm-scripts: list the scripts of the workspace's package.json files and run one with npm.
// The workspace comes from LOGOMESH_WORKSPACE (set because the manifest asks for read
// access); `path` narrows to a sub-folder holding its own package.json.
"use strict";
const fs = require("fs");
const path = require("path");
const { spawn } = require("child_process");
const { Plugin, ToolError } = require("logomesh-plugin");

const plugin = new Plugin("npm-scripts", { version: "1.0.0" });
const FOLDER = { type: "string", description: "Sub-folder with a package.json (default: the root)." };

function packageDir(args) {
  const root = process.env.LOGOMESH_WORKSPACE;
  if (!root) throw new ToolError("npm-scripts needs workspace read access (permissions.workspace).");
  const dir = path.resolve(root, args.path || ".");
  if (dir !== root && !dir.startsWith(root + path.sep)) {
    throw new ToolError(`${args.path} is outside the workspace.`);
  }
  return dir;
}

function readScripts(dir) {
  const file = path.join(dir, "package.json");
  let pkg;
  try {
    pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new ToolError(`Cannot read ${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
  }
  return pkg.scripts || {};
}

plugin.tool("scripts.list", { description: "List package.json scripts", schema: { type: "object", properties: { path: FOLDER } } },
  (args) => {
    const scripts = readScripts(packageDir(args));
    const names = Object.keys(scripts);
    return { summary: `${names.length} scripts: ${names.join(", ") || "none"}`, scripts };
  });

plugin.tool("scripts.run", {
  description: "Run a package.json script with npm",
  schema: { type: "object", properties: { name: { type: "string" }, path: FOLDER }, required: ["name"] },
}, (args, ctx) => new Promise((resolve, reject) => {
  const dir = packageDir(args);
  if (!(args.name in readScripts(dir))) {
    reject(new ToolError(`package.json has no script named ${JSON.stringify(args.name)}; see scripts.list.`));
    return;
  }
  const child = spawn("npm", ["run", "--silent", args.name], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk) => { output = (output + chunk.toString()).slice(-64 * 1024); };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  ctx.signal.addEventListener("abort", () => child.kill("SIGTERM"));
  child.on("error", (err) => reject(new ToolError(`npm could not start: ${err.message}`)));
  child.on("close", (code) => {
    ctx.publish("scripts.ran", { name: args.name, exitCode: code });
    const summary = `npm run ${args.name} exited with ${code}`;
    if (code === 0) resolve({ summary, exitCode: code, output });
    else reject(new ToolError(`${summary}:\n${output.slice(-2000)}`));
  });
}));

plugin.run();
