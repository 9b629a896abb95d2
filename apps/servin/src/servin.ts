// The servin binary: all commands live in @servin/cli; this file only runs them (from the light
// `main` entry, which loads each command only when it runs).
import { runServin } from "@servin/cli/main";

await runServin(process.argv.slice(2));
