// Tests are compiled by tsc together with the sources (npm test builds first), so jest runs plain
// JavaScript and the exporter the tests spawn is the very build users run.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/support/count-reporter.js'],
};
