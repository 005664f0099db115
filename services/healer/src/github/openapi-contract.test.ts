// GitHub's published description as the stand-in's contract: operations found by method and path
// template, and the drift it must catch in responses and webhooks.
import { describe, expect, it } from 'vitest';
import { restContract, webhookContract } from './openapi-contract.ts';

describe('github openapi contract', () => {
  it('finds the operation by method and path template, a ref spanning several path segments included', () => {
    expect(restContract().match('GET', '/repos/acme/agents/git/ref/heads/heph/fix-1')).toEqual({
      operationId: 'git/get-ref',
      method: 'GET',
      template: '/repos/{owner}/{repo}/git/ref/{ref}',
      params: { owner: 'acme', repo: 'agents', ref: 'heads/heph/fix-1' },
    });
    expect(restContract().match('PUT', '/repos/acme/agents/pulls/3/merge')?.operationId).toBe('pulls/merge');
    expect(restContract().match('POST', '/repos/acme/agents/no-such-thing')).toBeUndefined();
  });

  it('refuses a response with a missing field, a wrong type, a misspelt field or an undocumented status', () => {
    const rest = restContract();
    const m = rest.match('GET', '/repos/acme/agents/git/ref/heads%2Fmain')!;
    const sha = 'a'.repeat(40);
    const good = { ref: 'refs/heads/main', node_id: 'REF_1', url: 'http://127.0.0.1:1/r', object: { type: 'commit', sha, url: 'http://127.0.0.1:1/c' } };
    expect(rest.validateResponse(m, 200, good)).toEqual([]);
    expect(rest.validateResponse(m, 200, { ...good, node_id: undefined })).toEqual(["response 200 body must have required property 'node_id' {\"missingProperty\":\"node_id\"}"]);
    expect(rest.validateResponse(m, 200, { ...good, object: { ...good.object, sha: 42 } })[0]).toMatch(/^response 200 body\/object\/sha must be string/);
    expect(rest.validateResponse(m, 200, { ...good, object: { ...good.object, commit_sha: sha } })).toEqual(["response 200 body/object has property commit_sha, which GitHub's description does not name"]);
    expect(rest.validateResponse(m, 418, {})).toEqual(['git/get-ref does not document status 418']);
  });

  it('refuses a webhook payload that does not match the webhook description', () => {
    const errors = webhookContract().validate('check-suite-completed', { action: 'completed', check_suite: { head_sha: 1 } });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toContain("must have required property 'repository'");
  });
});
