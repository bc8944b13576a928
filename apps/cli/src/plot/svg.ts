/** Escapes text for SVG element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

/** A number printed for SVG coordinates: at most two decimals, no trailing zeros. */
export function coordinate(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/**
 * Line colours, one per series in order (the Tableau 10 palette: distinct for common colour-vision
 * deficiencies and in greyscale print when paired with the marker shapes).
 */
export const PALETTE: readonly string[] = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
