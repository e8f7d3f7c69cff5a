/** Passkeys: registering one while signed in, signing in with one, and managing them. SPEC section 7. */
import { selfActor } from '../audit.js';
import { clientAddress } from '../auth/forwarded.js';
import { fail } from '../errors.js';
import { parseBody, stringField } from '../http.js';
import type { Scope } from '../scope.js';
import { limitAddress, returnUrl } from './common.js';
import { finishSignIn, pendingToken } from './sign-in.js';

export async function passkeyRegistrationOptions(scope: Scope): Promise<void> {
  scope.json(200, await scope.services.passkeys.registrationOptions(scope.caller.user));
}

export async function registerPasskey(scope: Scope): Promise<void> {
  const { fields } = await parseBody(scope.req);
  const name = stringField(fields, 'name', { max: 64 }) ?? 'Passkey';
  await scope.services.passkeys.register(scope.caller.user, fields['response'], name, clientAddress(scope.req, scope.services.trusted));
  scope.json(201, { status: 'passkey_added' });
}

/** Options for a username-less sign-in, or, during a pending sign-in, for its user's passkeys. */
export async function passkeyLoginOptions(scope: Scope): Promise<void> {
  const { fields } = await parseBody(scope.req);
  await limitAddress(scope, 'passkey_challenge');
  const token = pendingToken(scope, fields);
  const pending = token ? await scope.services.secondFactors.pending(token) : undefined;
  scope.json(200, await scope.services.passkeys.authenticationOptions(pending?.user));
}

/** A passkey sign-in is complete by itself; it also completes a pending second step. */
export async function passkeyLogin(scope: Scope): Promise<void> {
  const { services } = scope;
  const { fields } = await parseBody(scope.req);
  const token = pendingToken(scope, fields);
  const pending = token ? await services.secondFactors.pending(token) : undefined;
  if (token && !pending) throw fail('invalid_mfa_token');
  const user = await services.passkeys.authenticate(fields['response'], pending?.user, clientAddress(scope.req, services.trusted));
  if (pending && !(await services.secondFactors.complete(token))) throw fail('invalid_mfa_token');
  const rd = pending?.rd ?? returnUrl(scope, fields['rd']);
  await finishSignIn(scope, user, { rd, method: 'passkey', kind: 'json', providerSession: pending?.providerSession });
}

export async function listPasskeys(scope: Scope): Promise<void> {
  const credentials = await scope.services.store.listCredentials(scope.caller.user.id);
  scope.json(200, {
    passkeys: credentials.map((c) => ({ id: c.id, name: c.name, created_at: new Date(c.createdAt).toISOString(), last_used_at: c.lastUsedAt && new Date(c.lastUsedAt).toISOString() })),
  });
}

const credentialId = (scope: Scope) => scope.params['id']!;

export async function renamePasskey(scope: Scope): Promise<void> {
  const { fields } = await parseBody(scope.req);
  const name = stringField(fields, 'name', { required: true, max: 64 });
  if (!(await scope.services.store.renameCredential(scope.caller.user.id, credentialId(scope), name))) throw fail('not_found');
  scope.json(200, { status: 'renamed' });
}

export async function deletePasskey(scope: Scope): Promise<void> {
  const { user } = scope.caller;
  const { services } = scope;
  if (!(await services.store.deleteCredential(user.id, credentialId(scope)))) throw fail('not_found');
  await services.audit.record({ type: 'passkey_removed', user, actor: selfActor(user), address: clientAddress(scope.req, services.trusted), details: { credential: credentialId(scope) } });
  scope.json(200, { status: 'deleted' });
}
