// Keys and signatures as base64url text (RFC 4648 §5, unpadded).
// base64url by hand: the workflow sandbox has neither atob/btoa nor Buffer.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const b64url = {
  decode(s: string): Uint8Array | undefined {
    // A length of 4n+1 is no base64 at all.
    if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length > 200 || s.length % 4 === 1) return undefined;
    const out = new Uint8Array(Math.floor((s.length * 6) / 8));
    let bits = 0;
    let acc = 0;
    let n = 0;
    for (const c of s) {
      acc = (acc << 6) | ALPHABET.indexOf(c);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[n++] = (acc >> bits) & 0xff;
      }
    }
    return out;
  },
  encode(b: Uint8Array): string {
    let s = '';
    let bits = 0;
    let acc = 0;
    for (const byte of b) {
      acc = ((acc << 8) | byte) & 0xffff;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        s += ALPHABET[(acc >> bits) & 63];
      }
    }
    if (bits > 0) s += ALPHABET[(acc << (6 - bits)) & 63];
    return s;
  },
};

export const encodeKey = b64url.encode;
export const decodeKey = b64url.decode;
