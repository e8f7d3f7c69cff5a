/** How gatehouse stores secrets it must recognise but never reveal: SHA-256, base64url. */
import { createHash } from 'node:crypto';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
