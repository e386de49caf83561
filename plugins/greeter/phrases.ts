// A helper module bundled into the greeter plugin.
export const LANGUAGES = ["en", "fr", "de", "es"] as const;
const PHRASES: Record<(typeof LANGUAGES)[number], string> = { en: "Hello", fr: "Bonjour", de: "Hallo", es: "Hola" };
export function greeting(language: (typeof LANGUAGES)[number]): string {
  return PHRASES[language];
}
