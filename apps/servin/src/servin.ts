// The servin binary: all commands live in @servin/cli; this file only runs them.
import { runServin } from "@servin/cli";

await runServin(process.argv.slice(2));
