/** The kernel's escaping of a mount point in mountinfo (`#` stays literal there): the parser's round-trip oracle. */
export function escapePath(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}
