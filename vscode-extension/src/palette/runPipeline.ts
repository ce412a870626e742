/**
 * LogoMesh: Run Pipeline... — the workspace's pipelines (`pipeline.list`), then the picked
 * one's inputs from its command's schema (a pipeline NAME runs as the command
 * `pipeline.NAME`, its inputs as the arguments), then the run. A pipeline file that is not
 * valid is listed with its problems and opens at the file instead of running.
 */
import * as vscode from "vscode";

import { parsePipelines, pipelineCommand, pipelineFields, type PipelineEntry } from "../pipelines";
import { isCommandResult } from "../results";
import { activeFolder, type Runner } from "./runner";
import { listCommands, runChosen } from "./runCommand";

interface PipelineItem extends vscode.QuickPickItem {
  pipeline: PipelineEntry;
}

export async function runPipeline(runner: Runner): Promise<void> {
  const folder = activeFolder();
  const [listed, commands] = await Promise.all([
    listPipelines(runner, folder),
    listCommands(runner, folder),
  ]);
  if (listed === undefined || commands === undefined) {
    return;
  }
  if (listed.length === 0) {
    runner.problem(
      "LogoMesh: this workspace has no pipelines. A pipeline is a YAML file in pipelines/ (docs/pipelines.md).",
    );
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
  const command = commands.find((entry) => entry.name === pipelineCommand(pipeline));
  if (command === undefined) {
    runner.problem(
      `LogoMesh: pipeline.${pipeline.name} is not among the commands you may run here: your role lacks pipeline.run, or Restricted Mode leaves out pipelines that run the workspace's code until you trust the folder.`,
    );
    return;
  }
  await runChosen(runner, command, {}, folder);
}

async function listPipelines(
  runner: Runner,
  folder: vscode.WorkspaceFolder | undefined,
): Promise<PipelineEntry[] | undefined> {
  const answer = await runner.list("logomesh.pipeline.list", {}, folder);
  return isCommandResult(answer) ? parsePipelines(answer.data) : undefined;
}

function pipelineItem(pipeline: PipelineEntry): PipelineItem {
  return { ...pipelineFields(pipeline), pipeline };
}

async function openProblem(
  runner: Runner,
  pipeline: PipelineEntry,
  folder: vscode.WorkspaceFolder | undefined,
): Promise<void> {
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
