// Example LogoMesh plugin on the Node helper; driven by tests/plugins/test_node_helper.py.
// The host (or the test) sets NODE_PATH to logomesh/plugins/sdk/node.
"use strict";
const { Plugin, ToolError } = require("logomesh-plugin");

const plugin = new Plugin("echo", { version: "1.2.3" });
const obj = (properties) => ({ type: "object", properties });

plugin.tool("echo.text", { description: "Echo text", schema: obj({ text: { type: "string" } }) }, (args) => {
  console.log("this goes to stderr, not stdout");
  return args.text;
});
plugin.tool("echo.data", { description: "Echo the arguments as data" }, async (args) => ({ echo: args }));
plugin.tool("echo.list", { description: "An array result" }, () => [1, "two", { three: 3 }]);
plugin.tool("echo.nothing", { description: "Returns undefined" }, () => undefined);
plugin.tool("echo.fail", { description: "Throws a ToolError" }, (args) => {
  throw new ToolError(args.message || "it failed");
});
plugin.tool("echo.crash", { description: "Throws an Error" }, async () => {
  await null;
  throw new Error("boom");
});
plugin.tool("echo.progress", { description: "Reports progress" }, async (args, ctx) => {
  const steps = args.steps || 3;
  for (let i = 1; i <= steps; i++) {
    ctx.progress(i, { total: steps, message: `step ${i}` });
    await new Promise((resolve) => setImmediate(resolve));
  }
  return `did ${steps} steps`;
});
plugin.tool("echo.wait", { description: "Waits until cancelled" }, async (args, ctx) => {
  ctx.publish("echo.waiting", { id: ctx.requestId });
  await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
  ctx.publish("echo.cancelled", { cancelled: ctx.cancelled, reason: ctx.signal.reason });
  return "stopped";
});
plugin.tool("echo.sleep", { description: "Sleeps, ignoring cancellation" }, async (args) => {
  Promise.reject(new Error("a promise nobody awaits")); // logged, not fatal
  await new Promise((resolve) => setTimeout(resolve, (args.seconds || 10) * 1000));
  return "slept";
});
plugin.tool("echo.call", { description: "Runs a command through the host" }, async (args, ctx) => {
  const result = await ctx.call(args.command, args.arguments, { timeout: args.timeout });
  return { got: result };
});
plugin.tool("echo.sample", { description: "Asks the host's model" }, async (args, ctx) => {
  const text = await ctx.sample(args.prompt, { maxTokens: 16, system: "be brief", temperature: 0 });
  return `model said: ${text}`;
});
plugin.tool("echo.log", { description: "Logs" }, (args, ctx) => {
  ctx.log(args.level || "info", args.text);
  return "logged";
});
plugin.tool("echo.grow", { description: "Registers echo.extra" }, () => {
  plugin.tool("echo.extra", { description: "Added at run time" }, () => "extra");
  plugin.notifyToolsChanged();
  return "grown";
});

plugin.on("build.finished", (data, source) => {
  plugin.publish("echo.seen", { data, source });
});
// Handlers may be async and use the host too; the next event waits for this one.
plugin.on("ask.host", async (data) => {
  const answer = await plugin.call("host.answer", data);
  plugin.publish("echo.answered", answer);
});

plugin.run();
