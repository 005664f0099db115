// A GitHub stand-in for tests and `heph demo`: one repository with refs, commits, trees, blobs, pull
// requests, labels, reviewers, comments, check runs and commit statuses, served over HTTP on
// 127.0.0.1. Every request and response is checked against GitHub's published OpenAPI description,
// every webhook against the webhook description, and webhooks are signed as GitHub signs them.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { completeFromSchema, restContract, webhookContract, type OperationMatch } from './openapi-contract.ts';

export type ContractViolation = { direction: 'request' | 'response' | 'webhook'; operation: string; errors: string[] };
export type WebhookDelivery = { event: string; action?: string; id: string; status: number | 'unreachable' };

type Commit = { sha: string; tree: string; parents: string[]; message: string; author: { name: string; email: string; date: string } };
type CheckRun = { id: number; name: string; headSha: string; conclusion: 'success' | 'failure'; summary: string };
type CommitStatus = { id: number; sha: string; state: 'success' | 'failure' | 'pending' | 'error'; context: string; description: string };
type PullRequest = {
  number: number;
  title: string;
  body: string;
  head: string;
  base: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergeSha: string | null;
  mergedBy: string | null;
  labels: string[];
  reviewers: string[];
  createdAt: string;
  closedAt: string | null;
};
type Json = Record<string, unknown>;
type Handled = { status: number; body?: unknown };

export type GitHubStandinOptions = {
  owner: string;
  repo: string;
  defaultBranch?: string;
  /** The default branch's first commit: path → content. */
  files: Record<string, string>;
  /** Where webhooks go, and the secret that signs them; none: webhooks are not delivered. */
  webhook?: { url: string; secret: string };
  /** The login the token or installation acts as. */
  botLogin?: string;
  /** Who may be asked for a review; anyone when absent. */
  collaborators?: string[];
};

const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const sha1 = (...parts: Array<string | Buffer>) => {
  const hash = createHash('sha1');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

export type GitHubStandin = Awaited<ReturnType<typeof createGitHubStandin>>;

export const createGitHubStandin = async (options: GitHubStandinOptions) => {
  const rest = restContract();
  const hooks = webhookContract();
  const { owner, repo } = options;
  const fullName = `${owner}/${repo}`;
  const defaultBranch = options.defaultBranch ?? 'main';
  const botLogin = options.botLogin ?? 'heph-bot';
  let webhook = options.webhook;

  const blobs = new Map<string, Buffer>();
  const trees = new Map<string, Map<string, string>>();
  const commits = new Map<string, Commit>();
  const refs = new Map<string, string>();
  const pulls = new Map<number, PullRequest>();
  const comments = new Map<number, Array<{ id: number; body: string; user: string; createdAt: string }>>();
  const checkRuns: CheckRun[] = [];
  const statuses: CommitStatus[] = [];
  const violations: ContractViolation[] = [];
  const deliveries: WebhookDelivery[] = [];
  const requests: Array<{ method: string; operation: string; authorization?: string }> = [];
  let nextId = 1000;
  let nextNumber = 1;
  let baseUrl = '';

  // ---- the git object store ----
  const putBlob = (content: Buffer) => {
    const sha = sha1(`blob ${content.length}\0`, content);
    blobs.set(sha, content);
    return sha;
  };
  const putTree = (entries: Map<string, string>) => {
    const sorted = [...entries.entries()].sort(([a], [b]) => a.localeCompare(b));
    const sha = sha1('tree', JSON.stringify(sorted));
    trees.set(sha, new Map(sorted));
    return sha;
  };
  const putCommit = (tree: string, parents: string[], message: string, author = { name: 'Heph Stand-in', email: 'standin@users.noreply.github.com', date: nowIso() }) => {
    const sha = sha1('commit', tree, parents.join(','), message, author.date, String(nextId++));
    commits.set(sha, { sha, tree, parents, message, author });
    return sha;
  };
  const filesOf = (commitSha: string) => trees.get(commits.get(commitSha)!.tree)!;
  /** Resolves a branch, tag, `heads/x`, `tags/x` or a commit sha to a commit sha. */
  const resolveRef = (ref: string): string | undefined => {
    if (commits.has(ref)) return ref;
    for (const candidate of [ref.replace(/^refs\//, ''), `heads/${ref}`, `tags/${ref}`]) if (refs.has(candidate)) return refs.get(candidate);
    return undefined;
  };
  /** Pushes a commit to a branch: `null` deletes a file. */
  const commitFiles = (branch: string, files: Record<string, string | null>, message: string): string => {
    const parent = refs.get(`heads/${branch}`);
    const entries = new Map(parent ? filesOf(parent) : []);
    for (const [path, content] of Object.entries(files)) {
      if (content === null) entries.delete(path);
      else entries.set(path, putBlob(Buffer.from(content)));
    }
    const sha = putCommit(putTree(entries), parent ? [parent] : [], message);
    refs.set(`heads/${branch}`, sha);
    for (const pr of pulls.values()) {
      if (pr.head === branch && pr.state === 'open') void deliver('pull_request', 'synchronize', { action: 'synchronize', number: pr.number, before: parent ?? sha, after: sha, pull_request: pullCore(pr) });
    }
    return sha;
  };
  commitFiles(defaultBranch, options.files, 'initial commit');

  // ---- JSON shapes GitHub answers with (required fields the healer does not read are completed from the schema) ----
  const api = (path: string) => `${baseUrl}/repos/${fullName}${path}`;
  const html = (path: string) => `${baseUrl}/${fullName}${path}`;
  const user = (login: string) => ({ login, id: sha1(login).charCodeAt(0), node_id: `U_${login}`, type: login.endsWith('[bot]') ? 'Bot' : 'User', url: `${baseUrl}/users/${login}`, html_url: `${baseUrl}/${login}` });
  const complete = (operationId: string, status: number, partial: unknown) => completeFromSchema(rest.responseSchema(operationId, status), partial, rest.resolve, `${baseUrl}/placeholder`);
  const repository = () => ({ id: 1, node_id: 'R_1', name: repo, full_name: fullName, owner: user(owner), private: true, default_branch: defaultBranch, html_url: html(''), url: api('') });
  const gitRef = (ref: string) => ({ ref: `refs/${ref}`, node_id: `REF_${ref}`, url: api(`/git/refs/${ref}`), object: { type: 'commit', sha: refs.get(ref)!, url: api(`/git/commits/${refs.get(ref)}`) } });
  const gitCommit = (c: Commit) => ({
    sha: c.sha,
    node_id: `C_${c.sha}`,
    url: api(`/git/commits/${c.sha}`),
    html_url: html(`/commit/${c.sha}`),
    author: c.author,
    committer: c.author,
    message: c.message,
    tree: { sha: c.tree, url: api(`/git/trees/${c.tree}`) },
    parents: c.parents.map((p) => ({ sha: p, url: api(`/git/commits/${p}`), html_url: html(`/commit/${p}`) })),
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  });
  const treeEntries = (sha: string, recursive: boolean) => {
    const entries = trees.get(sha)!;
    const out: Json[] = [];
    const dirs = new Set<string>();
    for (const [path, blob] of entries) {
      const slash = path.indexOf('/');
      if (!recursive && slash >= 0) {
        dirs.add(path.slice(0, slash));
        continue;
      }
      out.push({ path, mode: '100644', type: 'blob', sha: blob, size: blobs.get(blob)!.length, url: api(`/git/blobs/${blob}`) });
    }
    for (const dir of dirs) {
      const sub = new Map([...entries].filter(([p]) => p.startsWith(`${dir}/`)).map(([p, b]) => [p.slice(dir.length + 1), b]));
      const subSha = putTree(sub);
      out.push({ path: dir, mode: '040000', type: 'tree', sha: subSha, url: api(`/git/trees/${subSha}`) });
    }
    return { sha, url: api(`/git/trees/${sha}`), tree: out, truncated: false };
  };
  const branchShape = (ref: string, sha: string) => ({ label: `${owner}:${ref}`, ref, sha, user: user(owner), repo: repository() });
  /** Fields only the full pull request has; lists and reviewer requests answer the simple one. */
  const fullOnly = ['additions', 'changed_files', 'comments', 'commits', 'deletions', 'maintainer_can_modify', 'mergeable', 'mergeable_state', 'merged', 'merged_by', 'review_comments', 'rebaseable'];
  const simplePull = (pr: PullRequest) => Object.fromEntries(Object.entries(pullShape(pr, 'pulls/get', 200) as Json).filter(([k]) => !fullOnly.includes(k)));
  const pullShape = (pr: PullRequest, operationId: string, status: number) => complete(operationId, status, pullCore(pr));
  /** The fields of a pull request the stand-in knows; REST answers and webhook payloads complete the rest from their own schemas. */
  const pullCore = (pr: PullRequest) => ({
      url: api(`/pulls/${pr.number}`),
      id: pr.number + 5000,
      node_id: `PR_${pr.number}`,
      html_url: html(`/pull/${pr.number}`),
      number: pr.number,
      state: pr.state,
      locked: false,
      title: pr.title,
      body: pr.body,
      user: user(botLogin),
      labels: pr.labels.map((name, i) => ({ id: i + 1, node_id: `L_${name}`, url: api(`/labels/${name}`), name, description: '', color: 'ededed', default: false })),
      requested_reviewers: pr.reviewers.map(user),
      head: branchShape(pr.head, refs.get(`heads/${pr.head}`) ?? pr.mergeSha ?? ''),
      base: branchShape(pr.base, refs.get(`heads/${pr.base}`)!),
      created_at: pr.createdAt,
      updated_at: nowIso(),
      closed_at: pr.closedAt,
      merged_at: pr.merged ? pr.closedAt : null,
      merged: pr.merged,
      merge_commit_sha: pr.mergeSha,
      merged_by: pr.mergedBy ? user(pr.mergedBy) : null,
      draft: false,
      mergeable: pr.state === 'open' ? true : null,
  });
  const checkRunShape = (run: CheckRun) => ({
    id: run.id,
    node_id: `CR_${run.id}`,
    head_sha: run.headSha,
    name: run.name,
    url: api(`/check-runs/${run.id}`),
    html_url: html(`/runs/${run.id}`),
    details_url: html(`/runs/${run.id}`),
    status: 'completed',
    conclusion: run.conclusion,
    started_at: nowIso(),
    completed_at: nowIso(),
    external_id: String(run.id),
    check_suite: { id: run.id + 1 },
    output: { title: run.conclusion === 'success' ? `${run.name} passed` : `${run.name} failed`, summary: run.summary, text: null, annotations_count: 0, annotations_url: api(`/check-runs/${run.id}/annotations`) },
    app: null,
    pull_requests: [],
  });
  const combinedStatus = (sha: string) => {
    // The newest status per context counts, as on GitHub.
    const latest = new Map<string, CommitStatus>();
    for (const s of statuses) if (s.sha === sha) latest.set(s.context, s);
    const list = [...latest.values()];
    const state = list.length === 0 ? 'pending' : list.some((s) => s.state === 'failure' || s.state === 'error') ? 'failure' : list.every((s) => s.state === 'success') ? 'success' : 'pending';
    return complete('repos/get-combined-status-for-ref', 200, {
      state,
      sha,
      total_count: list.length,
      statuses: list.map((s) => ({ url: api(`/statuses/${sha}`), avatar_url: null, id: s.id, node_id: `ST_${s.id}`, state: s.state, description: s.description, target_url: null, context: s.context, created_at: nowIso(), updated_at: nowIso() })),
      repository: repository(),
      commit_url: api(`/commits/${sha}`),
      url: api(`/commits/${sha}/status`),
    });
  };

  // ---- the REST operations the healer uses, by GitHub's operation id ----
  const notFound: Handled = { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' } };
  const invalid = (message: string): Handled => ({ status: 422, body: { message, documentation_url: 'https://docs.github.com/rest', errors: [message] } });
  const findPull = (params: Record<string, string>) => pulls.get(Number(params.pull_number ?? params.issue_number));

  const handlers: Record<string, (m: OperationMatch, query: URLSearchParams, body: Json) => Handled> = {
    'apps/create-installation-access-token': () => ({
      status: 201,
      body: complete('apps/create-installation-access-token', 201, { token: `ghs_standin${nextId++}`, expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: {}, repository_selection: 'selected' }),
    }),
    'repos/get': () => ({ status: 200, body: complete('repos/get', 200, repository()) }),
    'git/get-ref': (m) => (refs.has(m.params.ref!) ? { status: 200, body: gitRef(m.params.ref!) } : notFound),
    'git/create-ref': (_m, _q, body) => {
      const ref = String(body.ref).replace(/^refs\//, '');
      if (refs.has(ref)) return invalid('Reference already exists');
      if (!commits.has(String(body.sha))) return invalid('Object does not exist');
      refs.set(ref, String(body.sha));
      return { status: 201, body: gitRef(ref) };
    },
    'git/update-ref': (m, _q, body) => {
      const ref = m.params.ref!;
      const current = refs.get(ref);
      if (!current) return invalid('Reference does not exist');
      const next = String(body.sha);
      if (!commits.has(next)) return invalid('Object does not exist');
      // Without force, only a fast-forward is allowed.
      let cursor: string | undefined = next;
      while (cursor && cursor !== current && body.force !== true) cursor = commits.get(cursor)?.parents[0];
      if (body.force !== true && cursor !== current) return invalid('Update is not a fast forward');
      refs.set(ref, next);
      return { status: 200, body: gitRef(ref) };
    },
    'git/get-commit': (m) => {
      const c = commits.get(m.params.commit_sha!);
      return c ? { status: 200, body: gitCommit(c) } : notFound;
    },
    'git/create-commit': (_m, _q, body) => {
      if (!trees.has(String(body.tree))) return invalid('Tree SHA does not exist');
      const parents = ((body.parents as string[] | undefined) ?? []).map(String);
      if (parents.some((p) => !commits.has(p))) return invalid('Parent SHA does not exist or is not a commit object');
      const author = body.author as { name: string; email: string; date?: string } | undefined;
      const sha = putCommit(String(body.tree), parents, String(body.message), author ? { name: author.name, email: author.email, date: author.date ?? nowIso() } : undefined);
      return { status: 201, body: gitCommit(commits.get(sha)!) };
    },
    'git/create-blob': (_m, _q, body) => {
      const content = body.encoding === 'base64' ? Buffer.from(String(body.content), 'base64') : Buffer.from(String(body.content), 'utf8');
      const sha = putBlob(content);
      return { status: 201, body: { sha, url: api(`/git/blobs/${sha}`) } };
    },
    'git/create-tree': (_m, _q, body) => {
      const base = body.base_tree ? trees.get(String(body.base_tree)) : new Map<string, string>();
      if (!base) return invalid('base_tree is not a valid tree oid');
      const entries = new Map(base);
      for (const e of body.tree as Array<{ path: string; sha?: string | null; content?: string; type?: string }>) {
        if (e.sha === null) entries.delete(e.path);
        else if (e.content !== undefined) entries.set(e.path, putBlob(Buffer.from(e.content)));
        else if (e.sha && blobs.has(e.sha)) entries.set(e.path, e.sha);
        else return invalid(`tree.sha ${e.sha} wasn't found`);
      }
      const sha = putTree(entries);
      return { status: 201, body: treeEntries(sha, true) };
    },
    'git/get-tree': (m, query) => {
      const sha = trees.has(m.params.tree_sha!) ? m.params.tree_sha! : commits.get(resolveRef(m.params.tree_sha!) ?? '')?.tree;
      if (!sha) return notFound;
      return { status: 200, body: treeEntries(sha, query.has('recursive')) };
    },
    'repos/get-content': (m, query) => {
      const commit = resolveRef(query.get('ref') ?? defaultBranch);
      const path = m.params.path!;
      const blob = commit ? filesOf(commit).get(path) : undefined;
      if (!blob) return notFound;
      const content = blobs.get(blob)!;
      return {
        status: 200,
        body: {
          type: 'file',
          encoding: 'base64',
          size: content.length,
          name: path.split('/').at(-1)!,
          path,
          content: content.toString('base64'),
          sha: blob,
          url: api(`/contents/${path}`),
          git_url: api(`/git/blobs/${blob}`),
          html_url: html(`/blob/${commit}/${path}`),
          download_url: null,
          _links: { self: api(`/contents/${path}`), git: api(`/git/blobs/${blob}`), html: html(`/blob/${commit}/${path}`) },
        },
      };
    },
    'pulls/create': (_m, _q, body) => {
      const head = String(body.head).replace(`${owner}:`, '');
      const base = String(body.base);
      if (!refs.has(`heads/${head}`) || !refs.has(`heads/${base}`)) return invalid('head or base branch does not exist');
      if ([...pulls.values()].some((p) => p.head === head && p.state === 'open')) return invalid(`A pull request already exists for ${owner}:${head}.`);
      const pr: PullRequest = { number: nextNumber++, title: String(body.title), body: String(body.body ?? ''), head, base, state: 'open', merged: false, mergeSha: null, mergedBy: null, labels: [], reviewers: [], createdAt: nowIso(), closedAt: null };
      pulls.set(pr.number, pr);
      void deliver('pull_request', 'opened', { action: 'opened', number: pr.number, pull_request: pullCore(pr) });
      return { status: 201, body: pullShape(pr, 'pulls/create', 201) };
    },
    'pulls/list': (_m, query) => {
      const state = query.get('state') ?? 'open';
      const head = query.get('head')?.replace(`${owner}:`, '');
      const list = [...pulls.values()].filter((p) => (state === 'all' || p.state === state) && (!head || p.head === head));
      return { status: 200, body: list.map(simplePull) };
    },
    'pulls/get': (m) => {
      const pr = findPull(m.params);
      return pr ? { status: 200, body: pullShape(pr, 'pulls/get', 200) } : notFound;
    },
    'pulls/update': (m, _q, body) => {
      const pr = findPull(m.params);
      if (!pr) return notFound;
      if (body.state === 'closed' && pr.state === 'open') {
        pr.state = 'closed';
        pr.closedAt = nowIso();
        void deliver('pull_request', 'closed', { action: 'closed', number: pr.number, pull_request: pullCore(pr) });
      }
      if (typeof body.title === 'string') pr.title = body.title;
      if (typeof body.body === 'string') pr.body = body.body;
      return { status: 200, body: pullShape(pr, 'pulls/update', 200) };
    },
    'pulls/merge': (m, _q, body) => {
      const pr = findPull(m.params);
      if (!pr) return notFound;
      if (pr.state !== 'open') return { status: 405, body: { message: 'Pull Request is not mergeable', documentation_url: 'https://docs.github.com/rest' } };
      if (body?.sha && body.sha !== refs.get(`heads/${pr.head}`)) return { status: 409, body: { message: 'Head branch was modified. Review and try the merge again.', documentation_url: 'https://docs.github.com/rest' } };
      const sha = merge(pr, botLogin, String(body?.commit_title ?? `Merge pull request #${pr.number}`));
      return { status: 200, body: { sha, merged: true, message: 'Pull Request successfully merged' } };
    },
    'pulls/request-reviewers': (m, _q, body) => {
      const pr = findPull(m.params);
      if (!pr) return notFound;
      const asked = (body.reviewers as string[] | undefined) ?? [];
      // GitHub's description documents this 422 without a body.
      if (options.collaborators && asked.some((r) => !options.collaborators!.includes(r))) return { status: 422 };
      for (const r of asked) if (!pr.reviewers.includes(r)) pr.reviewers.push(r);
      return { status: 201, body: simplePull(pr) };
    },
    'issues/add-labels': (m, _q, body) => {
      const pr = findPull(m.params);
      if (!pr) return notFound;
      const names = Array.isArray(body) ? body : ((body.labels as Array<string | { name: string }>) ?? []);
      for (const l of names) {
        const name = typeof l === 'string' ? l : l.name;
        if (!pr.labels.includes(name)) pr.labels.push(name);
      }
      return { status: 200, body: pr.labels.map((name, i) => ({ id: i + 1, node_id: `L_${name}`, url: api(`/labels/${name}`), name, description: null, color: 'ededed', default: false })) };
    },
    'issues/create-comment': (m, _q, body) => {
      const pr = findPull(m.params);
      if (!pr) return notFound;
      const comment = { id: nextId++, body: String(body.body), user: botLogin, createdAt: nowIso() };
      comments.set(pr.number, [...(comments.get(pr.number) ?? []), comment]);
      return {
        status: 201,
        body: complete('issues/create-comment', 201, {
          id: comment.id,
          node_id: `IC_${comment.id}`,
          url: api(`/issues/comments/${comment.id}`),
          html_url: html(`/pull/${pr.number}#issuecomment-${comment.id}`),
          issue_url: api(`/issues/${pr.number}`),
          body: comment.body,
          user: user(botLogin),
          created_at: comment.createdAt,
          updated_at: comment.createdAt,
          author_association: 'NONE',
        }),
      };
    },
    'checks/list-for-ref': (m) => {
      const sha = resolveRef(m.params.ref!);
      const runs = checkRuns.filter((r) => r.headSha === sha);
      return { status: 200, body: complete('checks/list-for-ref', 200, { total_count: runs.length, check_runs: runs.map(checkRunShape) }) };
    },
    'repos/get-combined-status-for-ref': (m) => {
      const sha = resolveRef(m.params.ref!);
      return sha ? { status: 200, body: combinedStatus(sha) } : notFound;
    },
  };

  const merge = (pr: PullRequest, by: string, title: string): string => {
    const head = refs.get(`heads/${pr.head}`)!;
    const base = refs.get(`heads/${pr.base}`)!;
    // A merge commit whose tree is the head's: the stand-in's branches start from the base head.
    const sha = putCommit(commits.get(head)!.tree, [base, head], title);
    refs.set(`heads/${pr.base}`, sha);
    pr.state = 'closed';
    pr.merged = true;
    pr.mergeSha = sha;
    pr.mergedBy = by;
    pr.closedAt = nowIso();
    void deliver('pull_request', 'closed', { action: 'closed', number: pr.number, pull_request: pullCore(pr) });
    return sha;
  };

  // ---- webhooks, signed as GitHub signs them (X-Hub-Signature-256: HMAC-SHA256 of the raw body) ----
  const webhookName = (event: string, action?: string) => (action ? `${event.replace(/_/g, '-')}-${action}` : event.replace(/_/g, '-'));
  const pending = new Set<Promise<unknown>>();
  const deliver = async (event: string, action: string | undefined, partial: Json) => {
    const name = webhookName(event, action);
    const payload = completeFromSchema(hooks.bodySchema(name), { ...partial, repository: { ...repository(), owner: { ...user(owner), type: 'Organization' } }, sender: user(botLogin) }, hooks.resolve, `${baseUrl}/placeholder`);
    const errors = hooks.validate(name, payload);
    if (errors.length > 0) violations.push({ direction: 'webhook', operation: name, errors });
    if (!webhook) return;
    const body = JSON.stringify(payload);
    const id = randomUUID();
    const send = fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/stand-in',
        'x-github-event': event,
        'x-github-delivery': id,
        'x-github-hook-id': '1',
        'x-hub-signature-256': `sha256=${createHmac('sha256', webhook.secret).update(body).digest('hex')}`,
      },
      body,
    })
      .then(async (r) => {
        await r.arrayBuffer();
        deliveries.push({ event, action, id, status: r.status });
      })
      .catch(() => deliveries.push({ event, action, id, status: 'unreachable' }));
    pending.add(send);
    await send;
    pending.delete(send);
  };

  // ---- HTTP ----
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json', 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600), 'x-ratelimit-resource': 'core' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', baseUrl);
    const method = req.method ?? 'GET';
    const m = rest.match(method, url.pathname);
    if (!m) {
      violations.push({ direction: 'request', operation: `${method} ${url.pathname}`, errors: ['GitHub has no such operation'] });
      return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    }
    requests.push({ method, operation: m.operationId, authorization: req.headers.authorization });
    if (!req.headers.authorization) return send(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/rest' });
    }
    const requestErrors = rest.validateRequest(m, { query: url.searchParams, body });
    if (requestErrors.length > 0) {
      violations.push({ direction: 'request', operation: m.operationId, errors: requestErrors });
      return send(res, 500, { message: `stand-in: request does not match GitHub's description of ${m.operationId}`, errors: requestErrors });
    }
    const handler = handlers[m.operationId];
    if (!handler) {
      violations.push({ direction: 'request', operation: m.operationId, errors: ['the stand-in does not implement this operation'] });
      return send(res, 500, { message: `stand-in: ${m.operationId} is not implemented` });
    }
    const result = handler(m, url.searchParams, (body ?? {}) as Json);
    const responseErrors = rest.validateResponse(m, result.status, result.body);
    if (responseErrors.length > 0) {
      violations.push({ direction: 'response', operation: m.operationId, errors: responseErrors });
      return send(res, 500, { message: `stand-in: response does not match GitHub's description of ${m.operationId}`, errors: responseErrors });
    }
    send(res, result.status, result.body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      violations.push({ direction: 'response', operation: `${req.method} ${req.url}`, errors: [error instanceof Error ? error.stack ?? error.message : String(error)] });
      if (!res.headersSent) send(res, 500, { message: 'stand-in error' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const requirePull = (number: number) => {
    const pr = pulls.get(number);
    if (!pr) throw new Error(`stand-in: no pull request #${number}`);
    return pr;
  };

  return {
    url: baseUrl,
    repository: fullName,
    defaultBranch,
    /** Every request, response or webhook that did not match GitHub's description. */
    violations,
    deliveries,
    requests,
    setWebhook: (next: { url: string; secret: string } | undefined) => {
      webhook = next;
    },
    commitFiles,
    /** A lightweight tag on a commit. */
    tag: (name: string, sha: string) => void refs.set(`tags/${name}`, sha),
    headOf: (branch: string) => refs.get(`heads/${branch}`),
    fileAt: (ref: string, path: string): string | undefined => {
      const sha = resolveRef(ref);
      const blob = sha ? filesOf(sha).get(path) : undefined;
      return blob ? blobs.get(blob)!.toString('utf8') : undefined;
    },
    commit: (sha: string) => commits.get(sha),
    pull: (number: number) => ({ ...requirePull(number) }),
    pullRequests: () => [...pulls.values()].map((p) => ({ ...p })),
    comments: (number: number) => (comments.get(number) ?? []).map((c) => c.body),
    /** CI finished on a commit: a completed check run, then the check_run and check_suite webhooks. */
    completeCheck: async (sha: string, conclusion: 'success' | 'failure', check: { name?: string; summary?: string } = {}) => {
      const run: CheckRun = { id: nextId++, name: check.name ?? 'test', headSha: sha, conclusion, summary: check.summary ?? (conclusion === 'success' ? 'all tests passed' : 'tests failed') };
      checkRuns.push(run);
      const prs = [...pulls.values()].filter((p) => refs.get(`heads/${p.head}`) === sha).map((p) => ({ id: p.number + 5000, number: p.number, url: api(`/pulls/${p.number}`), head: { ref: p.head, sha, repo: { id: 1, name: repo, url: api('') } }, base: { ref: p.base, sha: refs.get(`heads/${p.base}`)!, repo: { id: 1, name: repo, url: api('') } } }));
      const suite = { id: run.id + 1, node_id: `CS_${run.id + 1}`, head_branch: prs[0]?.head.ref ?? null, head_sha: sha, status: 'completed', conclusion, url: api(`/check-suites/${run.id + 1}`), before: null, after: sha, pull_requests: prs, app: null, created_at: nowIso(), updated_at: nowIso(), latest_check_runs_count: 1, check_runs_url: api(`/check-suites/${run.id + 1}/check-runs`), head_commit: { id: sha, tree_id: commits.get(sha)?.tree ?? sha, message: commits.get(sha)?.message ?? '', timestamp: nowIso(), author: { name: 'Heph Stand-in', email: 'standin@users.noreply.github.com' }, committer: { name: 'Heph Stand-in', email: 'standin@users.noreply.github.com' } } };
      const { check_runs_url: _runs, head_commit: _commit, latest_check_runs_count: _count, ...suiteOfRun } = suite;
      await deliver('check_run', 'completed', { action: 'completed', check_run: { ...checkRunShape(run), check_suite: suiteOfRun, pull_requests: prs } });
      await deliver('check_suite', 'completed', { action: 'completed', check_suite: suite });
    },
    /** A commit status (the older statuses API some CI systems use), then the status webhook. */
    setStatus: async (sha: string, state: CommitStatus['state'], context: string, description: string) => {
      const status: CommitStatus = { id: nextId++, sha, state, context, description };
      statuses.push(status);
      const c = commits.get(sha)!;
      const who = { name: c.author.name, email: c.author.email, date: c.author.date };
      await deliver('status', undefined, {
        id: status.id,
        sha,
        name: fullName,
        state,
        context,
        description,
        target_url: null,
        avatar_url: null,
        branches: [],
        created_at: nowIso(),
        updated_at: nowIso(),
        commit: { sha, node_id: `C_${sha}`, url: api(`/commits/${sha}`), html_url: html(`/commit/${sha}`), comments_url: api(`/commits/${sha}/comments`), author: null, committer: null, parents: c.parents.map((p) => ({ sha: p, url: api(`/commits/${p}`), html_url: html(`/commit/${p}`) })), commit: { author: who, committer: who, message: c.message, tree: { sha: c.tree, url: api(`/git/trees/${c.tree}`) }, url: api(`/git/commits/${sha}`), comment_count: 0, verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null } } },
      });
    },
    /** A human merges the pull request in the web interface. */
    mergeAsHuman: async (number: number, login = 'octo-reviewer') => {
      const sha = merge(requirePull(number), login, `Merge pull request #${number}`);
      await Promise.all(pending);
      return sha;
    },
    /** Waits for webhooks still in flight. */
    settle: async () => {
      await Promise.all(pending);
    },
    close: async () => {
      await Promise.all(pending);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
