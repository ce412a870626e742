/**
 * logomesh-plugin.js: the whole Node.js helper for writing a LogoMesh plugin.
 *
 * Why this file exists: a LogoMesh plugin is an MCP server on stdio (see
 * docs/plugin-protocol.md). The official MCP SDKs could serve one, but they pull in
 * dozens of packages, a schema library and an HTTP stack, cost hundreds of milliseconds
 * to load and tens of megabytes per process. A workspace runs twenty plugins at once;
 * twenty copies of that cannot be afforded. The part of MCP a plugin needs (newline-
 * delimited JSON-RPC 2.0, the handshake, tools, progress, cancellation, logging,
 * sampling) plus the `logomesh/` extension fits in this one CommonJS file: plain Node,
 * no npm dependencies, no build step. It requires no module itself (only Node's own
 * stdio streams), so a plugin is ready in about the time Node itself takes to start.
 * The Python helper mirrors this API name for name.
 *
 * Example (a complete plugin; the host sets NODE_PATH to this directory, or require it
 * by a relative path):
 *
 *   const { Plugin, ToolError } = require("logomesh-plugin");
 *   const plugin = new Plugin("scripts", { version: "1.0.0" });
 *   plugin.tool("scripts.list", { description: "List package.json scripts",
 *     schema: { type: "object", properties: { path: { type: "string" } } } },
 *     async (args, ctx) => {            // ctx: progress, log, call, sample, publish, signal
 *       const pkg = JSON.parse(require("fs").readFileSync(args.path || "package.json", "utf8"));
 *       if (!pkg.scripts) throw new ToolError("package.json has no scripts");
 *       return pkg.scripts;                // an object: structuredContent + its JSON as text
 *     });
 *   plugin.run();
 *
 * Rules the helper keeps: stdout carries protocol messages only (console.log, info,
 * debug and dir go to stderr from the moment this file loads); stderr is the plugin's
 * log. Tool calls run concurrently, so cancellations and the host's answers to ctx.call /
 * ctx.sample are read while a tool awaits. A call the host cancels gets no response (as
 * MCP asks). Event handlers run one at a time, in arrival order; plugin.call/sample serve
 * them. When stdin ends, running calls see ctx.cancelled, get up to 1 s to finish (their
 * results are still written), and the process exits 0.
 *
 * Cost (Node 20, measured): loading this file takes about 1 ms, opening stdin/stdout
 * about 5 ms (Node loads `net` for pipes); the rest of a ~30 ms cold start is Node's own.
 * NODE_EXTRA_CA_CERTS in the environment makes Node parse every certificate at start
 * (+50 ms, +1 MiB per process): launch plugins without it. An idle plugin holds about
 * 6 MiB of private memory; the other ~33 MiB of its RSS is the node binary, shared by
 * every plugin. V8 flags change neither (within 1 MiB), but after a burst of work V8
 * keeps its young generation grown: ~50 MiB private instead of 6. `node
 * --max-semi-space-size=1 main.js` keeps that near 25 MiB at a 15-20% cost on
 * allocation-heavy calls.
 */

"use strict";

// Nothing but the protocol may reach stdout: route console output meant for stdout to
// stderr before any plugin code runs (console.table/count/time* go through console.log).
console.log = console.info = console.debug = console.error;
console.dir = (obj, options) => console.error(require("util").inspect(obj, options));

const PROTOCOL_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const LATEST_PROTOCOL_VERSION = "2025-11-25";
const STRUCTURED_SINCE = "2025-06-18"; // structuredContent exists from this version on
const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const INTERNAL_ERROR = -32603;
const REQUEST_CANCELLED = -32800;

/** How long in-flight tools and event handlers may finish after stdin ends (the host
 * waits plugins.stop_grace_s, 2 s by default, before SIGTERM). */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * A failure to show to the user. Thrown by a tool, it becomes a result with
 * `isError: true` and this message. ctx.call / ctx.sample reject with one when the host
 * answers with a JSON-RPC error (`code` and `data` are then that error's), on timeout
 * and on cancellation (code -32800).
 */
class ToolError extends Error {
  /**
   * @param {string} message
   * @param {{code?: number, data?: unknown}} [options]
   */
  constructor(message, options) {
    super(message);
    this.name = "ToolError";
    /** @type {number | undefined} */
    this.code = options ? options.code : undefined;
    /** @type {unknown} */
    this.data = options ? options.data : undefined;
  }
}

/**
 * @typedef {Object} ToolOptions
 * @property {string} [description]
 * @property {Object} [schema]        JSON Schema of the arguments (MCP's inputSchema);
 *                                    default {type: "object"}
 * @property {string} [title]         passed through to tools/list
 * @property {Object} [annotations]   passed through (MCP tool annotations)
 * @property {Object} [outputSchema]  passed through; MCP clients check structuredContent by it
 */

/**
 * @callback ToolHandler
 * @param {Record<string, any>} args  the call's arguments ({} when none were sent)
 * @param {Context} ctx
 * @returns {unknown}  or a Promise of it. A string is one text item; a plain object is
 *   structuredContent plus its JSON as a text item; an array (or another JSON value) is
 *   its JSON as one text item, which the host parses into the command's data (MCP allows
 *   only an object as structuredContent); undefined or null is an empty text item.
 */

/**
 * @callback EventHandler
 * @param {any} data      the event's data ({} when it had none)
 * @param {string} source the publishing plugin's name
 * @returns {unknown}     a Promise is awaited before the next event is delivered
 */

/**
 * @typedef {Object} SampleOptions
 * @property {number} [maxTokens]        default 512
 * @property {string} [system]           MCP's systemPrompt
 * @property {number} [temperature]
 * @property {Object} [modelPreferences] passed through
 * @property {number} [timeout]          seconds; none by default
 */

/** What a running tool can do besides returning: progress, logs, calls, sampling, events. */
class Context {
  /**
   * @param {Plugin} plugin
   * @param {string|number} requestId
   * @param {string} tool
   * @param {string|number|undefined} progressToken
   */
  constructor(plugin, requestId, tool, progressToken) {
    /** @type {Plugin} */
    this.plugin = plugin;
    /** The JSON-RPC id of the tools/call request. @type {string|number} */
    this.requestId = requestId;
    /** The tool's name. @type {string} */
    this.tool = tool;
    /** @type {string|number|undefined} */
    this.progressToken = progressToken;
    this._controller = new AbortController();
    this._silenced = false; // cancelled by the host: MCP wants no response then
    this._done = false; // answered: later progress is dropped
  }

  /** Aborted when the host cancels this call (reason: the host's reason) or stdin ends. */
  get signal() {
    return this._controller.signal;
  }

  /** True once the host cancelled this call (or closed the connection): stop soon. */
  get cancelled() {
    return this._controller.signal.aborted;
  }

  /**
   * Report progress (notifications/progress); a no-op when the caller asked for none
   * (no progressToken) or the call has been answered.
   * @param {number} progress
   * @param {{total?: number, message?: string}} [options]
   */
  progress(progress, options) {
    if (this.progressToken === undefined || this.progressToken === null || this._done) return;
    /** @type {Record<string, unknown>} */
    const params = { progressToken: this.progressToken, progress };
    if (options && options.total !== undefined) params.total = options.total;
    if (options && options.message !== undefined) params.message = options.message;
    this.plugin._notify("notifications/progress", params);
  }

  /**
   * Write to the host's log (notifications/message).
   * @param {string} level  an MCP level: debug, info, notice, warning, error, critical, ...
   * @param {unknown} data  usually a string
   * @param {{logger?: string}} [options]
   */
  log(level, data, options) {
    this.plugin.log(level, data, options);
  }

  /**
   * Publish a LogoMesh event (logomesh/publish); the manifest must allow it.
   * @param {string} event
   * @param {unknown} [data]
   */
  publish(event, data) {
    this.plugin.publish(event, data);
  }

  /**
   * Run a LogoMesh command through the host (logomesh/call): resolves with
   * `{ok, outcome, data, message, error}`; rejects with ToolError on a JSON-RPC error
   * (e.g. -32001 permission denied), on timeout, when this call is cancelled (the host is
   * then told to drop the request) or when the host goes away.
   * @param {string} command
   * @param {Record<string, unknown>} [args]
   * @param {{timeout?: number}} [options]  timeout in seconds
   * @returns {Promise<any>}
   */
  call(command, args, options) {
    return this.plugin._call(command, args, options, this);
  }

  /**
   * Ask the host's model (sampling/createMessage); resolves with the answer's text.
   * Rejects like call().
   * @param {string} prompt
   * @param {SampleOptions} [options]
   * @returns {Promise<string>}
   */
  sample(prompt, options) {
    return this.plugin._sample(prompt, options, this);
  }
}

/** One plugin: register tools and event handlers, then run(). */
class Plugin {
  /**
   * @param {string} name  the plugin's name (serverInfo.name, the default logger)
   * @param {{version?: string}} [options]
   */
  constructor(name, options) {
    /** @type {string} */
    this.name = name;
    /** @type {string} */
    this.version = (options && options.version) || "0.0.0";
    /** The negotiated protocol version (undefined before the handshake). @type {string | undefined} */
    this.protocolVersion = undefined;
    /** What the host sent in initialize. @type {Record<string, any> | undefined} */
    this.clientInfo = undefined;
    /** @type {Record<string, any>} */
    this.clientCapabilities = {};
    /** @type {Map<string, {spec: Record<string, unknown>, handler: ToolHandler}>} */
    this._tools = new Map();
    /** @type {Map<string, EventHandler[]>} */
    this._handlers = new Map();
    /** @type {Map<string|number, Context>} running tools/call by request id */
    this._inflight = new Map();
    /** @type {Map<number, {settle: (error: any, result?: any) => void}>} our requests to the host */
    this._pending = new Map();
    this._nextId = 1;
    /** @type {Promise<void>} event handlers run one at a time, in arrival order */
    this._eventChain = Promise.resolve();
    this._eventsQueued = 0;
    this._running = false;
    this._closed = false;
  }

  // ---- registration --------------------------------------------------------------

  /**
   * Serve `handler(args, ctx)` as the tool (LogoMesh command) `name`. After the
   * handshake, follow with notifyToolsChanged().
   * @param {string} name
   * @param {ToolOptions | ToolHandler} options  or the handler, when there are no options
   * @param {ToolHandler} [handler]
   * @returns {this}
   */
  tool(name, options, handler) {
    if (typeof options === "function") {
      handler = options;
      options = {};
    }
    const opts = options || {};
    if (typeof name !== "string" || !name) throw new TypeError("a tool needs a non-empty name");
    if (typeof handler !== "function") throw new TypeError(`tool ${name}: the handler must be a function`);
    const schema = opts.schema || { type: "object" };
    if (typeof schema !== "object" || /** @type {any} */ (schema).type !== "object") {
      throw new TypeError(`tool ${name}: the input schema must be a JSON object schema`);
    }
    if (this._tools.has(name)) throw new Error(`tool ${name} is already registered`);
    /** @type {Record<string, unknown>} */
    const spec = { name, description: opts.description || "", inputSchema: schema };
    if (opts.title !== undefined) spec.title = opts.title;
    if (opts.annotations !== undefined) spec.annotations = opts.annotations;
    if (opts.outputSchema !== undefined) spec.outputSchema = opts.outputSchema;
    this._tools.set(name, { spec, handler });
    return this;
  }

  /**
   * Stop serving a tool (true if it existed); then notifyToolsChanged().
   * @param {string} name
   * @returns {boolean}
   */
  removeTool(name) {
    return this._tools.delete(name);
  }

  /**
   * Call `handler(data, source)` for each logomesh/event of this name (the manifest must
   * subscribe to it). Handlers run one at a time, in arrival order; a failing handler is
   * logged to stderr.
   * @param {string} event
   * @param {EventHandler} handler
   * @returns {this}
   */
  on(event, handler) {
    if (typeof handler !== "function") throw new TypeError(`event ${event}: the handler must be a function`);
    const list = this._handlers.get(event);
    if (list) list.push(handler);
    else this._handlers.set(event, [handler]);
    return this;
  }

  // ---- plugin -> host --------------------------------------------------------------

  /**
   * Publish a LogoMesh event (logomesh/publish); the manifest must list it.
   * @param {string} event
   * @param {unknown} [data]
   */
  publish(event, data) {
    this._notify("logomesh/publish", { event, data: data === undefined || data === null ? {} : data });
  }

  /**
   * Write to the host's log (notifications/message), kept under logomesh.plugins.<name>.
   * @param {string} level  an MCP level: debug, info, notice, warning, error, critical, ...
   * @param {unknown} data
   * @param {{logger?: string}} [options]
   */
  log(level, data, options) {
    if (!LOG_LEVELS.includes(level)) {
      throw new TypeError(`unknown log level ${JSON.stringify(level)}; use one of ${LOG_LEVELS.join(", ")}`);
    }
    const logger = (options && options.logger) || this.name;
    this._notify("notifications/message", { level, logger, data });
  }

  /** Tell the host to list the tools again (a no-op before the handshake). */
  notifyToolsChanged() {
    if (this.protocolVersion !== undefined) this._notify("notifications/tools/list_changed");
  }

  /**
   * ctx.call for code outside a tool (event handlers, timers).
   * @param {string} command
   * @param {Record<string, unknown>} [args]
   * @param {{timeout?: number}} [options]
   * @returns {Promise<any>}
   */
  call(command, args, options) {
    return this._call(command, args, options, undefined);
  }

  /**
   * ctx.sample for code outside a tool (event handlers, timers).
   * @param {string} prompt
   * @param {SampleOptions} [options]
   * @returns {Promise<string>}
   */
  sample(prompt, options) {
    return this._sample(prompt, options, undefined);
  }

  // ---- serving ---------------------------------------------------------------------

  /** Serve on stdin/stdout until stdin ends; let in-flight work finish briefly; exit 0. */
  run() {
    if (this._running) throw new Error("run() was called twice");
    this._running = true;
    const stdin = process.stdin;
    process.stdout.on("error", () => process.exit(0)); // the host is gone (EPIPE)
    // A promise a tool forgot to await must not take the plugin down (Node's default).
    process.on("unhandledRejection", (reason) => {
      console.error(`[${this.name}] unhandled rejection:`, reason);
    });
    stdin.setEncoding("utf8"); // decodes characters split across chunks
    /** @type {string[]} */
    let partial = []; // pieces of the line not yet ended by "\n"
    stdin.on("data", (/** @type {string} */ chunk) => {
      let start = 0;
      let nl = chunk.indexOf("\n");
      while (nl !== -1) {
        let line = chunk.slice(start, nl);
        if (partial.length) {
          partial.push(line);
          line = partial.join("");
          partial = [];
        }
        this._receive(line);
        start = nl + 1;
        nl = chunk.indexOf("\n", start);
      }
      if (start < chunk.length) partial.push(chunk.slice(start));
    });
    stdin.on("end", () => {
      if (partial.length) this._receive(partial.join(""));
      this._shutdown();
    });
    stdin.on("error", () => this._shutdown());
  }

  // ---- incoming --------------------------------------------------------------------

  /** @param {string} line */
  _receive(line) {
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1); // "\r\n"
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (err) {
      this._sendError(null, PARSE_ERROR, `Parse error: ${/** @type {Error} */ (err).message}`);
      return;
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      this._sendError(null, INVALID_REQUEST, "Invalid Request: expected one JSON object");
      return;
    }
    const method = msg.method;
    if (method === undefined && ("result" in msg || "error" in msg)) {
      this._onResponse(msg);
      return;
    }
    const id = msg.id;
    if (id !== undefined && typeof id !== "string" && typeof id !== "number") {
      this._sendError(null, INVALID_REQUEST, "Invalid Request: bad id");
      return;
    }
    if (typeof method !== "string") {
      this._sendError(id === undefined ? null : id, INVALID_REQUEST, "Invalid Request: no method");
      return;
    }
    const params = msg.params;
    const isObject = params !== null && typeof params === "object" && !Array.isArray(params);
    try {
      if (id === undefined) {
        this._onNotification(method, isObject ? params : {});
      } else if (params !== undefined && params !== null && !isObject) {
        this._sendError(id, INVALID_PARAMS, "Invalid params: expected an object");
      } else {
        this._onRequest(id, method, isObject ? params : {});
      }
    } catch (err) {
      console.error(`[${this.name}] handling ${method} failed:`, err);
      const text = err instanceof Error ? err.message : String(err);
      if (id !== undefined) this._sendError(id, INTERNAL_ERROR, `Internal error: ${text}`);
    }
  }

  /**
   * @param {string|number} id
   * @param {string} method
   * @param {Record<string, any>} params
   */
  _onRequest(id, method, params) {
    switch (method) {
      case "tools/call":
        this._callTool(id, params);
        return;
      case "ping":
        this._sendResult(id, {});
        return;
      case "tools/list":
        this._sendResult(id, { tools: Array.from(this._tools.values(), (t) => t.spec) });
        return;
      case "initialize": {
        const offered = params.protocolVersion;
        this.protocolVersion = PROTOCOL_VERSIONS.includes(offered) ? offered : LATEST_PROTOCOL_VERSION;
        const { clientInfo, capabilities } = params;
        this.clientInfo = clientInfo && typeof clientInfo === "object" ? clientInfo : undefined;
        this.clientCapabilities = capabilities && typeof capabilities === "object" ? capabilities : {};
        this._sendResult(id, {
          protocolVersion: this.protocolVersion,
          capabilities: { tools: { listChanged: true }, experimental: { logomesh: { version: 1 } } },
          serverInfo: { name: this.name, version: this.version },
        });
        return;
      }
      default:
        this._sendError(id, METHOD_NOT_FOUND, `Method not found: ${method}`);
    }
  }

  /**
   * @param {string} method
   * @param {Record<string, any>} params
   */
  _onNotification(method, params) {
    if (method === "notifications/cancelled") {
      const ctx = this._inflight.get(params.requestId);
      if (ctx && !ctx.cancelled) {
        ctx._silenced = true;
        ctx._controller.abort(params.reason ? String(params.reason) : "cancelled by the host");
      }
    } else if (method === "logomesh/event") {
      const handlers = typeof params.event === "string" ? this._handlers.get(params.event) : undefined;
      if (handlers) {
        const data = params.data === undefined || params.data === null ? {} : params.data;
        this._deliver(handlers.slice(), params.event, data, String(params.source || ""));
      }
    }
    // notifications/initialized and anything unknown: nothing to do
  }

  /** @param {Record<string, any>} msg */
  _onResponse(msg) {
    const pending = typeof msg.id === "number" ? this._pending.get(msg.id) : undefined;
    if (!pending) {
      console.error(`[${this.name}] ignoring a response to unknown request ${JSON.stringify(msg.id)}`);
      return;
    }
    if (msg.error) {
      const e = msg.error;
      const message = String(e.message || "the host answered with an error");
      pending.settle(new ToolError(message, { code: e.code, data: e.data }));
    } else {
      pending.settle(null, msg.result);
    }
  }

  /**
   * @param {EventHandler[]} handlers
   * @param {string} event
   * @param {unknown} data
   * @param {string} source
   */
  _deliver(handlers, event, data, source) {
    this._eventsQueued++;
    this._eventChain = this._eventChain.then(async () => {
      for (const handler of handlers) {
        try {
          await handler(data, source);
        } catch (err) {
          console.error(`[${this.name}] handler for event ${event} failed:`, err);
        }
      }
      this._eventsQueued--;
      this._maybeExit();
    });
  }

  // ---- tools -----------------------------------------------------------------------

  /**
   * @param {string|number} id
   * @param {Record<string, any>} params
   */
  _callTool(id, params) {
    const name = params.name;
    const tool = typeof name === "string" ? this._tools.get(name) : undefined;
    if (!tool) {
      this._sendError(id, INVALID_PARAMS, `Unknown tool: ${name}`);
      return;
    }
    let args = params.arguments;
    if (args === undefined || args === null) args = {};
    else if (typeof args !== "object" || Array.isArray(args)) {
      this._sendError(id, INVALID_PARAMS, `${name}: arguments must be an object`);
      return;
    }
    const meta = params._meta;
    const token = meta && typeof meta === "object" ? meta.progressToken : undefined;
    const ctx = new Context(this, id, name, token);
    this._inflight.set(id, ctx);
    this._runTool(tool.handler, args, ctx);
  }

  /**
   * Run one call to its end and answer it (unless the host cancelled it); never rejects.
   * @param {ToolHandler} handler
   * @param {Record<string, any>} args
   * @param {Context} ctx
   */
  async _runTool(handler, args, ctx) {
    /** @type {Record<string, unknown>} */
    let result;
    try {
      result = this._toResult(await handler(args, ctx));
    } catch (err) {
      if (err instanceof ToolError) {
        result = { content: [{ type: "text", text: err.message }], isError: true };
      } else {
        console.error(`[${this.name}] tool ${ctx.tool} failed:`, err instanceof Error ? err.stack : err);
        const text = err instanceof Error ? err.message : String(err);
        const message = `internal error in ${ctx.tool}: ${text}`;
        result = { content: [{ type: "text", text: message }], isError: true };
      }
    }
    ctx._done = true;
    if (this._inflight.get(ctx.requestId) === ctx) this._inflight.delete(ctx.requestId);
    try {
      if (!ctx._silenced) this._sendResult(ctx.requestId, result); // MCP: no response once cancelled
    } catch (err) {
      console.error(`[${this.name}] cannot answer ${ctx.tool}:`, err);
    }
    this._maybeExit();
  }

  /**
   * @param {unknown} value
   * @returns {Record<string, unknown>}
   */
  _toResult(value) {
    if (value === undefined || value === null) return { content: [{ type: "text", text: "" }] };
    if (typeof value === "string") return { content: [{ type: "text", text: value }] };
    const json = JSON.stringify(value); // throws on a cycle or a BigInt: an internal error
    const content = [{ type: "text", text: json === undefined ? String(value) : json }];
    const structured =
      typeof value === "object" &&
      !Array.isArray(value) &&
      (this.protocolVersion === undefined || this.protocolVersion >= STRUCTURED_SINCE);
    return structured ? { content, structuredContent: value } : { content };
  }

  // ---- requests to the host ----------------------------------------------------------

  /**
   * @param {string} command
   * @param {Record<string, unknown> | undefined} args
   * @param {{timeout?: number} | undefined} options
   * @param {Context | undefined} ctx
   */
  async _call(command, args, options, ctx) {
    const params = { command, arguments: args === undefined || args === null ? {} : args };
    const result = await this._request("logomesh/call", params, options && options.timeout, ctx);
    if (result === null || typeof result !== "object") {
      throw new ToolError(`the host answered logomesh/call for ${command} with ${JSON.stringify(result)}`);
    }
    return result;
  }

  /**
   * @param {string} prompt
   * @param {SampleOptions | undefined} options
   * @param {Context | undefined} ctx
   */
  async _sample(prompt, options, ctx) {
    const opts = options || {};
    /** @type {Record<string, unknown>} */
    const params = {
      messages: [{ role: "user", content: { type: "text", text: prompt } }],
      maxTokens: opts.maxTokens === undefined ? 512 : opts.maxTokens,
    };
    if (opts.system !== undefined) params.systemPrompt = opts.system;
    if (opts.temperature !== undefined) params.temperature = opts.temperature;
    if (opts.modelPreferences !== undefined) params.modelPreferences = opts.modelPreferences;
    const result = await this._request("sampling/createMessage", params, opts.timeout, ctx);
    const content = result && typeof result === "object" ? result.content : undefined;
    const blocks = Array.isArray(content) ? content : [content];
    const texts = blocks.filter((b) => b && typeof b === "object" && b.type === "text").map((b) => b.text);
    if (!texts.length || !texts.every((t) => typeof t === "string")) {
      throw new ToolError("the host's sampling answer holds no text");
    }
    return texts.join("");
  }

  /**
   * Send a request to the host and settle with its answer. A cancelled ctx or a timeout
   * abandons it (the host is sent notifications/cancelled).
   * @param {string} method
   * @param {Record<string, unknown>} params
   * @param {number | undefined} timeout  seconds
   * @param {Context | undefined} ctx
   * @returns {Promise<any>}
   */
  _request(method, params, timeout, ctx) {
    return new Promise((resolve, reject) => {
      if (this._closed) {
        reject(new ToolError("the host closed the connection", { code: INTERNAL_ERROR }));
        return;
      }
      if (ctx && ctx.cancelled) {
        reject(new ToolError("the call was cancelled", { code: REQUEST_CANCELLED }));
        return;
      }
      const id = this._nextId++;
      const signal = ctx && ctx.signal;
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      const onAbort = () => abandon(String(signal && signal.reason));
      /** @param {string} reason */
      const abandon = (reason) => {
        settle(new ToolError(reason, { code: REQUEST_CANCELLED }));
        if (!this._closed) this._notify("notifications/cancelled", { requestId: id, reason });
      };
      /**
       * @param {Error | null} error
       * @param {unknown} [result]
       */
      const settle = (error, result) => {
        if (!this._pending.delete(id)) return;
        if (timer !== undefined) clearTimeout(timer);
        if (signal) signal.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve(result);
      };
      this._pending.set(id, { settle });
      if (signal) signal.addEventListener("abort", onAbort);
      if (timeout !== undefined && timeout !== null) {
        timer = setTimeout(() => abandon(`${method} timed out after ${timeout} s`), timeout * 1000);
      }
      try {
        this._send({ jsonrpc: "2.0", id, method, params });
      } catch (err) {
        settle(/** @type {Error} */ (err)); // params that are not JSON: nothing was sent
      }
    });
  }

  // ---- output and shutdown ---------------------------------------------------------

  /** @param {unknown} message */
  _send(message) {
    process.stdout.write(JSON.stringify(message) + "\n");
  }

  /**
   * @param {string} method
   * @param {unknown} [params]
   */
  _notify(method, params) {
    this._send(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });
  }

  /**
   * @param {string|number} id
   * @param {unknown} result
   */
  _sendResult(id, result) {
    this._send({ jsonrpc: "2.0", id, result });
  }

  /**
   * @param {string|number|null} id
   * @param {number} code
   * @param {string} message
   */
  _sendError(id, code, message) {
    this._send({ jsonrpc: "2.0", id, error: { code, message } });
  }

  /** stdin ended: cancel what runs, give it SHUTDOWN_GRACE_MS to finish, exit 0. */
  _shutdown() {
    if (this._closed) return;
    this._closed = true;
    for (const pending of this._pending.values()) {
      pending.settle(new ToolError("the host closed the connection", { code: INTERNAL_ERROR }));
    }
    for (const ctx of this._inflight.values()) ctx._controller.abort("the host closed the connection");
    setTimeout(() => this._exit(), SHUTDOWN_GRACE_MS).unref();
    this._maybeExit();
  }

  _maybeExit() {
    if (this._closed && this._inflight.size === 0 && this._eventsQueued === 0) this._exit();
  }

  _exit() {
    const stdout = process.stdout;
    if (stdout.writableLength > 0) stdout.once("drain", () => process.exit(0));
    else process.exit(0);
  }
}

module.exports = { Plugin, ToolError, Context, PROTOCOL_VERSIONS, LATEST_PROTOCOL_VERSION };
