/**
 * What a preset stands for: where its issuer (or, for GitHub, its OAuth 2 endpoints)
 * live, and the scopes and button text it starts with. A provider's own settings
 * override these.
 */
export type PresetName = 'google' | 'microsoft' | 'gitlab' | 'github';
export const PRESETS: readonly PresetName[] = ['google', 'microsoft', 'gitlab', 'github'];

export interface Preset {
  name: string;
  scopes: string[];
  /** The issuer of an OpenID Connect preset; Microsoft's has `{tenant}` in it. */
  issuer?: string;
}

const OIDC_SCOPES = ['openid', 'email', 'profile'];

export const PRESET: Record<PresetName, Preset> = {
  google: { name: 'Google', scopes: OIDC_SCOPES, issuer: 'https://accounts.google.com' },
  // Entra ID: one issuer per tenant. With `common` or `organizations` the discovery document names
  // `{tenantid}`, which openid-client fills from each ID token's `tid`.
  microsoft: { name: 'Microsoft', scopes: OIDC_SCOPES, issuer: 'https://login.microsoftonline.com/{tenant}/v2.0' },
  gitlab: { name: 'GitLab', scopes: OIDC_SCOPES, issuer: 'https://gitlab.com' },
  // GitHub has no OpenID Connect: plain OAuth 2, then its user and email APIs.
  github: { name: 'GitHub', scopes: ['read:user', 'user:email'] },
};

/** Microsoft's issuer for a tenant (a tenant ID, a verified domain, or common / organizations / consumers). */
export const microsoftIssuer = (tenant: string) => PRESET.microsoft.issuer!.replace('{tenant}', encodeURIComponent(tenant));

/** GitHub's endpoints; for GitHub Enterprise Server, `github_url` and `github_api_url` move them. */
export interface GitHubEndpoints {
  authorization: string;
  token: string;
  user: string;
  emails: string;
}

export const GITHUB_URL = 'https://github.com';
export const GITHUB_API_URL = 'https://api.github.com';

export function githubEndpoints(webUrl = GITHUB_URL, apiUrl = GITHUB_API_URL): GitHubEndpoints {
  return {
    authorization: `${webUrl}/login/oauth/authorize`,
    token: `${webUrl}/login/oauth/access_token`,
    user: `${apiUrl}/user`,
    emails: `${apiUrl}/user/emails`,
  };
}
