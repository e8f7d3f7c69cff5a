/** Group names (SPEC section 11), one rule wherever a name comes in: the API, invites, the CLI. */
import { fail } from '../errors.js';
import { GROUP_NAME } from '../store/types.js';

/** How many groups one invite or new account may name. */
export const MAX_GROUPS = 50;

/** 1–64 of A-Z a-z 0-9 . _ - (names keep the case given), and not dots alone. */
export const isGroupName = (group: string): boolean =>
  // '.' and '..' would be dot segments in /_auth/admin/users/{id}/groups/{group}: no URL could name them.
  GROUP_NAME.test(group) && group !== '.' && group !== '..';

/** 400 for a name isGroupName refuses. */
export function checkGroupName(group: string): string {
  if (!isGroupName(group)) {
    throw fail('invalid_field', 'A group name has 1 to 64 letters (A-Z, a-z), digits, dots, dashes and underscores, and is not "." or "..".');
  }
  return group;
}

/** A list of group names (absent: none), each checked, at most MAX_GROUPS; repeats count once. */
export function checkGroupNames(groups: unknown): string[] {
  if (groups === undefined || groups === null) return [];
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS || !groups.every((group) => typeof group === 'string')) {
    throw fail('invalid_field', `"groups" is a list of at most ${MAX_GROUPS} group names.`);
  }
  return [...new Set(groups.map(checkGroupName))];
}
