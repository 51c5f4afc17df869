import { runCli } from './program.ts';

// The AWS SDK warns on Node 20, on every command that touches AWS, that its releases after January 2027
// will need Node 22; the lockfile pins releases that support Node 20 (README: "Node versions"), so the
// CLI keeps its output to what the user asked for. Set before any AWS client is created.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

process.exitCode = await runCli(process.argv);
