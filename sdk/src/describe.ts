// Describing untrusted values in error messages and logs (the game server's and the agent
// environments' protocols share it): never a conversion of the value itself.
/**
 * A client-supplied value described for an error message or a log line, without ever
 * converting it (no `String()`, no template of it: an object's toString or a getter may
 * throw or lie): strings quoted, cut and escaped; numbers as they are; anything else by kind.
 */
export function describeValue(v: unknown, maxChars = 32): string {
  switch (typeof v) {
    case 'string': {
      const cut = v.length > maxChars ? `${v.slice(0, maxChars)}…` : v;
      // JSON.stringify escapes C0 controls and lone surrogates; escape every other control,
      // format (bidi, soft hyphen, tags), line and paragraph character as \uXXXX (UTF-16 units).
      return JSON.stringify(cut).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) =>
        Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
      );
    }
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${v}`;
    case 'undefined':
      return 'nothing';
    case 'object':
      return v === null ? 'null' : Array.isArray(v) ? 'an array' : v instanceof Uint8Array ? 'bytes' : 'an object';
    default:
      return `a ${typeof v}`;
  }
}
