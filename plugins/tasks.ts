// tasks: a small task manager, and the model to copy for a stateful plugin.
// Tasks live in a JSON file in the plugin's data folder ($PATCHBAY_HOME/data/tasks), so they
// survive reloads and restarts. Every task is also a resource (task://{id}); when tasks are
// created or deleted the plugin tells clients the resource list changed.
import { readFile, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { definePlugin, z, type PluginContext } from "mcp-patchbay";

const Status = z.enum(["pending", "in-progress", "completed"]);
type Task = { id: string; title: string; description?: string; status: z.infer<typeof Status>; createdAt: string; updatedAt: string };

// One file per plugin data folder; written atomically (temp file + rename).
async function load(ctx: PluginContext): Promise<Task[]> {
  try {
    return JSON.parse(await readFile(join(ctx.dataDir, "tasks.json"), "utf8")) as Task[];
  } catch {
    return [];
  }
}
async function save(ctx: PluginContext, tasks: Task[]): Promise<void> {
  const file = join(ctx.dataDir, "tasks.json");
  await writeFile(`${file}.tmp`, JSON.stringify(tasks, null, 2));
  await rename(`${file}.tmp`, file);
}
function find(tasks: Task[], id: string): Task {
  const task = tasks.find((t) => t.id === id);
  if (!task) throw new Error(`No task with id "${id}"`); // becomes an isError result
  return task;
}

export default definePlugin({
  name: "tasks",
  version: "1.0.0",
  description: "A task manager with tasks as resources",
  tools: {
    create_task: {
      description: "Create a task",
      input: { title: z.string().min(1).describe("short title"), description: z.string().optional() },
      annotations: { destructiveHint: false },
      handler: async ({ title, description }, ctx) => {
        const tasks = await load(ctx);
        const now = new Date().toISOString();
        const task: Task = { id: Math.random().toString(36).slice(2, 10), title, description, status: "pending", createdAt: now, updatedAt: now };
        tasks.push(task);
        await save(ctx, tasks);
        ctx.resourcesChanged(); // a new task://{id} resource exists now
        return task;
      },
    },
    list_tasks: {
      description: "List tasks, optionally only those with one status",
      input: { status: Status.optional() },
      annotations: { readOnlyHint: true },
      handler: async ({ status }, ctx) => {
        const tasks = (await load(ctx)).filter((t) => !status || t.status === status);
        return { tasks };
      },
    },
    update_task_status: {
      description: "Set a task's status",
      input: { id: z.string(), status: Status },
      handler: async ({ id, status }, ctx) => {
        const tasks = await load(ctx);
        const task = find(tasks, id);
        task.status = status;
        task.updatedAt = new Date().toISOString();
        await save(ctx, tasks);
        return task;
      },
    },
    delete_task: {
      description: "Delete a task",
      input: { id: z.string() },
      annotations: { destructiveHint: true },
      handler: async ({ id }, ctx) => {
        const tasks = await load(ctx);
        find(tasks, id);
        await save(ctx, tasks.filter((t) => t.id !== id));
        ctx.resourcesChanged();
        return `Deleted task ${id}`;
      },
    },
  },
  resourceTemplates: {
    "task://{id}": {
      description: "One task as JSON",
      mimeType: "application/json",
      // list() makes every task show up in resources/list.
      list: async (ctx) => (await load(ctx)).map((t) => ({ uri: `task://${t.id}`, name: t.title })),
      read: async (_uri, { id }, ctx) => find(await load(ctx), id),
      complete: { id: async (value, ctx) => (await load(ctx)).map((t) => t.id).filter((id) => id.startsWith(value)) },
    },
  },
  prompts: {
    weekly_review: {
      description: "Review this week's tasks",
      arguments: { include_completed: z.string().optional().describe('"true" to include completed tasks') },
      render: async ({ include_completed }, ctx) => {
        const tasks = (await load(ctx)).filter((t) => include_completed === "true" || t.status !== "completed");
        const lines = tasks.map((t) => `- [${t.status}] ${t.title}${t.description ? ` — ${t.description}` : ""}`);
        return `Here are my tasks:\n${lines.join("\n") || "(none)"}\n\nHelp me review my week: what got done, what is stuck, what to drop.`;
      },
      complete: { include_completed: async () => ["true", "false"] },
    },
    task_prioritization: {
      description: "Prioritize open tasks",
      render: async (_args, ctx) => {
        const open = (await load(ctx)).filter((t) => t.status !== "completed");
        return `Prioritize these open tasks by impact and urgency, and suggest what to do first:\n${open.map((t) => `- ${t.title} (${t.status})`).join("\n") || "(no open tasks)"}`;
      },
    },
  },
});
