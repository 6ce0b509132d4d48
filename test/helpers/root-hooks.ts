/**
 * Mocha root hooks, loaded for every test run (see .mocharc.json).
 *
 * The test process is an entry point like any other: an unhandled SIGUSR1 would open Node's
 * inspector on 127.0.0.1:9229 as root, so it is handled before any test runs.
 */
process.on('SIGUSR1', () => {
  process.report.writeReport();
});

export const mochaHooks = {};
