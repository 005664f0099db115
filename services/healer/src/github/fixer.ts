// The GitHub fixer: opens a fix (or revert) pull request for an incident, follows its checks through
// signed webhooks with polling as the fallback, waits for the merge and for the new service.version to
// show up in telemetry, and records every step as a FixPullRequest event in stream `fix-<fixId>`.
import { createHash } from 'node:crypto';
import { versionFirstSeenSince, versionLastSeenSince } from '@hephaestus/aggregates';
import { decideOnStream, readStream, type Logger, type Sql } from '@hephaestus/platform';
import type { PlaybookStep } from '@hephaestus/schemas';
import { Webhooks } from '@octokit/webhooks';
import { fixPullRequestDecider, fixStreamId, type FixPullRequest, type FixPullRequestCommand } from '../domain/fix-pull-request.ts';
import { repositoryOf, type GitHubClient } from './client.ts';
import { incidentStory, pullRequestBody, type ChangeDescription } from './pull-request-body.ts';

export type ActionResult = { ok: true; detail: string } | { ok: false; error: string };
export type FixContext = { idempotencyKey: string; remediationId: string; incidentId: string; service: string; serviceVersion?: string };
export type UndoContext = Omit<FixContext, 'serviceVersion'>;

export type GitHubFixerOptions = {
  sql: Sql;
  github: GitHubClient;
  /** `owner/name`. */
  repository: string;
  log: Logger;
  webhookSecret?: string;
  reviewers?: string[];
  /** Merge revert pull requests once their checks pass (HEPH_GITHUB_AUTO_MERGE_REVERTS). */
  autoMergeReverts?: boolean;
  /** How often checks and merges are polled when no webhook arrives (HEPH_GITHUB_POLL_SECONDS). */
  pollSeconds: number;
  /** How often `service_versions` is read while waiting for a deploy. */
  deployPollMs?: number;
  /** How long `undo` follows its revert pull request. */
  undoTimeoutSeconds?: number;
  consoleUrl?: string;
  now?: () => Date;
};

type Kind = 'fix' | 'revert';
type PullRef = { number: number; html_url: string; title: string; head: { sha: string } };
type Checks = { state: 'pending' } | { state: 'passed'; detail: string } | { state: 'failed'; reason: string };

const failingConclusions = new Set(['failure', 'timed_out', 'cancelled', 'action_required', 'startup_failure', 'stale']);

/** A short, stable id for an idempotency key: names the stream and the branch, so a resumed run finds both. */
export const fixIdOf = (idempotencyKey: string) => createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 12);

const statusOf = (error: unknown): number | undefined => (typeof error === 'object' && error !== null && 'status' in error ? Number((error as { status: unknown }).status) : undefined);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const firstLine = (s: string) => s.split('\n')[0] ?? s;

export const createGitHubFixer = (options: GitHubFixerOptions) => {
  const { sql, github, log } = options;
  const { owner, repo } = repositoryOf(options.repository);
  const now = options.now ?? (() => new Date());
  const reviewers = options.reviewers ?? [];
  const autoMergeReverts = options.autoMergeReverts ?? false;
  const deployPollMs = options.deployPollMs ?? 1000;
  let stopped = false;

  // ---- waking followers: a verified webhook about a pull request (or its head commit) wakes its follower.
  // Each webhook bumps a sequence number per pull request and commit, so one that arrives while the
  // follower is busy reading GitHub is not lost: the next wait returns at once.
  let sequence = 0;
  const lastSeen = new Map<string, number>();
  const keysOf = (about: { numbers?: number[]; shas?: string[] }) => [...(about.numbers ?? []).map((n) => `#${n}`), ...(about.shas ?? []).map((s) => `@${s}`)];
  const waiters = new Set<{ keys: string[]; wake: () => void }>();
  const wait = (ms: number, about: { numbers?: number[]; shas?: string[] } = {}, since = sequence) =>
    new Promise<void>((resolve) => {
      const keys = keysOf(about);
      if (keys.some((k) => (lastSeen.get(k) ?? 0) > since)) return resolve();
      const waiter = {
        keys,
        wake: () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, Math.max(0, ms));
      waiters.add(waiter);
    });
  const wakeFor = (numbers: number[], shas: string[]) => {
    sequence += 1;
    const keys = keysOf({ numbers, shas });
    for (const k of keys) lastSeen.set(k, sequence);
    for (const w of [...waiters]) if (w.keys.some((k) => keys.includes(k))) w.wake();
  };

  const webhooks = options.webhookSecret ? new Webhooks({ secret: options.webhookSecret }) : undefined;
  webhooks?.on(['check_suite.completed', 'check_run.completed', 'status', 'pull_request.closed', 'pull_request.synchronize'], (event) => {
    const p = event.payload as Record<string, unknown> & {
      check_suite?: { head_sha: string; pull_requests?: Array<{ number: number }> };
      check_run?: { head_sha: string; pull_requests?: Array<{ number: number }> };
      sha?: string;
      pull_request?: { number: number; head: { sha: string } };
    };
    const numbers = [...(p.check_suite?.pull_requests ?? []), ...(p.check_run?.pull_requests ?? [])].map((x) => x.number);
    if (p.pull_request) numbers.push(p.pull_request.number);
    const shas = [p.check_suite?.head_sha, p.check_run?.head_sha, p.sha, p.pull_request?.head.sha].filter((s): s is string => typeof s === 'string');
    log.debug({ event: event.name, numbers, shas }, 'github webhook received');
    wakeFor(numbers, shas);
  });

  // ---- the FixPullRequest stream ----
  const load = async (fixId: string): Promise<FixPullRequest> =>
    (await readStream(sql, fixStreamId(fixId))).reduce(fixPullRequestDecider.evolve, fixPullRequestDecider.initialState());
  const record = async (fixId: string, context: UndoContext, command: FixPullRequestCommand, occurredAt = now()): Promise<FixPullRequest> => {
    const { state, events } = await sql.begin((tx) =>
      decideOnStream(tx, fixStreamId(fixId), fixPullRequestDecider, command, {
        occurredAt,
        metadata: { correlationId: context.incidentId, causationId: context.remediationId },
      }),
    );
    for (const e of events) log.info({ fixId, type: e.type, incidentId: context.incidentId }, 'fix pull request event recorded');
    return state;
  };
  const mergedAt = async (fixId: string): Promise<Date | undefined> => {
    const merged = (await readStream(sql, fixStreamId(fixId))).find((e) => e.type === 'fix.merged');
    return merged ? new Date(merged.occurredAt) : undefined;
  };

  // ---- reading GitHub ----
  const defaultHead = async () => {
    const { data: repository } = await github.rest.repos.get({ owner, repo });
    const { data: ref } = await github.rest.git.getRef({ owner, repo, ref: `heads/${repository.default_branch}` });
    return { branch: repository.default_branch, sha: ref.object.sha };
  };
  const branchHead = async (branch: string): Promise<string | undefined> => {
    try {
      return (await github.rest.git.getRef({ owner, repo, ref: `heads/${branch}` })).data.object.sha;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  };
  const pullForBranch = async (branch: string) => {
    const { data } = await github.rest.pulls.list({ owner, repo, head: `${owner}:${branch}`, state: 'all' });
    return data[0];
  };
  /** Every check run and commit status of a commit: one failure fails, all finished and green passes. */
  const readChecks = async (sha: string): Promise<Checks> => {
    const [{ data: runs }, { data: combined }] = await Promise.all([
      github.rest.checks.listForRef({ owner, repo, ref: sha }),
      github.rest.repos.getCombinedStatusForRef({ owner, repo, ref: sha }),
    ]);
    const failedRun = runs.check_runs.find((r) => r.status === 'completed' && r.conclusion !== null && failingConclusions.has(r.conclusion));
    if (failedRun) {
      const why = [failedRun.output.title, failedRun.output.summary].filter(Boolean).join(': ');
      return { state: 'failed', reason: `check '${failedRun.name}' concluded ${failedRun.conclusion}${why ? ` (${why})` : ''}` };
    }
    const failedStatus = combined.statuses.find((s) => s.state === 'failure' || s.state === 'error');
    if (failedStatus) return { state: 'failed', reason: `status '${failedStatus.context}' is ${failedStatus.state}${failedStatus.description ? ` (${failedStatus.description})` : ''}` };
    if (runs.total_count === 0 && combined.total_count === 0) return { state: 'pending' };
    if (runs.check_runs.some((r) => r.status !== 'completed') || (combined.total_count > 0 && combined.state !== 'success')) return { state: 'pending' };
    const names = [...runs.check_runs.map((r) => `${r.name}: ${r.conclusion}`), ...combined.statuses.map((s) => `${s.context}: ${s.state}`)];
    return { state: 'passed', detail: names.join(', ') };
  };

  // ---- preparing a change through the Git data API ----
  const commitOnBranch = async (branch: string, base: { sha: string }, tree: Array<{ path: string; sha: string | null }>, message: string) => {
    const { data: baseCommit } = await github.rest.git.getCommit({ owner, repo, commit_sha: base.sha });
    const { data: newTree } = await github.rest.git.createTree({
      owner,
      repo,
      base_tree: baseCommit.tree.sha,
      tree: tree.map((e) => ({ path: e.path, mode: '100644' as const, type: 'blob' as const, sha: e.sha })),
    });
    const { data: commit } = await github.rest.git.createCommit({ owner, repo, message, tree: newTree.sha, parents: [base.sha] });
    await github.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha: commit.sha });
    return commit.sha;
  };

  const prepareFix = async (step: PlaybookStep, branch: string, base: { sha: string }): Promise<{ sha: string; change: ChangeDescription } | { error: string }> => {
    const { path, find, replace } = step.params;
    if (!path || find === undefined || replace === undefined) return { error: 'github.fix_pr needs params path, find and replace' };
    let content: string;
    try {
      const { data } = await github.rest.repos.getContent({ owner, repo, path, ref: base.sha });
      if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) return { error: `${path} is not a file in ${options.repository}` };
      content = Buffer.from(data.content, 'base64').toString('utf8');
    } catch (error) {
      if (statusOf(error) === 404) return { error: `${path} does not exist on the default branch of ${options.repository}` };
      throw error;
    }
    const occurrences = content.split(find).length - 1;
    if (occurrences === 0) return { error: `${path} does not contain the text to replace (${JSON.stringify(find)})` };
    // One occurrence only: an automated edit must not guess which of several places was meant.
    if (occurrences > 1) return { error: `${path} contains the text to replace ${occurrences} times; make params.find unique` };
    const { data: blob } = await github.rest.git.createBlob({ owner, repo, content: Buffer.from(content.replace(find, () => replace)).toString('base64'), encoding: 'base64' });
    const title = step.params.title ?? `Fix: edit ${path}`;
    const sha = await commitOnBranch(branch, base, [{ path, sha: blob.sha }], title);
    return { sha, change: { kind: 'fix', path, find, replace } };
  };

  /** The commit a deploy tag names: `<service>@<version>`, else `v<version>`, else `<version>` (lightweight or annotated). */
  const taggedCommit = async (service: string, version: string): Promise<{ sha: string; tag: string } | undefined> => {
    for (const tag of [`${service}@${version}`, `v${version}`, version]) {
      try {
        const { data } = await github.rest.git.getRef({ owner, repo, ref: `tags/${tag}` });
        if (data.object.type === 'tag') {
          const { data: annotated } = await github.rest.git.getTag({ owner, repo, tag_sha: data.object.sha });
          return { sha: annotated.object.sha, tag };
        }
        return { sha: data.object.sha, tag };
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
    }
    return undefined;
  };

  /** A commit on `branch` (from the default head) that puts every path `badSha` changed back as its first parent had it. */
  const prepareRevert = async (badSha: string, branch: string, base: { sha: string }, reason: string): Promise<{ sha: string; change: ChangeDescription; title: string } | { error: string }> => {
    const { data: bad } = await github.rest.git.getCommit({ owner, repo, commit_sha: badSha });
    const parentSha = bad.parents[0]?.sha;
    if (!parentSha) return { error: `${badSha} is a root commit: nothing to revert to` };
    const { data: parent } = await github.rest.git.getCommit({ owner, repo, commit_sha: parentSha });
    const blobsOf = async (treeSha: string) => {
      const { data } = await github.rest.git.getTree({ owner, repo, tree_sha: treeSha, recursive: 'true' });
      return new Map(data.tree.filter((e) => e.type === 'blob' && e.path && e.sha).map((e) => [e.path!, e.sha!]));
    };
    const [after, before] = await Promise.all([blobsOf(bad.tree.sha), blobsOf(parent.tree.sha)]);
    const changed = [...new Set([...after.keys(), ...before.keys()])].filter((p) => after.get(p) !== before.get(p)).sort();
    if (changed.length === 0) return { error: `${badSha} changed no file: nothing to revert` };
    const title = `Revert "${firstLine(bad.message)}"`;
    const sha = await commitOnBranch(branch, base, changed.map((path) => ({ path, sha: before.get(path) ?? null })), `${title}\n\nThis reverts commit ${badSha}.`);
    return { sha, title, change: { kind: 'revert', commitSha: badSha, commitMessage: bad.message, paths: changed, reason } };
  };

  const labelAndRequestReview = async (number: number, severity: string | undefined) => {
    await github.rest.issues.addLabels({ owner, repo, issue_number: number, labels: ['auto-fix', ...(severity ? [`severity:${severity}`] : [])] });
    if (reviewers.length === 0) return;
    try {
      await github.rest.pulls.requestReviewers({ owner, repo, pull_number: number, reviewers });
    } catch (error) {
      // GitHub refuses reviewers who are not collaborators (422): the pull request still stands, so say so and go on.
      log.warn({ number, reviewers, status: statusOf(error), err: messageOf(error) }, 'github reviewers not requested');
    }
  };

  // ---- open: find the pull request a previous run opened, or prepare the change and open it ----
  const open = async (step: PlaybookStep, context: FixContext, fixId: string, kind: Kind): Promise<FixPullRequest | { error: string }> => {
    const branch = `heph/${kind}-${fixId}`;
    const events = [...(await readStream(sql, `incident-${context.incidentId}`)), ...(await readStream(sql, `remediation-${context.incidentId}`))];
    const story = incidentStory(context.incidentId, events);
    let pr: PullRef | undefined = await pullForBranch(branch);
    if (!pr) {
      const base = await defaultHead();
      let head = await branchHead(branch);
      let title = step.params.title;
      let change: ChangeDescription | undefined;
      if (!head) {
        if (kind === 'fix') {
          const prepared = await prepareFix(step, branch, base);
          if ('error' in prepared) return prepared;
          head = prepared.sha;
          change = prepared.change;
          title ??= `Fix: edit ${step.params.path}`;
        } else {
          const version = step.params.version ?? context.serviceVersion;
          if (!version) return { error: 'github.revert needs params.version or the incident service.version' };
          const tagged = await taggedCommit(context.service, version);
          if (!tagged) return { error: `no tag ${context.service}@${version} or v${version} in ${options.repository}: cannot tell which commit shipped it` };
          const prepared = await prepareRevert(tagged.sha, branch, base, `the commit tagged ${tagged.tag}, which shipped ${context.service} ${version}`);
          if ('error' in prepared) return prepared;
          head = prepared.sha;
          change = prepared.change;
          title ??= prepared.title;
        }
      }
      // A branch left by a crashed run already carries the change: describe it from its commit.
      if (!change) {
        const { data: commit } = await github.rest.git.getCommit({ owner, repo, commit_sha: head });
        title ??= firstLine(commit.message);
        change = kind === 'fix' ? { kind: 'fix', path: step.params.path ?? '', find: step.params.find ?? '', replace: step.params.replace ?? '' } : { kind: 'revert', commitSha: commit.parents[0]?.sha ?? '', commitMessage: commit.message, paths: [], reason: 'a bad deploy' };
      }
      const body = pullRequestBody({ story, change, remediationId: context.remediationId, fixId, consoleUrl: options.consoleUrl, openedAt: now().toISOString() });
      const { data: created } = await github.rest.pulls.create({ owner, repo, head: branch, base: base.branch, title: title ?? `Fix for incident ${context.incidentId}`, body, maintainer_can_modify: true });
      pr = created;
      log.info({ fixId, number: created.number, branch, incidentId: context.incidentId }, 'fix pull request opened');
    }
    await labelAndRequestReview(pr.number, story.severity);
    return record(fixId, context, {
      type: 'RecordPullRequestOpened',
      fixId,
      remediationId: context.remediationId,
      incidentId: context.incidentId,
      kind,
      repository: options.repository,
      number: pr.number,
      url: pr.html_url,
      branch,
      headSha: pr.head.sha,
      title: pr.title,
      ...(kind === 'revert' ? { reverts: step.params.version ?? context.serviceVersion } : {}),
    });
  };

  const closeWithComment = async (number: number, comment: string) => {
    await github.rest.issues.createComment({ owner, repo, issue_number: number, body: comment });
    await github.rest.pulls.update({ owner, repo, pull_number: number, state: 'closed' });
  };

  /**
   * The version live after the merge. A fix ships a version never seen before (first seen after the
   * merge); a revert usually brings back one seen before, so for it any version but the reverted one
   * reported after the merge counts.
   */
  const deployedVersion = (service: string, since: Date, kind: Kind, replaced?: string): Promise<string | undefined> =>
    kind === 'revert' && replaced ? versionLastSeenSince(sql, service, since, replaced) : versionFirstSeenSince(sql, service, since, replaced || undefined);

  // ---- follow: checks, merge, deploy; each observation recorded, each wait bounded by the deadline ----
  const follow = async (context: FixContext, fixId: string, start: FixPullRequest, deadline: number): Promise<ActionResult> => {
    let state = start;
    let lastPoll = 0;
    while (!stopped) {
      if (state.status === 'none') return { ok: false, error: 'no fix pull request recorded' };
      const { number, headSha, kind } = state.pr;
      switch (state.status) {
        case 'deployed':
        case 'validated':
        case 'validation_failed':
          return { ok: true, detail: `pull request #${number} merged as ${state.mergeSha?.slice(0, 7)}; ${context.service} ${state.deployedVersion} is live` };
        case 'closed':
        case 'checks_failed': {
          const reason = (await readStream(sql, fixStreamId(fixId))).findLast((e) => e.type === 'fix.checks_failed' || e.type === 'fix.closed');
          return { ok: false, error: `pull request #${number} closed: ${reason && 'reason' in reason.data ? reason.data.reason : 'without merging'}` };
        }
        case 'merged': {
          const since = (await mergedAt(fixId)) ?? now();
          const version = await deployedVersion(context.service, since, kind, kind === 'revert' ? (state.pr.reverts ?? context.serviceVersion) : context.serviceVersion);
          if (version) {
            state = await record(fixId, context, { type: 'RecordDeployed', service: context.service, serviceVersion: version });
            continue;
          }
          if (Date.now() >= deadline) return { ok: false, error: `pull request #${number} merged; no new ${context.service} version seen in telemetry before the step timed out` };
          await wait(Math.min(deployPollMs, deadline - Date.now()));
          continue;
        }
        case 'open':
        case 'checks_passed': {
          const since = sequence;
          const { data: pr } = await github.rest.pulls.get({ owner, repo, pull_number: number });
          if (pr.merged && pr.merge_commit_sha) {
            // The merge happened when GitHub says, not when we noticed: the deploy may show up in between.
            const at = pr.merged_at ? new Date(pr.merged_at) : now();
            state = await record(fixId, context, { type: 'RecordMerged', mergeSha: pr.merge_commit_sha, by: pr.merged_by?.login ?? 'unknown' }, at);
            continue;
          }
          if (pr.state === 'closed') {
            state = await record(fixId, context, { type: 'RecordClosed', reason: 'closed on GitHub without merging' });
            continue;
          }
          if (state.status === 'open') {
            const checks = await readChecks(pr.head.sha);
            lastPoll = Date.now();
            if (checks.state === 'failed') {
              await closeWithComment(number, `Closing: ${checks.reason}.\n\nHephaestus opened this ${kind} for incident \`${context.incidentId}\` and will not merge a change whose checks fail; the on-call engineer has been told.`);
              await record(fixId, context, { type: 'RecordChecksFailed', headSha: pr.head.sha, reason: checks.reason });
              state = await record(fixId, context, { type: 'RecordClosed', reason: `checks failed: ${checks.reason}` });
              continue;
            }
            if (checks.state === 'passed') {
              state = await record(fixId, context, { type: 'RecordChecksPassed', headSha: pr.head.sha, detail: checks.detail });
              continue;
            }
          } else if (kind === 'revert' && autoMergeReverts) {
            const at = now();
            const { data: merged } = await github.rest.pulls.merge({ owner, repo, pull_number: number, sha: pr.head.sha, merge_method: 'merge' });
            state = await record(fixId, context, { type: 'RecordMerged', mergeSha: merged.sha, by: 'hephaestus' }, at);
            continue;
          }
          if (Date.now() >= deadline) {
            return { ok: false, error: state.status === 'open' ? `pull request #${number}: checks still running when the step timed out` : `pull request #${number}: checks passed; waiting for a human to merge when the step timed out` };
          }
          // Woken by a webhook about this pull request or its head commit, else polled.
          const untilPoll = Math.max(0, lastPoll + options.pollSeconds * 1000 - Date.now());
          await wait(Math.min(untilPoll || options.pollSeconds * 1000, deadline - Date.now()), { numbers: [number], shas: [headSha, pr.head.sha] }, since);
          continue;
        }
      }
    }
    return { ok: false, error: 'the healer is stopping' };
  };

  const run = async (step: PlaybookStep, context: FixContext): Promise<ActionResult> => {
    if (step.action !== 'github.fix_pr' && step.action !== 'github.revert') return { ok: false, error: `the GitHub fixer does not run ${step.action}` };
    const kind: Kind = step.action === 'github.fix_pr' ? 'fix' : 'revert';
    const fixId = fixIdOf(context.idempotencyKey);
    const deadline = Date.now() + step.timeoutSeconds * 1000;
    try {
      let state = await load(fixId);
      if (state.status === 'none') {
        const opened = await open(step, context, fixId, kind);
        if ('error' in opened) {
          log.warn({ fixId, incidentId: context.incidentId, error: opened.error }, 'fix pull request not opened');
          return { ok: false, error: opened.error };
        }
        state = opened;
      }
      return await follow(context, fixId, state, deadline);
    } catch (error) {
      log.error({ fixId, incidentId: context.incidentId, err: messageOf(error) }, 'github fixer failed');
      return { ok: false, error: `GitHub: ${messageOf(error)}` };
    }
  };

  /** Undoes the merged fix of this idempotency key with a revert pull request (merged by the healer only when policy allows). */
  const undo = async (context: UndoContext): Promise<ActionResult> => {
    const fixId = fixIdOf(context.idempotencyKey);
    const deadline = Date.now() + (options.undoTimeoutSeconds ?? 300) * 1000;
    try {
      let state = await load(fixId);
      if (state.status === 'none') return { ok: true, detail: 'no fix pull request to undo' };
      const { number } = state.pr;
      if (state.mergeSha === undefined) {
        if (state.status === 'open' || state.status === 'checks_passed') {
          await closeWithComment(number, `Closing: the remediation for incident \`${context.incidentId}\` is being rolled back.`);
          await record(fixId, context, { type: 'RecordClosed', reason: 'remediation rolled back' });
        }
        return { ok: true, detail: `pull request #${number} was not merged; nothing to revert` };
      }
      // The engine undoes a deployed fix because its verification failed: that is this fix's validation.
      const { mergeSha, pr: fix } = state;
      if (state.status === 'deployed') state = await record(fixId, context, { type: 'RecordValidation', ok: false, detail: 'verification failed after the deploy' });
      if (state.status === 'none') return { ok: false, error: 'no fix pull request recorded' };
      const branch = `heph/undo-${fixId}`;
      if (!state.revert) {
        let pr: PullRef | undefined = await pullForBranch(branch);
        if (!pr) {
          const base = await defaultHead();
          const reason = `pull request #${number} did not cure the incident`;
          let change: ChangeDescription = { kind: 'revert', commitSha: mergeSha, commitMessage: fix.title, paths: [], reason };
          if (!(await branchHead(branch))) {
            const prepared = await prepareRevert(mergeSha, branch, base, reason);
            if ('error' in prepared) return { ok: false, error: prepared.error };
            change = prepared.change;
          }
          const story = incidentStory(context.incidentId, [...(await readStream(sql, `incident-${context.incidentId}`)), ...(await readStream(sql, `remediation-${context.incidentId}`))]);
          const body = pullRequestBody({ story, change, remediationId: context.remediationId, fixId, consoleUrl: options.consoleUrl, openedAt: now().toISOString() });
          const { data: created } = await github.rest.pulls.create({ owner, repo, head: branch, base: base.branch, title: `Revert "${fix.title}"`, body });
          pr = created;
        }
        await labelAndRequestReview(pr.number, undefined);
        state = await record(fixId, context, { type: 'RecordRevertOpened', number: pr.number, url: pr.html_url, autoMerge: autoMergeReverts });
      }
      // Follow the revert: merged by the healer once green when policy allows, else by a human.
      while (!stopped && state.status !== 'none' && state.revert && state.revert.mergeSha === undefined) {
        const revert = state.revert;
        const since = sequence;
        const { data: pr } = await github.rest.pulls.get({ owner, repo, pull_number: revert.number });
        if (pr.merged && pr.merge_commit_sha) {
          state = await record(fixId, context, { type: 'RecordReverted', number: revert.number, mergeSha: pr.merge_commit_sha });
          break;
        }
        if (pr.state === 'closed') return { ok: false, error: `revert pull request #${revert.number} was closed without merging` };
        const checks = await readChecks(pr.head.sha);
        // A failing revert stays open for people to look at: closing it would hide the way back.
        if (checks.state === 'failed') return { ok: false, error: `revert pull request #${revert.number}: ${checks.reason}` };
        if (checks.state === 'passed' && revert.autoMerge) {
          const { data: merged } = await github.rest.pulls.merge({ owner, repo, pull_number: revert.number, sha: pr.head.sha, merge_method: 'merge' });
          state = await record(fixId, context, { type: 'RecordReverted', number: revert.number, mergeSha: merged.sha });
          break;
        }
        if (Date.now() >= deadline) return { ok: false, error: `revert pull request #${revert.number} ${revert.autoMerge ? 'checks still running' : 'awaits a human merge'}` };
        await wait(Math.min(options.pollSeconds * 1000, deadline - Date.now()), { numbers: [revert.number], shas: [pr.head.sha] }, since);
      }
      if (state.status === 'none' || !state.revert?.mergeSha) return { ok: false, error: 'the healer is stopping' };
      return { ok: true, detail: `revert pull request #${state.revert.number} merged as ${state.revert.mergeSha.slice(0, 7)}` };
    } catch (error) {
      log.error({ fixId, incidentId: context.incidentId, err: messageOf(error) }, 'github undo failed');
      return { ok: false, error: `GitHub: ${messageOf(error)}` };
    }
  };

  /** A webhook delivery from GitHub: refused unless signed with the shared secret, then wakes the followers it concerns. */
  const handleWebhook = async (request: { headers: Record<string, string | string[] | undefined>; body: string }): Promise<{ status: number; message: string }> => {
    const header = (name: string) => {
      const v = request.headers[name] ?? request.headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    };
    if (!webhooks) return { status: 503, message: 'webhooks are not configured (HEPH_GITHUB_WEBHOOK_SECRET)' };
    const signature = header('x-hub-signature-256');
    const name = header('x-github-event');
    const id = header('x-github-delivery');
    if (!signature || !name || !id) return { status: 400, message: 'missing X-Hub-Signature-256, X-GitHub-Event or X-GitHub-Delivery' };
    if (!(await webhooks.verify(request.body, signature))) {
      log.warn({ event: name, delivery: id }, 'github webhook signature refused');
      return { status: 401, message: 'signature does not match' };
    }
    let payload: unknown;
    try {
      payload = JSON.parse(request.body);
    } catch {
      return { status: 400, message: 'body is not JSON' };
    }
    await webhooks.receive({ id, name, payload } as Parameters<typeof webhooks.receive>[0]);
    return { status: 202, message: 'accepted' };
  };

  /** Records that the deployed fix of this idempotency key passed the remediation's verification. */
  const validated = async (context: UndoContext, detail: string): Promise<ActionResult> => {
    const fixId = fixIdOf(context.idempotencyKey);
    const state = await load(fixId);
    if (state.status !== 'deployed') return { ok: false, error: `fix ${fixId} is ${state.status}, not deployed` };
    await record(fixId, context, { type: 'RecordValidation', ok: true, detail });
    return { ok: true, detail: `fix ${fixId} validated` };
  };

  const stop = async () => {
    stopped = true;
    for (const w of [...waiters]) w.wake();
  };

  return { run, undo, validated, handleWebhook, stop };
};

export type GitHubFixer = ReturnType<typeof createGitHubFixer>;
