/**
 * The keys a character takes, as the bits of one mask (the game server's `input.keys`, the
 * agent environments' actions and the dataset generator's scripted walks all use it).
 */
export const KEY_BITS = { w: 1, a: 2, s: 4, d: 8, space: 16 } as const;
export type KeyName = keyof typeof KEY_BITS;
/** Every key held. */
export const ALL_KEYS_MASK = 31;
