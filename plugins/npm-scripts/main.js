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
    throw new ToolError(`${args.path} is outside the workspace (${root}); path= names a folder inside it.`);
  }
  return dir;
}

// How deep, and past which folders, a missing package.json is looked for below the folder
// asked about: enough to find a repository's sub-projects, never a dependency's own.
const SEARCH_DEPTH = 2;
const SKIPPED = new Set(["node_modules", "dist", "build"]);

function foldersWithPackageJson(dir, root, depth = SEARCH_DEPTH) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith(".") || SKIPPED.has(entry.name)) continue;
    const sub = path.join(dir, entry.name);
    if (fs.existsSync(path.join(sub, "package.json"))) found.push(path.relative(root, sub));
    else if (depth > 1) found.push(...foldersWithPackageJson(sub, root, depth - 1));
  }
  return found;
}

// A folder without package.json is the usual first try (a repository's root whose Node
// project lives in a sub-folder): say which folder was read and how to name another.
function missingPackageJson(dir, args, command) {
  const root = process.env.LOGOMESH_WORKSPACE;
  const exists = fs.existsSync(dir) && fs.statSync(dir).isDirectory();
  const where = !args.path
    ? `No package.json in the workspace root (${dir}).`
    : exists ? `No package.json in ${args.path} (${dir}).` : `No folder ${args.path} in the workspace (${dir}).`;
  let found = exists ? foldersWithPackageJson(dir, root) : [];
  if (!found.length && dir !== root) found = foldersWithPackageJson(root, root);
  // The shallowest first: a repository's own sub-project before a test fixture's.
  found.sort((a, b) => a.split(path.sep).length - b.split(path.sep).length || a.localeCompare(b));
  const hint = found.length
    ? `Name a folder that has one with path=FOLDER, e.g. \`${command} path=${found[0]}\` ` +
      `(folders with a package.json: ${found.join(", ")}).`
    : "Name a folder inside the workspace that has one with path=FOLDER.";
  return new ToolError(`${where} ${hint}`);
}

function readScripts(dir, args, command) {
  const file = path.join(dir, "package.json");
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") throw missingPackageJson(dir, args, command);
    throw new ToolError(`Cannot read ${file}: ${err.message}`);
  }
  let pkg;
  try {
    pkg = JSON.parse(text);
  } catch (err) {
    throw new ToolError(`${file} is not valid JSON (${err.message}); fix it, then run ${command} again.`);
  }
  return (pkg && pkg.scripts) || {};
}

plugin.tool("scripts.list", { description: "List package.json scripts", schema: { type: "object", properties: { path: FOLDER } } },
  (args) => {
    const scripts = readScripts(packageDir(args), args, "scripts.list");
    const names = Object.keys(scripts);
    return { summary: `${names.length} scripts: ${names.join(", ") || "none"}`, scripts };
  });

plugin.tool("scripts.run", {
  description: "Run a package.json script with npm",
  schema: { type: "object", properties: { name: { type: "string" }, path: FOLDER }, required: ["name"] },
}, (args, ctx) => new Promise((resolve, reject) => {
  const dir = packageDir(args);
  const scripts = readScripts(dir, args, `scripts.run name=${args.name}`);
  // Own keys only: "constructor" is in every object, not in package.json.
  if (!Object.prototype.hasOwnProperty.call(scripts, args.name)) {
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
