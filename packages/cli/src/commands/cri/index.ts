import { defineCommand } from "citty";
import { startCommand } from "./start.js";
import { statusCommand } from "./status.js";
import { testCommand } from "./test.js";

export const criCommand = defineCommand({
  meta: { name: "cri", description: "Run and check the CRI server" },
  subCommands: { start: startCommand, status: statusCommand, test: testCommand },
});
