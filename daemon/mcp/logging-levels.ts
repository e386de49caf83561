import type { LoggingLevel } from "@modelcontextprotocol/server";

/** The spec's logging levels, least severe first. */
export const LOGGING_LEVELS: readonly LoggingLevel[] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];
