/** Object colours (label n uses entry n-1, cycling): distinct on grey CT, as the CLI's previews. */
export const OBJECT_COLOURS: readonly [number, number, number][] = [
  [255, 64, 64],
  [64, 200, 255],
  [255, 200, 0],
  [120, 255, 90],
  [230, 90, 255],
  [255, 140, 40],
  [0, 230, 170],
  [255, 120, 180],
];

export function objectColour(objId: number): [number, number, number] {
  return OBJECT_COLOURS[(objId - 1) % OBJECT_COLOURS.length]!;
}

export function cssColour(objId: number): string {
  const [r, g, b] = objectColour(objId);
  return `rgb(${r}, ${g}, ${b})`;
}
