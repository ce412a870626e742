/**
 * STUB, replaced by helper B's palette commands and views: registerFeatures(context, client)
 * is the one place extension.ts hands the client to them.
 */
import type * as vscode from "vscode";

import type { LogoMeshClient } from "./api";

export function registerFeatures(
  _context: vscode.ExtensionContext,
  _client: LogoMeshClient,
): void {}
