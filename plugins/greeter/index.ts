// greeter: a folder plugin. index.ts is the entry; it imports a local helper, and editing
// that helper reloads the plugin too (Patchbay watches every file esbuild bundled).
import { definePlugin, z } from "mcp-patchbay";
import { greeting, LANGUAGES } from "./phrases.ts";

export default definePlugin({
  name: "greeter",
  tools: {
    greet: {
      description: "Greet someone in a language",
      input: { name: z.string(), language: z.enum(LANGUAGES).default("en") },
      handler: ({ name, language }) => `${greeting(language)}, ${name}!`,
    },
  },
  prompts: {
    welcome: {
      description: "Write a welcome note",
      arguments: { name: z.string(), language: z.string().optional() },
      render: ({ name, language }) => `Write a short, warm welcome note for ${name}${language ? ` in ${language}` : ""}.`,
      complete: { language: (value) => LANGUAGES.filter((l) => l.startsWith(value)) },
    },
  },
});
