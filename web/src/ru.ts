export const RU: Record<string, string> = {};
