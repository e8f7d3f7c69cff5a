/**
 * Passkeys (WebAuthn): the only module that uses @simplewebauthn/server. The
 * relying party is public_url: its host is the rpID, its origin the expected origin.
 * Challenges are one-time tokens (single use, five minutes); sign counters must grow.
 */
import type { AuthenticationResponseJSON, AuthenticatorTransport, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Clock } from '../clock.js';
import { fail } from '../errors.js';
import { selfActor, SYSTEM_ACTOR, type AuditLog } from '../audit.js';
import { StoreConflict, type Store, type User } from '../store/types.js';
import { sha256 } from './digest.js';

const CHALLENGE_TTL = 5 * 60_000;

/** Loaded on first use: the library and its ASN.1/CBOR stack cost ~18 MiB of memory that most deployments never need. */
const webauthn = () => import('@simplewebauthn/server');

const refused = () => fail('passkey_refused');

export class Passkeys {
  readonly #rpID: string;
  readonly #origin: string;

  constructor(
    private readonly deps: { store: Store; clock: Clock; audit: AuditLog; publicUrl: string },
  ) {
    const url = new URL(deps.publicUrl);
    this.#rpID = url.hostname;
    this.#origin = url.origin;
  }

  async registrationOptions(user: User) {
    const existing = await this.deps.store.listCredentials(user.id);
    const { generateRegistrationOptions } = await webauthn();
    const options = await generateRegistrationOptions({
      rpName: this.#rpID,
      rpID: this.#rpID,
      userName: user.username,
      userDisplayName: user.displayName ?? user.username,
      userID: new TextEncoder().encode(user.id),
      excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransport[] })),
      // Discoverable, so the passkey can sign in without a username.
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    });
    await this.#remember(options.challenge, user.id, 'register');
    return options;
  }

  async register(user: User, response: unknown, name: string, address?: string): Promise<void> {
    const { verifyRegistrationResponse } = await webauthn();
    const verification = await verifyRegistrationResponse({
      response: response as RegistrationResponseJSON,
      expectedChallenge: (challenge) => this.#consume(challenge, user.id, 'register'),
      expectedOrigin: this.#origin,
      expectedRPID: this.#rpID,
      requireUserVerification: false,
    }).catch(() => undefined);
    if (!verification?.verified || !verification.registrationInfo) throw fail('passkey_not_registered');
    const { credential } = verification.registrationInfo;
    await this.deps.store
      .addCredential({
        id: credential.id,
        userId: user.id,
        publicKey: Buffer.from(credential.publicKey).toString('base64url'),
        counter: credential.counter,
        transports: credential.transports ?? [],
        name,
        createdAt: this.deps.clock.now(),
        lastUsedAt: null,
      })
      .catch((error: unknown) => {
        // SPEC section 7: a credential ID another account (or this one) holds is 409.
        if (error instanceof StoreConflict) throw fail('credential_taken');
        throw error;
      });
    await this.deps.audit.record({ type: 'passkey_added', user, actor: selfActor(user), address, details: { name } });
  }

  /**
   * Options for a sign-in; with `user`, only that user's passkeys (a second factor:
   * presence is enough), else any (username-less: the passkey is the whole sign-in,
   * so the authenticator must verify the user).
   */
  async authenticationOptions(user?: User) {
    const allow = user ? await this.deps.store.listCredentials(user.id) : [];
    const { generateAuthenticationOptions } = await webauthn();
    const options = await generateAuthenticationOptions({
      rpID: this.#rpID,
      userVerification: user ? 'preferred' : 'required',
      allowCredentials: allow.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransport[] })),
    });
    await this.#remember(options.challenge, user?.id ?? null, 'login');
    return options;
  }

  /**
   * The user a passkey assertion proves; with `expectedUser`, it must be that user's
   * passkey. Without one, the passkey is the whole sign-in: the authenticator must
   * have verified the user (UV), whatever the client asked for (SPEC section 7).
   */
  async authenticate(response: unknown, expectedUser?: User, address?: string): Promise<User> {
    const { store, clock, audit } = this.deps;
    const id = (response as { id?: unknown } | null)?.id;
    const credential = typeof id === 'string' && id.length < 1024 ? await store.findCredential(id) : undefined;
    if (!credential || (expectedUser && credential.userId !== expectedUser.id)) throw refused();
    const { verifyAuthenticationResponse } = await webauthn();
    const verification = await verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      expectedChallenge: (challenge) => this.#consume(challenge, expectedUser?.id ?? null, 'login'),
      expectedOrigin: this.#origin,
      expectedRPID: this.#rpID,
      credential: {
        id: credential.id,
        publicKey: Buffer.from(credential.publicKey, 'base64url'),
        counter: credential.counter,
        transports: credential.transports as AuthenticatorTransport[],
      },
      requireUserVerification: false,
    }).catch(() => undefined);
    if (!verification?.verified) throw refused();
    const user = await store.findUserById(credential.userId);
    if (!expectedUser && !verification.authenticationInfo.userVerified) {
      void audit.record({ type: 'login_failed', user, actor: user ? selfActor(user) : SYSTEM_ACTOR, address, details: { reason: 'passkey_without_user_verification' } });
      throw fail('user_verification_required');
    }
    if (!(await store.useCredential(credential.id, verification.authenticationInfo.newCounter, clock.now()))) {
      // A cloned authenticator: gatehouse refuses it on its own.
      await audit.record({ type: 'passkey_counter_regressed', user, actor: SYSTEM_ACTOR, address, details: { credential: credential.id }, level: 'warn' });
      throw refused();
    }
    if (!user || user.disabled) throw refused();
    return user;
  }

  async #remember(challenge: string, userId: string | null, kind: string): Promise<void> {
    await this.deps.store.createOneTimeToken({
      hash: sha256(challenge),
      purpose: 'webauthn',
      userId,
      data: kind,
      expiresAt: this.deps.clock.now() + CHALLENGE_TTL,
    });
  }

  /** Single use: the challenge is consumed by the first verification that presents it. */
  async #consume(challenge: string, userId: string | null, kind: string): Promise<boolean> {
    const token = await this.deps.store.consumeOneTimeToken(sha256(challenge), 'webauthn', this.deps.clock.now());
    return token !== undefined && token.data === kind && token.userId === userId;
  }
}
