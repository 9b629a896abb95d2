/** The errors of @servin/cni: CriErrors that name the file, plugin or netns involved. */
import { CriError, type CriErrorCode } from "@servin/cri-types";

/** The error JSON a CNI plugin prints on failure (spec "Error"): code, msg, details. */
export interface CniPluginFailure {
  /** CNI error code: 1..99 are the spec's (7 invalid network config, 11 try again later), 100+ the plugin's. */
  code: number;
  msg: string;
  details?: string;
}

/**
 * A CNI plugin invocation that failed: the plugin's own error JSON when it printed one,
 * otherwise its exit status and stderr. The message always names the plugin and command.
 *
 * @example
 * try { await net.setup(pod); } catch (err) { if (err instanceof CniPluginError) console.log(err.plugin, err.failure?.msg); }
 */
export class CniPluginError extends CriError {
  readonly plugin: string;
  readonly command: string;
  readonly failure: CniPluginFailure | undefined;

  constructor(
    plugin: string,
    command: string,
    message: string,
    options: { failure?: CniPluginFailure; code?: CriErrorCode; cause?: unknown } = {},
  ) {
    super(options.code ?? (options.failure?.code === 11 ? "Unavailable" : "Internal"), message, {
      details: options.failure,
      cause: options.cause,
    });
    this.name = "CniPluginError";
    this.plugin = plugin;
    this.command = command;
    this.failure = options.failure;
  }
}

/** A network configuration file that cannot be used; the message names the file and the problem. */
export class CniConfigError extends CriError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super("FailedPrecondition", `cni config ${file}: ${problem}`);
    this.name = "CniConfigError";
    this.file = file;
  }
}
