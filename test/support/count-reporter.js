// Prints the plain closing line CI reads ("N passed, N failed, N skipped") after jest's own summary.
// Skipped tests are reported apart: a skipped test never counts as passing.
class CountReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed, ${results.numPendingTests + results.numTodoTests} skipped`;
    process.stdout.write(`\n${line}\n`);
    if (process.env.MOUNTSTORM_COUNT_FILE) require('fs').writeFileSync(process.env.MOUNTSTORM_COUNT_FILE, line + '\n');
  }
}
module.exports = CountReporter;
