"""The git commands: status, diff, log, branches, current branch, show (read) and push (danger).

Each builds its argv from :func:`~logomesh.devshell.git.git_argv`, puts revisions after
``--end-of-options`` and paths after ``--``, asks for a machine-readable format and returns
the parsed form as data, the text a person would read as output. Push is the only command
that changes anything outside the work tree, so it is ``danger``: the engine asks first.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.devshell.arguments import (
    BranchName,
    GitRevision,
    GitRevisionRange,
    PathText,
    RemoteName,
)
from logomesh.devshell.git import (
    BRANCH_FORMAT,
    FIELD,
    FILTER_KEYS_ARGV,
    LOG_FORMAT,
    READ_ENV,
    RECORD,
    find_repository,
    git_argv,
    no_filters,
    parse_branches,
    parse_log,
    parse_status,
    split_numstat,
)
from logomesh.devshell.invoke import (
    ENGINE_BACKSTOP_S,
    resolve_path,
    run_tool,
    workspace_root,
)
from logomesh.errors import CommandError
from logomesh.plural import plural

# Structured output is parsed, so keep more of it than the default head before cutting.
PARSED_HEAD_BYTES = 4 * 1024 * 1024


def _require_repository(ctx: CommandContext) -> Path:
    root = workspace_root(ctx)
    if find_repository(root) is None:
        raise CommandError(
            f"{root} is not inside a git repository. Run `git init` there, or point LogoMesh "
            "at a repository with --workspace."
        )
    return root


async def _work_tree_options(ctx: CommandContext) -> list[str]:
    """For a read of the work tree (status, diff): in a restricted workspace, every filter
    driver off, since git runs a driver's clean command for the files .gitattributes
    assigns to it, and .git/config, which came with the folder, defines the command."""
    if not ctx.engine.settings.workspace_restricted:
        return []
    keys = await run_tool(ctx, git_argv(*FILTER_KEYS_ARGV), env=READ_ENV, ok_codes=(0, 1))
    return no_filters(keys.stdout)


def _paths(ctx: CommandContext, path: str | None) -> list[str]:
    """``--`` and the path, if any: paths are never read as options or revisions."""
    if path is None:
        return ["--"]
    return ["--", resolve_path(ctx, path, must_exist=False).arg]


@command(
    "git.status",
    summary="Show the working tree: branch, staged and unstaged changes, untracked files",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "what changed",
        "git status",
        "do I have uncommitted changes",
        "which files have I modified",
        "is my working tree clean",
        "what's staged right now",
        "are there untracked files",
        "show the repo status",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def git_status(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    _require_repository(ctx)
    argv = git_argv(
        *await _work_tree_options(ctx),
        "status",
        "--porcelain=v2",
        "--branch",
        "-z",
        "--untracked-files=all",
    )
    result = await run_tool(ctx, argv, env=READ_ENV, head_bytes=PARSED_HEAD_BYTES)
    status = parse_status(result.stdout)
    where = status.branch or f"detached HEAD {status.commit or ''}".strip()
    if status.upstream and (status.ahead or status.behind):
        where += f" ({status.ahead} ahead, {status.behind} behind {status.upstream})"
    lines = [f"{change.path}: {change.summary}" for change in status.changes]
    lines += [f"{path}: conflicted" for path in status.conflicted]
    lines += [f"{path}: untracked" for path in status.untracked]
    if status.clean:
        message = f"On {where}: nothing to commit, working tree clean."
    else:
        counts = [
            f"{len(status.changes)} changed" if status.changes else "",
            f"{len(status.conflicted)} conflicted" if status.conflicted else "",
            f"{len(status.untracked)} untracked" if status.untracked else "",
        ]
        message = f"On {where}: " + ", ".join(c for c in counts if c) + "."
    data = {
        "branch": status.branch,
        "commit": status.commit,
        "upstream": status.upstream,
        "ahead": status.ahead,
        "behind": status.behind,
        "clean": status.clean,
        "changes": [asdict(change) for change in status.changes],
        "conflicted": list(status.conflicted),
        "untracked": list(status.untracked),
    }
    return CommandOutput(data=data, message=message, output="\n".join(lines) or message)


class DiffArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: GitRevisionRange | None = Field(
        default=None, description="compare with this commit, or a range like main..feature"
    )
    path: PathText | None = Field(default=None, description="only this file or directory")
    staged: bool = Field(default=False, description="staged changes (the index) instead")


@command(
    "git.diff",
    summary="Show changes as a patch, with lines added and removed per file",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "show me the diff",
        "diff lib/server.py",
        "what did I change in config.yaml",
        "diff against main",
        "show the staged changes",
        "what's different from HEAD~1",
        "how does my branch differ from develop",
        "git diff",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def git_diff(ctx: CommandContext, args: DiffArgs) -> CommandOutput:
    _require_repository(ctx)
    options = await _work_tree_options(ctx)
    argv = git_argv(*options, "diff", "--no-ext-diff", "--no-textconv", "--numstat", "--patch")
    if args.staged:
        argv.append("--cached")
    argv += ["--end-of-options", *([args.ref] if args.ref else []), *_paths(ctx, args.path)]
    result = await run_tool(ctx, argv, env=READ_ENV, head_bytes=PARSED_HEAD_BYTES)
    stats, patch = split_numstat(result.stdout)
    added = sum(stat.added or 0 for stat in stats)
    deleted = sum(stat.deleted or 0 for stat in stats)
    against = args.ref or ("HEAD" if args.staged else "the index")
    what = "staged changes" if args.staged else "working tree"
    message = (
        f"{plural(len(stats), 'file')} changed, +{added} -{deleted} ({what} vs {against})."
        if stats
        else f"No differences ({what} vs {against})."
    )
    data = {
        "ref": args.ref,
        "staged": args.staged,
        "files": [asdict(stat) for stat in stats],
        "insertions": added,
        "deletions": deleted,
        "diff": patch,
        "truncated_bytes": result.truncated_bytes,
    }
    return CommandOutput(
        data=data, message=message, output=patch or message, target=args.path or args.ref
    )


class LogArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=10, ge=1, le=500, description="how many commits")
    path: PathText | None = Field(default=None, description="only commits touching this path")
    ref: GitRevisionRange | None = Field(
        default=None, description="start from this branch or commit, or a range"
    )


@command(
    "git.log",
    summary="List commits, the latest or those since a branch or tag: hash, author, date, subject",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "show the last 5 commits",
        "recent commits",
        "show the commit history",
        "git log",
        "who last changed lib/db.py",
        "which commits are on the release branch",
        "commit history of docs/index.md",
        "list the latest commits",
        "what's new since develop",
        "what has been committed after tag v1.0",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def git_log(ctx: CommandContext, args: LogArgs) -> CommandOutput:
    _require_repository(ctx)
    argv = git_argv("log", f"--max-count={args.count}", f"--format={LOG_FORMAT}")
    argv += ["--end-of-options", *([args.ref] if args.ref else []), *_paths(ctx, args.path)]
    result = await run_tool(
        ctx, argv, env=READ_ENV, head_bytes=PARSED_HEAD_BYTES, ok_codes=(0, 128)
    )
    if result.exit_code != 0:
        if "does not have any commits yet" in result.stderr:
            return CommandOutput(data={"commits": []}, message="No commits yet.")
        if "unknown revision" in result.stderr or "bad revision" in result.stderr:
            raise await _unknown_ref(ctx, str(args.ref))
        raise CommandError(f"git log failed: {result.last_lines()}")
    commits = parse_log(result.stdout)
    lines = [f"{c.short} {c.date[:10]} {c.author}: {c.subject}" for c in commits]
    data: dict[str, object] = {"commits": [asdict(c) for c in commits]}
    message = plural(len(commits), "commit") + (f" on {args.ref}." if args.ref else ".")
    if args.ref and ".." in args.ref and "..." not in args.ref:
        since = await _since(ctx, args.ref, args.path, len(commits))
        data["since"] = since
        message = _since_message(since)
    return CommandOutput(
        data=data, message=message, output="\n".join(lines), target=args.path or args.ref
    )


async def _unknown_ref(ctx: CommandContext, ref: str) -> CommandError:
    """Name the side of ``ref`` git does not know; a clone often has only ``origin/main``."""
    missing, hints = [], []
    for side in dict.fromkeys(s for s in ref.replace("...", "..").split("..") if s):
        if not await _resolves(ctx, side):
            missing.append(repr(side))
            if "/" not in side and await _resolves(ctx, f"origin/{side}"):
                hints.append(ref.replace(side, f"origin/{side}"))
    fix = f"Did you mean ref={hints[0]}? " if hints else ""
    return CommandError(
        f"`ref={ref}`: this repository has no branch, tag or commit "
        f"{' or '.join(missing) or repr(ref)}. {fix}List the branches with "
        "`logomesh run git.branches` (tags: `git tag`)."
    )


async def _resolves(ctx: CommandContext, revision: str) -> bool:
    argv = git_argv(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
    )
    return (await run_tool(ctx, argv, env=READ_ENV, ok_codes=(0, 1))).exit_code == 0


async def _since(ctx: CommandContext, ref: str, path: str | None, shown: int) -> dict[str, object]:
    """For ``A..B`` ("what changed since A"): how many commits in all, and the files they
    changed together, counted from where B left A (``A...B``), so that commits made on A
    meanwhile are not counted as changes of B."""
    start, _, end = ref.partition("..")
    paths = _paths(ctx, path)
    counted = await run_tool(
        ctx, git_argv("rev-list", "--count", "--end-of-options", ref, *paths), env=READ_ENV
    )
    argv = git_argv("diff", "--no-ext-diff", "--no-textconv", "--numstat")
    argv += ["--end-of-options", f"{start or 'HEAD'}...{end or 'HEAD'}", *paths]
    stats, _ = split_numstat((await run_tool(ctx, argv, env=READ_ENV)).stdout)
    return {
        "from": start or "HEAD",
        "to": end or "HEAD",
        "commits": int(counted.stdout.strip() or 0),
        "shown": shown,
        "files_changed": len(stats),
        "insertions": sum(stat.added or 0 for stat in stats),
        "deletions": sum(stat.deleted or 0 for stat in stats),
    }


def _since_message(since: dict[str, object]) -> str:
    start, end = since["from"], since["to"]
    total, files = _count(since["commits"]), _count(since["files_changed"])
    if total == 0:
        return f"No commits on {end} since {start}: {end} has nothing that {start} has not."
    message = f"{plural(total, 'commit')} on {end} since {start}"
    if since["shown"] != total:
        message += f" (the latest {since['shown']} shown; raise count to see more)"
    return (
        message + f": {plural(files, 'file')} changed, "
        f"+{since['insertions']} -{since['deletions']}."
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


@command(
    "git.branches",
    summary="List local and remote branches, marking the current one",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "list branches",
        "what branches are there",
        "show all branches",
        "which branches exist on origin",
        "git branch",
        "show remote branches",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def git_branches(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    _require_repository(ctx)
    argv = git_argv("for-each-ref", f"--format={BRANCH_FORMAT}", "refs/heads", "refs/remotes")
    result = await run_tool(ctx, argv, env=READ_ENV, head_bytes=PARSED_HEAD_BYTES)
    branches = parse_branches(result.stdout)
    local = [b for b in branches if not b.remote]
    current = next((b.name for b in local if b.current), None)
    lines = [
        f"{'*' if b.current else ' '} {b.name} {b.commit} {b.subject}".rstrip() for b in branches
    ]
    return CommandOutput(
        data={"current": current, "branches": [asdict(b) for b in branches]},
        message=f"{len(local)} local, {plural(len(branches) - len(local), 'remote branch')}"
        + (f"; on {current}." if current else "."),
        output="\n".join(lines),
    )


async def _current_branch(ctx: CommandContext) -> tuple[str | None, str | None]:
    """(branch, commit); branch is None on a detached HEAD, commit None before the first."""
    symbolic = await run_tool(
        ctx, git_argv("symbolic-ref", "--quiet", "--short", "HEAD"), env=READ_ENV, ok_codes=(0, 1)
    )
    head = await run_tool(
        ctx,
        git_argv("rev-parse", "--verify", "--quiet", "--short", "HEAD"),
        env=READ_ENV,
        ok_codes=(0, 1),
    )
    branch = symbolic.stdout.strip() if symbolic.exit_code == 0 else None
    return branch, head.stdout.strip() or None


@command(
    "git.current_branch",
    summary="Show the branch you are on (or the commit, on a detached HEAD)",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "which branch am I on",
        "what's the current branch",
        "current branch",
        "am I on main",
        "what branch is checked out",
        "name of this branch",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def git_current_branch(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    _require_repository(ctx)
    branch, commit = await _current_branch(ctx)
    if branch is None:
        message = f"HEAD is detached at {commit}."
    else:
        message = f"On branch {branch}" + (f" at {commit}." if commit else " (no commits yet).")
    return CommandOutput(
        data={"branch": branch, "detached": branch is None, "commit": commit}, message=message
    )


class ShowArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: GitRevision = Field(default="HEAD", description="the commit, branch or tag to show")


SHOW_FORMAT = "%H%x1f%h%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f%b%x1e"


@command(
    "git.show",
    summary="Show one commit: author, date, message and its patch",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "show the last commit",
        "show me commit 1a2b3c4",
        "what changed in commit HEAD~3",
        "git show HEAD~1",
        "details of the latest commit",
        "show tag v1.0",
        "what did the previous commit do",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def git_show(ctx: CommandContext, args: ShowArgs) -> CommandOutput:
    _require_repository(ctx)
    argv = git_argv("show", "--no-ext-diff", "--no-textconv", "--stat", "--patch")
    argv += [f"--format={SHOW_FORMAT}", "--end-of-options", args.ref, "--"]
    result = await run_tool(ctx, argv, env=READ_ENV, head_bytes=PARSED_HEAD_BYTES)
    header, _, patch = result.stdout.partition(RECORD)
    fields = header.split(FIELD)
    # Between the message and the stat git prints a "---" line, as in a mailed patch.
    patch = patch.lstrip("\n").removeprefix("---\n")
    data: dict[str, object] = {"ref": args.ref, "patch": patch}
    message = f"{args.ref}"
    if len(fields) >= 7:
        # An annotated tag's own header comes first; the commit hash ends its text.
        sha = fields[0].rsplit("\n", 1)[-1]
        data |= {
            "sha": sha,
            "short": fields[1],
            "author": fields[2],
            "email": fields[3],
            "date": fields[4],
            "subject": fields[5],
            "body": FIELD.join(fields[6:]).strip(),
        }
        message = f"{fields[1]} by {fields[2]} on {fields[4][:10]}: {fields[5]}"
    return CommandOutput(data=data, message=message, output=result.stdout, target=args.ref)


class PushArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remote: RemoteName = Field(default="origin", description="the configured remote's name")
    branch: BranchName | None = Field(default=None, description="default: the current branch")
    force: bool = Field(
        default=False,
        description="overwrite the remote branch (--force-with-lease: only if it is where you "
        "last fetched it)",
    )


@command(
    "git.push",
    summary="Push a branch to a remote (always asks first; force uses --force-with-lease)",
    permission="devshell.danger",
    risk=RiskLevel.DANGER,
    examples=(
        "push my branch",
        "push to origin",
        "git push",
        "push main to the remote",
        "publish my commits",
        "force push this branch",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
    # Reads switch off what could run (git_argv, --no-ext-diff...); a push cannot.
    runs_project_code=(
        "git runs the repository's pre-push hook and the credential helper, ssh command and "
        "receive-pack program its .git/config may name"
    ),
)
async def git_push(ctx: CommandContext, args: PushArgs) -> CommandOutput:
    _require_repository(ctx)
    branch = args.branch
    if branch is None:
        branch, _ = await _current_branch(ctx)
        if branch is None:
            raise CommandError("HEAD is detached; name the branch to push (branch=...).")
    # No ext:: transport (it runs commands); options end before the remote and branch.
    argv = git_argv("-c", "protocol.ext.allow=never", "push", hooks=True)
    if args.force:
        argv.append("--force-with-lease")
    argv += ["--", args.remote, branch]
    result = await run_tool(ctx, argv)
    how = "Force-pushed" if args.force else "Pushed"
    return CommandOutput(
        data={"remote": args.remote, "branch": branch, "force": args.force},
        message=f"{how} {branch} to {args.remote}.",
        output=result.output,
        target=f"{args.remote}/{branch}",
    )
