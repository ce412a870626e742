// Bundles the extension into one file, dist/extension.js, so the .vsix ships no
// node_modules (vsce package --no-dependencies). `vscode` is provided by the editor.
//   node esbuild.mjs               a build with a source map, for debugging
//   node esbuild.mjs --production  minified, no source map (what `npm run build` ships)
//   node esbuild.mjs --watch       rebuild on every change
import * as esbuild from "esbuild";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

const options = {
  entryPoints: ["src/extension.ts"],
  outfile: "dist/extension.js",
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  external: ["vscode"],
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: "info",
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
