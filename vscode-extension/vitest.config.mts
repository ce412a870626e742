// Unit tests of the pure modules, in plain Node: nothing here may import `vscode`.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
