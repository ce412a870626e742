/**
 * The workspace's pipelines as `pipeline.list` sends them, and how one is offered in
 * *Run Pipeline...*. A pipeline NAME runs as the command `pipeline.NAME`, whose schema
 * holds its inputs. Pure: no vscode import.
 */

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

/** The command a pipeline runs as. */
export function pipelineCommand(pipeline: PipelineEntry): string {
  return `pipeline.${pipeline.name}`;
}

export interface PipelineFields {
  label: string;
  description: string;
  detail: string;
}

/** A valid pipeline shows its risk and description; one that is not, its problems. */
export function pipelineFields(pipeline: PipelineEntry): PipelineFields {
  const state = pipeline.valid ? `${pipeline.risk ?? "unknown"} risk` : "$(error) not valid";
  return {
    label: pipeline.name,
    description: `${state} · ${pipeline.file}`,
    detail: pipeline.valid ? pipeline.description : pipeline.problems.join("; "),
  };
}
