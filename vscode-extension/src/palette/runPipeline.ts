/**
 * LogoMesh: Run Pipeline... — the workspace's pipelines (`pipeline.list`), then the picked
 * one's inputs from its command's schema (a pipeline NAME runs as the command
 * `pipeline.NAME`, its inputs as the arguments), then the run. A pipeline file that is not
 * valid is listed with its problems and opens at the file instead of running.
 */
import * as vscode from "vscode";

import { isCommandResult } from "../results";
import { activeFolder, type Runner } from "./runner";
import { listCommands, runChosen } from "./runCommand";

export interface PipelineEntry {
  name: string;
  file: string;
  description: string;
  risk: string | null;
  valid: boolean;
  problems: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The entries of a `pipeline.list` answer's data. */
export function parsePipelines(data: unknown): PipelineEntry[] {
  if (!Array.isArray(data)) {
    return [];
  }
  return data.filter(isObject).flatMap((entry) =>
    typeof entry.name === "string"
      ? [
          {
            name: entry.name,
            file: typeof entry.file === "string" ? entry.file : "",
            description: typeof entry.description === "string" ? entry.description : "",
            risk: typeof entry.risk === "string" ? entry.risk : null,
            valid: entry.valid === true,
            problems: Array.isArray(entry.problems) ? entry.problems.map(String) : [],
          },
        ]
      : [],
  );
}

interface PipelineItem extends vscode.QuickPickItem {
  pipeline: PipelineEntry;
}

export async function runPipeline(runner: Runner): Promise<void> {
  const folder = activeFolder();
  const [listed, commands] = await Promise.all([listPipelines(runner, folder), listCommands(runner, folder)]);
  if (listed === undefined || commands === undefined) {
    return;
  }
  if (listed.length === 0) {
    runner.problem("LogoMesh: this workspace has no pipelines. A pipeline is a YAML file in pipelines/ (docs/pipelines.md).");
    return;
  }
  const picked = await vscode.window.showQuickPick(listed.map(pipelineItem), {
    title: "LogoMesh: Run Pipeline",
    placeHolder: "The workspace's pipelines",
    matchOnDetail: true,
  });
  if (picked === undefined) {
    return;
  }
  const { pipeline } = picked;
  if (!pipeline.valid) {
    await openProblem(runner, pipeline, folder);
    return;
  }
  const command = commands.find((entry) => entry.name === `pipeline.${pipeline.name}`);
  if (command === undefined) {
    runner.problem(
      `LogoMesh: pipeline.${pipeline.name} is not among the commands you may run here: your role lacks pipeline.run, or Restricted Mode leaves out pipelines that run the workspace's code until you trust the folder.`,
    );
    return;
  }
  await runChosen(runner, command, {}, folder);
}

async function listPipelines(runner: Runner, folder: vscode.WorkspaceFolder | undefined): Promise<PipelineEntry[] | undefined> {
  const answer = await runner.run("logomesh.pipeline.list", {}, folder, true);
  return isCommandResult(answer) ? parsePipelines(answer.data) : undefined;
}

function pipelineItem(pipeline: PipelineEntry): PipelineItem {
  const state = pipeline.valid ? `${pipeline.risk ?? "?"} risk` : "$(error) not valid";
  return {
    label: pipeline.name,
    description: `${state} · ${pipeline.file}`,
    detail: pipeline.valid ? pipeline.description : pipeline.problems.join("; "),
    pipeline,
  };
}

async function openProblem(runner: Runner, pipeline: PipelineEntry, folder: vscode.WorkspaceFolder | undefined): Promise<void> {
  const first = pipeline.problems[0] ?? "it does not validate";
  const choice = await vscode.window.showErrorMessage(
    `LogoMesh: pipeline ${pipeline.name} is not valid and cannot run: ${first} Fix the file (\`logomesh pipeline validate\` lists every problem).`,
    "Open the file",
  );
  if (choice !== undefined && folder !== undefined && pipeline.file !== "") {
    await vscode.window.showTextDocument(vscode.Uri.joinPath(folder.uri, pipeline.file));
  }
  runner.client.output.warn(`pipeline ${pipeline.name}: ${pipeline.problems.join("; ")}`);
}
