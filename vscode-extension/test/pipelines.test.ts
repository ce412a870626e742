/**
 * Run Pipeline's list, from the real `pipeline.list` answer of a workspace holding the
 * repository's three example pipelines (review.yaml is not valid there: its plugin is
 * missing), and Do...'s check of the words.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import type { CommandResultJson } from "../src/api";
import { parsePipelines, pipelineCommand, pipelineFields } from "../src/pipelines";
import { checkWords, MAX_TEXT } from "../src/words";

const answers = JSON.parse(
  readFileSync(join(__dirname, "fixtures", "answers.json"), "utf8"),
) as Record<string, CommandResultJson>;
const listed = parsePipelines(answers["pipeline.list"]?.data);

describe("pipelines", () => {
  it("every pipeline is listed, each naming the command it runs as", () => {
    expect(
      listed.map((pipeline) => [pipeline.name, pipeline.valid, pipelineCommand(pipeline)]),
    ).toEqual([
      ["ci", true, "pipeline.ci"],
      ["release", true, "pipeline.release"],
      ["review", false, "pipeline.review"],
    ]);
  });

  it("a valid pipeline shows its risk, file and description", () => {
    const release = pipelineFields(listed[1]!);
    expect(release.description).toBe("danger risk · pipelines/release.yaml");
    expect(release.detail).toMatch(/^Run the tests; if they pass, push the branch/);
  });

  it("one that is not valid shows why, with the file's line and column", () => {
    const review = pipelineFields(listed[2]!);
    expect(review.description).toBe("$(error) not valid · pipelines/review.yaml");
    expect(review.detail).toMatch(
      /review\.yaml:29:11: steps\[2\]\.uses: unknown command 'todos\.find'/,
    );
  });

  it("entries without a name are skipped; a non-list is empty", () => {
    expect(parsePipelines([{ file: "x.yaml" }, 4])).toEqual([]);
    expect(parsePipelines({ name: "ci" })).toEqual([]);
  });
});

describe("Do...'s words", () => {
  it("empty words are refused with an example", () => {
    expect(checkWords("   ")).toBe(
      "Say what you want in your own words, e.g. what changed since main.",
    );
  });

  it("the server's length limit, in characters", () => {
    expect(checkWords("é".repeat(MAX_TEXT))).toBeUndefined();
    expect(checkWords("x".repeat(MAX_TEXT + 1))).toBe(
      "LogoMesh: Do... takes at most 2000 characters; this has 2001.",
    );
  });
});
