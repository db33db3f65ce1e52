// Tests are compiled by tsc together with the sources (npm test builds first), so jest runs plain
// JavaScript and the exporter the tests spawn is the very build users run. Five tiers, one folder
// each under test/ (`npm run test:<tier>` runs one; `npm test` runs them all, one file at a time):
//   unit    pure code and parsers over captured fixtures, in process: no child process, no root
//   binary  the built CLI and exporter over fixture trees, and the real promtool, amtool, openssl
//   kernel  root: real mounts, tracefs, storms and privileges, in private namespaces
//   e2e     the real Prometheus, Alertmanager, PagerDuty receiver and Chromium, end to end
//   guest   root: Debian's 6.1 and 6.12 kernels booted under qemu, the exporter and storms inside
const tier = (name) => ({
  displayName: name,
  testEnvironment: 'node',
  roots: [`<rootDir>/dist/test/${name}`],
  testMatch: ['**/*.test.js'],
});

module.exports = {
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/support/count-reporter.js'],
  projects: [tier('unit'), tier('binary'), tier('kernel'), tier('e2e'), tier('guest')],
};
