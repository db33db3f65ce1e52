/** Text placed in HTML: the five characters that could end an attribute or open a tag, as numeric references. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
