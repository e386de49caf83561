/**
 * Builds the context economy's parts for one daemon: the token counter, Patchbay's two search
 * tools (named with the configured separator), and the cost model that decides each view's
 * expose mode. A mode switch found after exact counts arrive is announced through the
 * registry, so each view's clients hear `list_changed` exactly as for a reload.
 */
import type { Config } from "../config.ts";
import type { Profiles } from "../profiles.ts";
import type { Registry } from "../registry.ts";
import { builtinTools, type BuiltinTools } from "./builtin-tools.ts";
import { ContextCosts } from "./definition-costs.ts";
import { TokenCounter } from "./token-counter.ts";

export interface ContextEconomyParts {
  costs: ContextCosts;
  builtins: BuiltinTools;
  counter: TokenCounter;
  close(): Promise<void>;
}

export function startContextEconomy(config: Pick<Config, "namespaceSeparator" | "expose" | "pin" | "searchThresholdTokens">, registry: Registry, profiles?: Profiles): ContextEconomyParts {
  const counter = new TokenCounter();
  const builtins = builtinTools(config.namespaceSeparator);
  const costs = new ContextCosts({
    registry,
    profiles,
    top: { expose: config.expose, pin: config.pin, searchThresholdTokens: config.searchThresholdTokens },
    counter,
    builtins,
    onModesChanged: (defaultView) => registry.toolViewsChanged(defaultView),
  });
  profiles?.exposeModeOf((p) => costs.mode(p));
  costs.start();
  return {
    costs,
    builtins,
    counter,
    async close() {
      costs.close();
      await counter.close();
    },
  };
}
