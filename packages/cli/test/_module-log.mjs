// Registered with --import: logs every module the process resolves (one "load <url>" line on stderr),
// so a test can see what a command really loads.
import { register } from "node:module";

register(
  `data:text/javascript,${encodeURIComponent(`
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (!result.url.startsWith("node:")) process.stderr.write("load " + result.url + "\\n");
  return result;
}`)}`,
);
