/** Display windows: the CLI's CT presets (width, level), plus the image's own range. */
export const WINDOW_PRESETS: Record<string, { width: number; level: number } | null> = {
  auto: null,
  abdomen: { width: 400, level: 40 },
  lung: { width: 1500, level: -600 },
  brain: { width: 80, level: 40 },
  mediastinum: { width: 350, level: 50 },
  bone: { width: 1800, level: 400 },
};
